// http::server: the acceptor, the table of live connections and graceful stop, and the session
// that serves one connection (TLS handshake, keep-alive loop, limits, replies). The session is
// one function over one stream type, TCP or TLS chosen per connection at run time
// (server_stream), so it is compiled once for both.
#include "taskwatch/http/server.hpp"

#include "taskwatch/detail/field_text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <optional>
#include <tuple>
#include <unordered_map>

namespace taskwatch::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// How long a server-initiated TLS close may wait for the peer's close_notify.
constexpr std::chrono::milliseconds tls_close_timeout{1000};
// After the drain deadline, how long forced closes may take to unwind.
constexpr std::chrono::milliseconds force_grace{2000};

// Reads and drops what the peer still sends after our answer and half-close, until it closes
// or tls_close_timeout passes. Unread request bytes would turn the close into a reset that can
// eat the answer.
asio::awaitable<void> discard_until_peer_closes(beast::tcp_stream& lowest) {
    lowest.expires_after(tls_close_timeout);
    std::array<char, 1024> sink{};
    for (;;) {
        auto [rec, rn] = co_await lowest.async_read_some(asio::buffer(sink), use_tuple);
        if (rec) break;
    }
}

bool is_loopback(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
}

} // namespace

// The session's stream: TCP, or TLS over TCP, chosen per connection at run time. With one
// stream type the session and Beast's read and write operations are compiled once, not once
// per layer; what that costs is a well-predicted branch per read or write.
namespace session_detail {
class server_stream {
public:
    using executor_type = beast::tcp_stream::executor_type;

    /// TLS with `tls` when it is not null, else plain TCP.
    server_stream(tcp::socket socket, asio::ssl::context* tls) {
        if (tls)
            tls_.emplace(beast::tcp_stream(std::move(socket)), *tls);
        else
            plain_.emplace(std::move(socket));
    }
    server_stream(const server_stream&) = delete;
    server_stream& operator=(const server_stream&) = delete;

    executor_type get_executor() { return tcp_layer().get_executor(); }
    bool tls() const noexcept { return tls_.has_value(); }
    /// The TCP layer (timeouts, the socket); the lowest layer either way.
    beast::tcp_stream& tcp_layer() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
    /// Valid only when tls().
    beast::ssl_stream<beast::tcp_stream>& tls_layer() noexcept { return *tls_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return initiate(buffers, std::forward<Token>(token),
                        [](auto& s, const auto& b, auto h) { s.async_read_some(b, std::move(h)); });
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return initiate(buffers, std::forward<Token>(token), [](auto& s, const auto& b, auto h) {
            s.async_write_some(b, std::move(h));
        });
    }

private:
    // Starts `op(stream, buffers, handler)` on the layer this connection reads and writes.
    template <class Buffers, class Token, class Op>
    auto initiate(const Buffers& buffers, Token&& token, Op op) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this, op](auto handler, const Buffers& b) {
                if (tls_)
                    op(*tls_, b, std::move(handler));
                else
                    op(*plain_, b, std::move(handler));
            },
            token, buffers);
    }

    std::optional<beast::tcp_stream> plain_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};
} // namespace session_detail

using session_detail::server_stream;

std::string_view request_context::header(bhttp::field name) const {
    auto it = message.find(name);
    return it == message.end() ? std::string_view{} : std::string_view(it->value());
}

std::string_view request_context::header(std::string_view name) const {
    auto it = message.find(name);
    return it == message.end() ? std::string_view{} : std::string_view(it->value());
}

expected<tcp::endpoint, std::string> parse_listen_address(std::string_view s) {
    std::string_view host, port;
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return unexpected(std::string("listen address '") + std::string(s) +
                              "': expected [v6-address]:port");
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string_view::npos)
            return unexpected(std::string("listen address '") + std::string(s) +
                              "': expected host:port");
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
    }
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || p > 65535)
        return unexpected(std::string("listen address '") + std::string(s) + "': bad port '" +
                          std::string(port) + "'");
    asio::ip::address addr;
    if (host.empty()) {
        addr = asio::ip::address_v4::any();
    } else if (host == "localhost") {
        addr = asio::ip::address_v4::loopback();
    } else {
        boost::system::error_code aec;
        addr = asio::ip::make_address(host, aec);
        if (aec)
            return unexpected(std::string("listen address '") + std::string(s) + "': '" +
                              std::string(host) + "' is not an IP address");
    }
    return tcp::endpoint(addr, static_cast<std::uint16_t>(p));
}

