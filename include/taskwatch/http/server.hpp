// HTTP(S) server core: Beast on coroutines, one io_context thread, keep-alive, limits and
// deadlines for untrusted clients, graceful stop. A handler answers with a response, a body
// made piece by piece, or by taking the connection over to write what it wants.
// Not thread-safe: every call is made on the io_context's thread, like everything on it.
#pragma once

#include "taskwatch/detail/expected.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace taskwatch::http {

using server_request = boost::beast::http::request<boost::beast::http::string_body>;
using server_response = boost::beast::http::response<boost::beast::http::string_body>;

/// What a handler sees of one request. Views are valid until the handler's awaitable completes.
struct request_context {
    const server_request& message; ///< method, target, headers, body
    boost::asio::ip::tcp::endpoint remote;
    bool remote_is_loopback = false;
    bool tls = false;
    std::uint64_t connection_id = 0;         ///< 1, 2, ... in accept order
    std::uint64_t request_on_connection = 0; ///< 1 for the first request on a connection

    boost::beast::http::verb method() const { return message.method(); }
    std::string_view target() const { return message.target(); }
    std::string_view body() const { return message.body(); }
    /// The value of header `name`, or "" when absent.
    std::string_view header(boost::beast::http::field name) const;
    std::string_view header(std::string_view name) const;
};

/// A body produced piece by piece: each call appends the next piece to `out` and returns
/// false once nothing more follows. HTTP/1.1 clients get it with chunked transfer encoding,
/// one chunk per piece, and other work on the io_context runs between pieces; HTTP/1.0 clients
/// get it whole. Memory stays at one piece however large the body.
using body_stream = std::function<bool(std::string& out)>;

namespace session_detail {
class server_stream;
struct connection_entry;
} // namespace session_detail

/// A connection lent to a handler that took it over (reply::take_over), for as long as its
/// function runs. The request has been read; the server writes nothing for it.
class raw_connection {
public:
    /// Made by the server, whose types these are.
    raw_connection(session_detail::server_stream& stream, session_detail::connection_entry& entry,
                   std::chrono::milliseconds write_timeout) noexcept
        : stream_(stream)
        , entry_(entry)
        , write_timeout_(write_timeout) {}
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    /// Writes `bytes` as they are (through TLS on a TLS connection) within the write timeout.
    boost::asio::awaitable<boost::system::error_code> async_write(boost::asio::const_buffer bytes);
    /// Reads and discards what the peer sends until it closes the connection or the server
    /// stops; meanwhile a graceful stop treats the connection as idle and does not wait for it.
    boost::asio::awaitable<void> async_wait_closed();
    /// Closes the connection at once with a TCP reset (SO_LINGER 0): nothing more is sent and
    /// the peer sees a reset, not an end of stream.
    void abort() noexcept;

private:
    session_detail::server_stream& stream_;
    session_detail::connection_entry& entry_;
    std::chrono::milliseconds write_timeout_;
};

/// What a handler that took its connection over does with it.
using connection_takeover = std::function<boost::asio::awaitable<void>(raw_connection&)>;

/// A handler's answer: `response` is written, keep-alive as the request asked.
struct reply {
    server_response response;
    /// When set, the body (response.body() is ignored); the response's status and headers are
    /// sent as they are.
    body_stream stream;
    /// When set, the handler answers by itself: `response` and `stream` are ignored, the server
    /// runs this on the connection and then closes it (it cannot know where such an answer
    /// ends). For answers the server cannot frame or must not send: bytes serialized
    /// elsewhere, a protocol that takes the connection over, or no answer at all.
    connection_takeover takeover;

    static reply respond(server_response r) { return {std::move(r), {}, {}}; }
    static reply streamed(server_response head, body_stream body) {
        return {std::move(head), std::move(body), {}};
    }
    static reply take_over(connection_takeover f) { return {{}, {}, std::move(f)}; }
};

using handler = std::function<boost::asio::awaitable<reply>(const request_context&)>;

struct server_options {
    boost::asio::ip::tcp::endpoint listen{boost::asio::ip::make_address_v4("127.0.0.1"), 0};
    /// TLS when set (the caller configures certificates; make_server_tls_context helps).
    std::shared_ptr<boost::asio::ssl::context> tls;
    /// TLS when set, and it wins over `tls`: asked for the context of each new connection, so
    /// renewed certificates and settings apply without a restart. A null result (or an
    /// exception) closes that connection at once, counted in handshakes_failed.
    std::function<std::shared_ptr<boost::asio::ssl::context>()> tls_provider;
    std::size_t body_limit = 1u << 20;
    std::uint32_t header_limit = 16u << 10;
    /// Longest request-target (path and query) served; longer ones get 414 URI Too Long.
    std::size_t target_limit = 8u << 10;
    /// Deadline for reading one request, counted from when the server starts waiting for it:
    /// bounds slow senders (slowloris) and is the keep-alive idle timeout too.
    std::chrono::milliseconds request_timeout{30'000};
    std::chrono::milliseconds write_timeout{30'000};
    std::chrono::milliseconds handshake_timeout{10'000};
    /// Connections beyond this are accepted and closed at once (counted as rejected).
    std::size_t max_connections = 1024;
    std::string server_header; ///< "Server:" value; empty = none
    /// Receives one line per unexpected failure (escaped exceptions, accept errors).
    std::function<void(std::string_view)> log;
};

struct server_stats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_rejected = 0; ///< over max_connections
    std::uint64_t connections_active = 0;
    std::uint64_t handshakes_failed = 0; ///< with plain_http_on_tls and a null tls_provider
    std::uint64_t plain_http_on_tls = 0; ///< plain HTTP requests to a TLS port (answered 400)
    std::uint64_t requests = 0;          ///< requests read completely
    std::uint64_t bad_requests =
        0;                      ///< unparseable or over a limit: answered 400/413/431 and closed
    std::uint64_t timeouts = 0; ///< request_timeout or write_timeout passed
    /// Exceptions escaping a handler (answered 500) or a takeover (the connection is closed).
    std::uint64_t handler_errors = 0;
};

/// Start-up failure (bind, listen, TLS files); the message names the address or file.
class server_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Parses "host:port", "[v6]:port", ":port" (all IPv4 interfaces), "localhost:port".
/// Port 0 asks the system for a free port.
expected<boost::asio::ip::tcp::endpoint, std::string> parse_listen_address(std::string_view s);

/// A TLS 1.2+ server context from PEM files (certificate chain, private key).
/// Throws server_error naming the file that could not be used.
std::shared_ptr<boost::asio::ssl::context>
make_server_tls_context(const std::string& cert_chain_file, const std::string& key_file);

class server {
public:
    server(boost::asio::any_io_executor ex, server_options opts, handler h);
    ~server(); ///< closes everything at once; prefer async_stop first
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds, listens and starts accepting. Throws server_error when the address cannot be used.
    void start();
    /// The bound address (the real port when 0 was asked); valid after start().
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    std::uint16_t port() const { return local_endpoint().port(); }
    bool tls() const noexcept;

    /// Graceful stop: stop accepting, close idle connections, let in-flight requests finish and
    /// their responses be written (no more keep-alive), then after `drain` close what remains.
    /// Completes when every connection is gone.
    boost::asio::awaitable<void> async_stop(std::chrono::milliseconds drain);
    /// Starts async_stop in the background (for signal handlers); `done` runs when it finished.
    void stop(std::chrono::milliseconds drain, std::function<void()> done = {});

    server_stats stats() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace taskwatch::http
