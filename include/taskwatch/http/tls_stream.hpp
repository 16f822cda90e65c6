// The HTTPS client's TLS stream: one OpenSSL SSL object over a TCP socket, records read from
// the socket into one reused buffer and sent straight from the SSL object's output. A request
// is written without a handler of its own when the socket takes it at once (it nearly always
// does), and a read decrypts every record already received. Asio's ssl::stream pays for its
// generality (any transport, concurrent reads and writes) with an operation, a handler and two
// buffer copies a record, each way. Client side only; one read and one write at a time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace taskwatch::http {

class tls_stream {
public:
    using executor_type = boost::asio::any_io_executor;
    using socket_type = boost::asio::ip::tcp::socket;
    using error_code = boost::system::error_code;

    /// Throws boost::system::system_error when OpenSSL cannot make the SSL object.
    tls_stream(const executor_type& ex, boost::asio::ssl::context& ctx);
    ~tls_stream();
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;

    socket_type& next_layer() noexcept { return socket_; }
    SSL* native_handle() noexcept { return ssl_; }
    executor_type get_executor() noexcept { return socket_.get_executor(); }

    /// The client handshake (peer identity set on native_handle() first). Completes with
    /// void(error_code): OpenSSL's error in Asio's ssl category, as asio::ssl::stream does.
    template <class Token> auto async_handshake(Token&& token) {
        return boost::asio::async_compose<Token, void(error_code)>(handshake_op{*this}, token,
                                                                   socket_);
    }

    struct write_result {
        error_code ec;
        std::size_t sent = 0; ///< bytes of TLS records the socket took
    };
    /// Encrypts `data` and sends what the socket takes now, never waiting. The rest, if any,
    /// is output_pending(): async_flush sends it.
    write_result write_now(std::string_view data);
    bool output_pending() const noexcept { return out_sent_ < out_.size(); }
    /// Sends the pending output. Completes with void(error_code, bytes sent).
    template <class Token> auto async_flush(Token&& token) {
        return boost::asio::async_compose<Token, void(error_code, std::size_t)>(flush_op{*this},
                                                                                token, socket_);
    }

    /// Between exchanges: gives back the room a large answer made (a read buffer grown for it,
    /// the input BIO grown to hold its records), so an idle connection keeps a few KiB.
    void trim() noexcept;

    /// AsyncReadStream: decrypted bytes into the first non-empty buffer, every record already
    /// received when there is room, else what the next socket read brings. An end of the TCP
    /// stream without the peer's close_notify is ssl::error::stream_truncated; with it, eof.
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
            read_op{*this, first_nonempty(buffers)}, token, socket_);
    }

private:
    enum class step { done, want_input, failed };

    template <class Buffers> static boost::asio::mutable_buffer first_nonempty(const Buffers& b) {
        for (auto it = boost::asio::buffer_sequence_begin(b);
             it != boost::asio::buffer_sequence_end(b); ++it)
            if (boost::asio::mutable_buffer m(*it); m.size() != 0) return m;
        return {};
    }

    step handshake_step(error_code& ec);
    step read_step(boost::asio::mutable_buffer into, std::size_t& got, error_code& ec);
    boost::asio::mutable_buffer input_space() noexcept;
    void received(std::size_t n);
    error_code transport_ended(const error_code& ec) const;
    void take_output();
    error_code send_some() noexcept;
    boost::asio::const_buffer pending_output() const noexcept {
        return boost::asio::buffer(out_.data() + out_sent_, out_.size() - out_sent_);
    }
    void output_sent(std::size_t n) noexcept;

    // The operations' states. An operation that completes before it waited for anything
    // completes through a post, as Asio's rules ask of every initiating function.
    struct flush_op {
        tls_stream& s;
        bool waited = false;
        template <class Self> void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
            if (!waited && s.output_pending()) {
                waited = true;
                boost::asio::async_write(s.socket_, s.pending_output(), std::move(self));
                return;
            }
            if (!waited) {
                waited = true;
                boost::asio::post(std::move(self));
                return;
            }
            s.output_sent(n);
            self.complete(ec, n);
        }
    };

    struct handshake_op {
        tls_stream& s;
        enum class at { start, writing, reading, finishing } where = at::start;
        step last = step::want_input;
        error_code result;
        template <class Self> void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
            switch (where) {
            case at::finishing:
                self.complete(result);
                return;
            case at::writing:
                s.output_sent(n);
                // A failed handshake's alert that cannot be sent: the handshake's error counts.
                if (ec) {
                    self.complete(last == step::failed ? result : ec);
                    return;
                }
                break;
            case at::reading:
                if (ec) {
                    self.complete(s.transport_ended(ec));
                    return;
                }
                s.received(n);
                last = s.handshake_step(result);
                break;
            case at::start:
                last = s.handshake_step(result);
                break;
            }
            if (s.output_pending()) {
                where = at::writing;
                boost::asio::async_write(s.socket_, s.pending_output(), std::move(self));
                return;
            }
            if (last == step::want_input) {
                where = at::reading;
                s.socket_.async_read_some(s.input_space(), std::move(self));
                return;
            }
            if (where == at::start) { // done without waiting: only a failure can be so quick
                where = at::finishing;
                boost::asio::post(std::move(self));
                return;
            }
            self.complete(result);
        }
    };

    struct read_op {
        tls_stream& s;
        boost::asio::mutable_buffer into;
        enum class at { start, reading, finishing } where = at::start;
        std::size_t got = 0;
        error_code result;
        template <class Self> void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
            switch (where) {
            case at::finishing:
                self.complete(result, got);
                return;
            case at::reading:
                if (ec) {
                    self.complete(s.transport_ended(ec), 0);
                    return;
                }
                s.received(n);
                break;
            case at::start:
                break;
            }
            if (into.size() == 0 || s.read_step(into, got, result) != step::want_input) {
                if (where == at::start) {
                    where = at::finishing;
                    boost::asio::post(std::move(self));
                    return;
                }
                self.complete(result, got);
                return;
            }
            where = at::reading;
            s.socket_.async_read_some(s.input_space(), std::move(self));
        }
    };

    socket_type socket_;
    SSL* ssl_ = nullptr;
    BIO* in_bio_ = nullptr;               // records received, not yet decrypted (owned by ssl_)
    BIO* out_bio_ = nullptr;              // records made, not yet taken into out_ (owned by ssl_)
    std::unique_ptr<unsigned char[]> in_; // one socket read (in_size_ bytes)
    std::size_t in_size_ = 0;
    std::string out_; // records to send; capacity kept
    std::size_t out_sent_ = 0;
    error_code deferred_; // a read's failure met after the bytes it returned
};

} // namespace taskwatch::http