std::shared_ptr<asio::ssl::context> make_server_tls_context(const std::string& cert_chain_file,
                                                            const std::string& key_file) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_chain_file, ec);
    if (ec) throw server_error("TLS certificate chain '" + cert_chain_file + "': " + ec.message());
    ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
    if (ec) throw server_error("TLS private key '" + key_file + "': " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        throw server_error("TLS private key '" + key_file + "' does not match certificate '" +
                           cert_chain_file + "'");
    return ctx;
}

// One live connection as the server sees it, to close it on stop.
namespace session_detail {
struct connection_entry {
    asio::cancellation_signal cancel;
    beast::tcp_stream* lowest = nullptr; ///< set while the session runs
    /// The TLS context the connection's stream was made from: the stream's SSL and its verify
    /// callback need it for as long as the connection lives, even after a reload replaced it.
    std::shared_ptr<asio::ssl::context> tls_context;
    bool idle = true; ///< waiting for a request, or for a taken-over peer to leave
};
} // namespace session_detail

using session_detail::connection_entry;

struct server::impl : std::enable_shared_from_this<server::impl> {
    impl(asio::any_io_executor ex, server_options o, handler h)
        : executor(ex)
        , opts(std::move(o))
        , on_request(std::move(h))
        , acceptor(ex)
        , drained(ex) {
        if (!opts.log)
            opts.log = [](std::string_view line) {
                std::fprintf(stderr, "http server: %.*s\n", static_cast<int>(line.size()),
                             line.data());
            };
    }

    asio::any_io_executor executor;
    server_options opts;
    handler on_request;
    tcp::acceptor acceptor;
    tcp::endpoint bound;
    server_stats counters;
    std::uint64_t next_id = 0;
    std::unordered_map<std::uint64_t, std::shared_ptr<connection_entry>> connections;
    bool stopping = false;
    asio::steady_timer drained; ///< cancelled when the last connection ends during a stop

    void log(const std::string& line) const { opts.log(line); }

    bool uses_tls() const { return opts.tls_provider || opts.tls; }

    // The context for a new connection; null when there is none to be had (logged).
    std::shared_ptr<asio::ssl::context> tls_context_for_new_connection() {
        if (!opts.tls_provider) return opts.tls;
        try {
            return opts.tls_provider();
        } catch (const std::exception& e) {
            log(std::string("TLS context for a new connection: ") + e.what());
            return nullptr;
        }
    }

    void connection_ended(std::uint64_t id) {
        connections.erase(id);
        counters.connections_active = connections.size();
        if (stopping && connections.empty()) drained.cancel();
    }

    void close_all(bool only_idle) {
        for (auto& [id, c] : connections) {
            if (only_idle && !c->idle) continue;
            if (!only_idle) c->cancel.emit(asio::cancellation_type::terminal);
            if (c->lowest) {
                boost::system::error_code ec;
                c->lowest->socket().close(ec);
            }
        }
    }

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> run_connection(tcp::socket socket,
                                         std::shared_ptr<connection_entry> entry, std::uint64_t id,
                                         tcp::endpoint remote);
    asio::awaitable<void> answer_plain_http(beast::tcp_stream& lowest);
    asio::awaitable<void> graceful_close(server_stream& stream);
    asio::awaitable<void> reject(server_stream& stream, bhttp::status status, std::string_view why);
    asio::awaitable<void> stop(std::chrono::milliseconds drain);

    // A completion handler for co_spawn that logs what escaped.
    auto spawn_done(std::string what) {
        return [self = shared_from_this(), what = std::move(what)](std::exception_ptr ep) {
            if (!ep) return;
            try {
                std::rethrow_exception(ep);
            } catch (const boost::system::system_error& e) {
                if (e.code() != asio::error::operation_aborted) self->log(what + ": " + e.what());
            } catch (const std::exception& e) {
                self->log(what + ": " + e.what());
            }
        };
    }
};

