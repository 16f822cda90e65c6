// The HTTPS client's TLS stream: see tls_stream.hpp.
#include "taskwatch/http/tls_stream.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/buffer.h>
#include <openssl/err.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <new>
#include <utility>

namespace taskwatch::http {
namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {

// One socket read: small while answers are small (a poll's, under 2 KiB with its headers, comes
// in one), a whole TLS record (16 KiB and its overhead) once a read filled it, until the
// exchange ends (trim). A large answer (a listing page) then costs a few reads, not dozens, and
// an idle connection does not keep the room it needed.
constexpr std::size_t small_input = 4 * 1024;
constexpr std::size_t large_input = 17 * 1024;

// What Asio's ssl engine makes of a failed OpenSSL call (engine::perform), so that messages
// and error classes stay those of asio::ssl::stream. Reads the thread's OpenSSL error queue.
error_code failure_of(int ssl_error) {
    if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof; // the peer's close_notify
    const auto code = static_cast<int>(ERR_get_error());
    if (ssl_error == SSL_ERROR_SSL || (ssl_error == SSL_ERROR_SYSCALL && code != 0))
        return {code, asio::error::get_ssl_category()};
    if (ssl_error == SSL_ERROR_SYSCALL) return asio::ssl::error::unspecified_system_error;
    return asio::ssl::error::unexpected_result;
}

[[noreturn]] void throw_openssl(const char* what) {
    throw boost::system::system_error(
        error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()), what);
}

} // namespace

tls_stream::tls_stream(const executor_type& ex, asio::ssl::context& ctx)
    : socket_(ex)
    , in_(std::make_unique_for_overwrite<unsigned char[]>(small_input))
    , in_size_(small_input) {
    ssl_ = SSL_new(ctx.native_handle());
    if (ssl_ == nullptr) throw_openssl("SSL_new");
    in_bio_ = BIO_new(BIO_s_mem());
    out_bio_ = BIO_new(BIO_s_mem());
    if (in_bio_ == nullptr || out_bio_ == nullptr) {
        BIO_free(in_bio_);
        BIO_free(out_bio_);
        SSL_free(ssl_);
        throw_openssl("BIO_new");
    }
    // Empty is "not yet" (want input), not the end of the stream.
    BIO_set_mem_eof_return(in_bio_, -1);
    BIO_set_mem_eof_return(out_bio_, -1);
    SSL_set_bio(ssl_, in_bio_, out_bio_);
    SSL_set_connect_state(ssl_);
    // Between requests a connection holds no record buffers (~34 KiB of them): a poll uses its
    // connection for one short exchange, then idles.
    SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
}

tls_stream::~tls_stream() {
    SSL_free(ssl_); // and both BIOs; the socket closes itself
}

tls_stream::step tls_stream::handshake_step(error_code& ec) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    step result = step::done;
    ec = {};
    if (r != 1) {
        const int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_WANT_READ) {
            result = step::want_input;
        } else {
            ec = failure_of(err);
            result = step::failed;
        }
    }
    take_output(); // records to send, an alert on failure included
    return result;
}

tls_stream::step tls_stream::read_step(asio::mutable_buffer into, std::size_t& got,
                                       error_code& ec) {
    auto* const data = static_cast<unsigned char*>(into.data());
    got = 0;
    ec = {};
    step result = step::done;
    if (deferred_) { // met by the last read, after the bytes it returned
        ec = std::exchange(deferred_, {});
        return step::failed;
    }
    ERR_clear_error();
    // Every record already received, while there is room: a head and a body written apart
    // but received together are one read, not two.
    while (got < into.size()) {
        const int want = static_cast<int>(std::min<std::size_t>(into.size() - got, INT_MAX));
        const int r = SSL_read(ssl_, data + got, want);
        if (r > 0) {
            got += static_cast<std::size_t>(r);
            continue;
        }
        const int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_WANT_READ) {
            if (got == 0) result = step::want_input;
        } else if (got == 0) {
            ec = failure_of(err);
            result = step::failed;
        } else {
            deferred_ = failure_of(err); // the bytes before it come first
        }
        break;
    }
    // TLS 1.3 may answer while reading (a key update): it goes out now or with the next write.
    if (BIO_ctrl_pending(out_bio_) != 0) {
        take_output();
        (void)send_some(); // a failure shows on the next write
    }
    return result;
}

asio::mutable_buffer tls_stream::input_space() noexcept {
    return asio::buffer(in_.get(), in_size_);
}

void tls_stream::received(std::size_t n) {
    // A memory BIO takes any amount (it grows), so this never falls short.
    if (n != 0) BIO_write(in_bio_, in_.get(), static_cast<int>(n));
    // A full read: more may be waiting. The bytes are in the BIO, so nothing is copied over.
    if (n == in_size_ && in_size_ < large_input) {
        in_ = std::make_unique_for_overwrite<unsigned char[]>(large_input);
        in_size_ = large_input;
    }
}

void tls_stream::trim() noexcept {
    if (in_size_ > small_input) {
        if (auto* small = new (std::nothrow) unsigned char[small_input]) { // else keep the large
            in_.reset(small);
            in_size_ = small_input;
        }
    }
    // A memory BIO keeps the largest size it grew to; an empty one is replaced by a new one.
    BUF_MEM* held = nullptr;
    if (BIO_ctrl_pending(in_bio_) != 0 || BIO_get_mem_ptr(in_bio_, &held) <= 0 || held == nullptr ||
        held->max <= 2 * small_input)
        return;
    BIO* fresh = BIO_new(BIO_s_mem());
    if (fresh == nullptr) return; // keep the old one
    BIO_set_mem_eof_return(fresh, -1);
    SSL_set0_rbio(ssl_, fresh); // frees the old one
    in_bio_ = fresh;
}

error_code tls_stream::transport_ended(const error_code& ec) const {
    if (ec != asio::error::eof) return ec;
    // As Asio's engine: the TCP stream ended without the peer's close_notify, or with records
    // left unread, so the data may have been cut short.
    if (BIO_ctrl_pending(in_bio_) != 0 || (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0)
        return asio::ssl::error::stream_truncated;
    return ec;
}

void tls_stream::take_output() {
    const std::size_t pending = BIO_ctrl_pending(out_bio_);
    if (pending == 0) return;
    const std::size_t old = out_.size();
    out_.resize(old + pending);
    const int n = BIO_read(out_bio_, out_.data() + old, static_cast<int>(pending));
    out_.resize(old + static_cast<std::size_t>(std::max(n, 0)));
}

void tls_stream::output_sent(std::size_t n) noexcept {
    out_sent_ += n;
    if (out_sent_ >= out_.size()) {
        out_.clear();
        out_sent_ = 0;
    }
}

error_code tls_stream::send_some() noexcept {
    while (output_pending()) {
        const auto rest = pending_output();
        const auto n =
            ::send(socket_.native_handle(), rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            output_sent(static_cast<std::size_t>(n));
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
        return {errno, asio::error::get_system_category()};
    }
    return {};
}

tls_stream::write_result tls_stream::write_now(std::string_view data) {
    write_result res;
    ERR_clear_error();
    while (!data.empty()) {
        const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
        const int r = SSL_write(ssl_, data.data(), chunk);
        if (r <= 0) {
            res.ec = failure_of(SSL_get_error(ssl_, r));
            break;
        }
        data.remove_prefix(static_cast<std::size_t>(r));
    }
    take_output();
    const std::size_t before = out_.size() - out_sent_;
    if (auto ec = send_some(); !res.ec) res.ec = ec;
    res.sent = before - (out_.size() - out_sent_);
    return res;
}

} // namespace taskwatch::http