namespace {

// Closes the socket with a TCP reset: SO_LINGER 0 turns close() into RST.
void reset_socket(beast::tcp_stream& lowest) {
    boost::system::error_code ec;
    lowest.socket().set_option(asio::socket_base::linger(true, 0), ec);
    lowest.socket().close(ec);
}

server_response error_response(bhttp::status status, unsigned version, std::string_view text) {
    server_response res{status, version};
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = std::string(text);
    res.body() += '\n';
    res.keep_alive(false);
    res.prepare_payload();
    return res;
}

// Why a request's head cannot be served, when it cannot.
struct rejection {
    bhttp::status status;
    std::string_view why;
};

// RFC 9112 6.1 and 6.3: the body's length must be beyond doubt, or a proxy in front of us and
// we may disagree on where the next request starts (request smuggling). We decode exactly one
// transfer coding, a final `chunked`; Beast alone would take `xchunked` or `chunked, identity`
// as "no body" and read what follows as the next request. Duplicate Content-Length values
// that differ are Beast's to reject (multiple_content_length).
std::optional<rejection> check_request_head(const server_request& req, std::size_t target_limit) {
    if (req.target().size() > target_limit)
        return rejection{bhttp::status::uri_too_long, "request-target too long"};
    auto [first, last] = req.equal_range(bhttp::field::transfer_encoding);
    if (first == last) return std::nullopt;
    if (req.version() < 11)
        return rejection{bhttp::status::bad_request, "Transfer-Encoding in an HTTP/1.0 request"};
    if (req.find(bhttp::field::content_length) != req.end())
        return rejection{bhttp::status::bad_request, "both Transfer-Encoding and Content-Length"};
    std::size_t codings = 0, chunked = 0;
    bool chunked_last = false;
    for (auto it = first; it != last; ++it) {
        std::string_view rest = it->value();
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const auto coding = detail::trim_ows(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            if (coding.empty()) continue; // "a, , b": empty list elements do not count
            ++codings;
            chunked_last = beast::iequals(coding, "chunked");
            if (chunked_last) ++chunked;
        }
    }
    if (codings == 0 || !chunked_last || chunked > 1)
        return rejection{bhttp::status::bad_request,
                         "Transfer-Encoding must be chunked, once and last"};
    if (codings > 1)
        return rejection{bhttp::status::not_implemented,
                         "no transfer coding but chunked is implemented"};
    return std::nullopt;
}

// After a header_limit error before the request line was parsed: whether the request-target
// alone is over the limit (414, not 431). `head` is what was read of the request; the target
// may not have ended yet.
bool target_over_limit(std::string_view head, std::size_t target_limit) {
    while (head.starts_with("\r\n"))
        head.remove_prefix(2); // RFC 9112 2.2: empty lines before a request are ignored
    const auto line_end = head.find("\r\n");
    head = head.substr(0, line_end);
    const auto method_end = head.find(' ');
    if (method_end == std::string_view::npos) return false;
    auto target = head.substr(method_end + 1);
    target = target.substr(0, target.find(' '));
    return target.size() > target_limit;
}

// Unregisters a connection when its coroutine frame goes away, however it ends.
struct tcp_registration {
    connection_entry& entry;
    ~tcp_registration() { entry.lowest = nullptr; }
};

} // namespace

asio::awaitable<boost::system::error_code> raw_connection::async_write(asio::const_buffer bytes) {
    stream_.tcp_layer().expires_after(write_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, bytes, use_tuple);
    co_return ec;
}

asio::awaitable<void> raw_connection::async_wait_closed() {
    entry_.idle = true;
    stream_.tcp_layer().expires_never();
    std::array<char, 512> sink{};
    for (;;) {
        auto [ec, n] = co_await stream_.async_read_some(asio::buffer(sink), use_tuple);
        if (ec) break;
    }
    entry_.idle = false;
}

void raw_connection::abort() noexcept {
    reset_socket(stream_.tcp_layer());
}

asio::awaitable<void> server::impl::graceful_close(server_stream& stream) {
    auto& lowest = stream.tcp_layer();
    if (stream.tls()) {
        lowest.expires_after(tls_close_timeout);
        co_await stream.tls_layer().async_shutdown(use_tuple);
    }
    boost::system::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest.socket().close(ec);
}

// Answers a request that will not be served with `status` and closes the connection: what
// follows the head cannot be trusted to be the next request.
asio::awaitable<void> server::impl::reject(server_stream& stream, bhttp::status status,
                                           std::string_view why) {
    auto& lowest = stream.tcp_layer();
    auto res = error_response(status, 11, why);
    lowest.expires_after(opts.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, use_tuple);
    if (!stream.tls() && !wec) {
        boost::system::error_code ec;
        lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
        co_await discard_until_peer_closes(lowest);
        lowest.socket().close(ec);
        co_return;
    }
    co_await graceful_close(stream);
}

// What Go's net/http answers too, so `curl http://` on the TLS port says what is wrong.
asio::awaitable<void> server::impl::answer_plain_http(beast::tcp_stream& lowest) {
    static constexpr std::string_view answer =
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    lowest.expires_after(opts.write_timeout);
    auto [wec, wn] =
        co_await asio::async_write(lowest, asio::buffer(answer.data(), answer.size()), use_tuple);
    boost::system::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!wec) co_await discard_until_peer_closes(lowest);
    lowest.socket().close(ec);
}

asio::awaitable<void> server::impl::run_connection(tcp::socket socket,
                                                   std::shared_ptr<connection_entry> entry,
                                                   std::uint64_t id, tcp::endpoint remote) {
    auto self = shared_from_this(); // keeps the server state alive while this runs
    server_stream stream(std::move(socket), entry->tls_context.get());
    auto& lowest = stream.tcp_layer();
    entry->lowest = &lowest;
    tcp_registration registration{*entry};
    const bool loopback = is_loopback(remote.address());

    if (stream.tls()) {
        entry->idle = false;
        lowest.expires_after(opts.handshake_timeout);
        // Look at the first bytes: a plain HTTP request gets a plain answer, not a TLS alert.
        beast::flat_buffer hello;
        auto [dec, is_tls] = co_await beast::async_detect_ssl(lowest, hello, use_tuple);
        if (dec || !is_tls) {
            ++counters.handshakes_failed;
            if (dec == beast::error::timeout) ++counters.timeouts;
            const auto first =
                hello.size() > 0 ? *static_cast<const unsigned char*>(hello.data().data()) : 0u;
            if (!dec && first >= 'A' && first <= 'Z') {
                ++counters.plain_http_on_tls;
                co_await answer_plain_http(lowest);
            }
            co_return;
        }
        auto [ec, used] = co_await stream.tls_layer().async_handshake(
            asio::ssl::stream_base::server, hello.data(), use_tuple);
        if (ec) {
            ++counters.handshakes_failed;
            if (ec == beast::error::timeout) ++counters.timeouts;
            co_return;
        }
    }

    beast::flat_buffer buffer;
    std::uint64_t count = 0;
    for (;;) {
        entry->idle = true;
        if (stopping) break;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(opts.body_limit);
        parser.header_limit(opts.header_limit);
        lowest.expires_after(opts.request_timeout);
        auto [rec, rn] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
        entry->idle = false;
        if (!rec) {
            // The head is in: refuse what we cannot frame or serve before reading any body.
            if (auto no = check_request_head(parser.get(), opts.target_limit)) {
                ++counters.bad_requests;
                co_await reject(stream, no->status, no->why);
                co_return;
            }
            if (!parser.is_done())
                std::tie(rec, rn) = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
        }
        if (rec) {
            if (rec == bhttp::error::end_of_stream) {
                co_await graceful_close(stream);
                co_return;
            }
            if (rec == beast::error::timeout) {
                ++counters.timeouts;
                co_return;
            }
            if (rec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category()) {
                // A malformed or oversized request: say why, then close.
                ++counters.bad_requests;
                if (rec == bhttp::error::partial_message) co_return; // peer went away mid-request
                // Beast keeps the request line once it has it; before, it is in the buffer.
                const auto target = parser.get().target();
                if (rec == bhttp::error::header_limit &&
                    (target.empty() ? target_over_limit(std::string_view(static_cast<const char*>(
                                                                             buffer.data().data()),
                                                                         buffer.size()),
                                                        opts.target_limit)
                                    : target.size() > opts.target_limit)) {
                    co_await reject(stream, bhttp::status::uri_too_long, "request-target too long");
                    co_return;
                }
                auto status = rec == bhttp::error::body_limit ? bhttp::status::payload_too_large
                              : rec == bhttp::error::header_limit
                                  ? bhttp::status::request_header_fields_too_large
                                  : bhttp::status::bad_request;
                co_await reject(stream, status, rec.message());
            }
            co_return; // reset, aborted by stop, TLS error: nothing to answer
        }
        ++counters.requests;
        server_request& req = parser.get();
        request_context ctx{req, remote, loopback, stream.tls(), id, ++count};

        reply r;
        try {
            r = co_await on_request(ctx);
        } catch (const boost::system::system_error& e) {
            if (e.code() == asio::error::operation_aborted && stopping) co_return;
            ++counters.handler_errors;
            log(std::string("handler failed for ") + std::string(req.target()) + ": " + e.what());
            r = reply::respond(error_response(bhttp::status::internal_server_error, req.version(),
                                              "internal error"));
        } catch (const std::exception& e) {
            ++counters.handler_errors;
            log(std::string("handler failed for ") + std::string(req.target()) + ": " + e.what());
            r = reply::respond(error_response(bhttp::status::internal_server_error, req.version(),
                                              "internal error"));
        }
        if (!entry->lowest) co_return; // closed by a forced stop while the handler ran

        if (r.takeover) {
            raw_connection conn(stream, *entry, opts.write_timeout);
            try {
                co_await r.takeover(conn);
            } catch (const boost::system::system_error& e) {
                if (e.code() == asio::error::operation_aborted && stopping) co_return;
                ++counters.handler_errors;
                log(std::string("takeover failed for ") + std::string(req.target()) + ": " +
                    e.what());
            } catch (const std::exception& e) {
                ++counters.handler_errors;
                log(std::string("takeover failed for ") + std::string(req.target()) + ": " +
                    e.what());
            }
            if (lowest.socket().is_open()) co_await graceful_close(stream);
            co_return;
        }

        auto& res = r.response;
        res.version(req.version());
        const bool keep = req.keep_alive() && !stopping;
        res.keep_alive(keep);
        if (!opts.server_header.empty()) res.set(bhttp::field::server, opts.server_header);
        if (r.stream && req.version() >= 11) {
            // Chunked: the head now, then a chunk per piece; pieces are made between writes.
            res.chunked(true);
            bhttp::response<bhttp::empty_body> head{std::move(res.base())};
            bhttp::response_serializer<bhttp::empty_body> sr{head};
            lowest.expires_after(opts.write_timeout);
            auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, use_tuple);
            if (hec) {
                if (hec == beast::error::timeout) ++counters.timeouts;
                co_return;
            }
            if (req.method() != bhttp::verb::head) {
                std::string piece;
                for (bool more = true; more;) {
                    piece.clear();
                    more = r.stream(piece);
                    if (piece.empty()) continue;
                    lowest.expires_after(opts.write_timeout);
                    auto [cec, cn] = co_await asio::async_write(
                        stream, bhttp::make_chunk(asio::buffer(piece)), use_tuple);
                    if (cec) {
                        if (cec == beast::error::timeout) ++counters.timeouts;
                        co_return;
                    }
                }
                lowest.expires_after(opts.write_timeout);
                auto [lec, ln] =
                    co_await asio::async_write(stream, bhttp::make_chunk_last(), use_tuple);
                if (lec) co_return;
            }
            if (!keep) {
                co_await graceful_close(stream);
                co_return;
            }
            continue;
        }
        if (r.stream) {
            // HTTP/1.0 has no chunks: the whole body at once.
            res.body().clear();
            while (r.stream(res.body())) {
            }
        }
        if (req.method() == bhttp::verb::head) {
            // HEAD: the GET's headers, Content-Length included, and no body.
            auto length = res.body().size();
            res.body().clear();
            res.content_length(length);
        } else {
            res.prepare_payload();
        }
        lowest.expires_after(opts.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, res, use_tuple);
        if (wec) {
            if (wec == beast::error::timeout) ++counters.timeouts;
            co_return;
        }
        if (!keep) {
            co_await graceful_close(stream);
            co_return;
        }
    }
    co_await graceful_close(stream);
}

asio::awaitable<void> server::impl::accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer pause(executor);
    while (!stopping) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) co_return;
            log("accept on " + bound.address().to_string() + ":" + std::to_string(bound.port()) +
                ": " + ec.message());
            // Out of descriptors and the like: back off instead of spinning.
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        ++counters.connections_accepted;
        if (connections.size() >= opts.max_connections) {
            ++counters.connections_rejected;
            boost::system::error_code sec;
            socket.set_option(asio::socket_base::linger(true, 0), sec);
            socket.close(sec);
            continue;
        }
        boost::system::error_code sec;
        socket.set_option(tcp::no_delay(true), sec);
        auto remote = socket.remote_endpoint(sec);
        if (sec) continue; // the peer is already gone

        std::shared_ptr<asio::ssl::context> tls_ctx;
        if (uses_tls()) {
            tls_ctx = tls_context_for_new_connection();
            if (!tls_ctx) {
                ++counters.handshakes_failed;
                socket.close(sec);
                continue;
            }
        }

        const auto id = ++next_id;
        auto entry = std::make_shared<connection_entry>();
        entry->tls_context = tls_ctx;
        connections.emplace(id, entry);
        counters.connections_active = connections.size();
        auto done = [self, id, log_escape = spawn_done("connection")](std::exception_ptr ep) {
            log_escape(ep);
            self->connection_ended(id);
        };
        asio::co_spawn(executor, run_connection(std::move(socket), entry, id, remote),
                       asio::bind_cancellation_slot(entry->cancel.slot(), std::move(done)));
    }
}

asio::awaitable<void> server::impl::stop(std::chrono::milliseconds drain) {
    auto self = shared_from_this();
    if (!stopping) {
        stopping = true;
        boost::system::error_code ec;
        acceptor.close(ec);
    }
    close_all(/*only_idle=*/true);
    if (!connections.empty()) {
        drained.expires_after(drain);
        co_await drained.async_wait(use_tuple);
    }
    if (!connections.empty()) {
        close_all(/*only_idle=*/false);
        drained.expires_after(force_grace);
        co_await drained.async_wait(use_tuple);
    }
    if (!connections.empty())
        log(std::to_string(connections.size()) + " connection(s) still unwinding after stop");
}

server::server(asio::any_io_executor ex, server_options opts, handler h)
    : impl_(std::make_shared<impl>(ex, std::move(opts), std::move(h))) {}

server::~server() {
    if (!impl_) return;
    impl_->stopping = true;
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    impl_->close_all(/*only_idle=*/false);
}

void server::start() {
    auto& a = impl_->acceptor;
    const auto& ep = impl_->opts.listen;
    auto where = [&] {
        return (ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                     : ep.address().to_string()) +
               ":" + std::to_string(ep.port());
    };
    boost::system::error_code ec;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw server_error("cannot listen on " + where() + ": " + ec.message());
    impl_->bound = a.local_endpoint(ec);
    asio::co_spawn(impl_->executor, impl_->accept_loop(), impl_->spawn_done("accept loop"));
}

tcp::endpoint server::local_endpoint() const {
    return impl_->bound;
}
bool server::tls() const noexcept {
    return impl_->uses_tls();
}

asio::awaitable<void> server::async_stop(std::chrono::milliseconds drain) {
    return impl_->stop(drain);
}

void server::stop(std::chrono::milliseconds drain, std::function<void()> done) {
    auto log_escape = impl_->spawn_done("stop");
    asio::co_spawn(impl_->executor, impl_->stop(drain),
                   [log_escape, done = std::move(done)](std::exception_ptr ep) {
                       log_escape(ep);
                       if (done) done();
                   });
}

server_stats server::stats() const {
    auto s = impl_->counters;
    s.connections_active = impl_->connections.size();
    return s;
}

} // namespace taskwatch::http
