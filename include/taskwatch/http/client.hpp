// HTTPS client: one connection pool per host, keep-alive, deadlines, limits.
// Runs on one io_context thread; not thread-safe, like everything on that loop.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/detail/name_table.hpp"
#include "taskwatch/http/url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::http {

/// A start-up problem (unreadable ca_file, bad proxy URL); the text names the file or variable.
class setup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct client_options {
    std::size_t max_connections = 16;               ///< per host; requests queue beyond it
    std::chrono::milliseconds timeout{10'000};      ///< default deadline of one request
    std::chrono::milliseconds idle_timeout{55'000}; ///< an idle keep-alive connection is closed
    /// A connection idle for at least this long is checked (one non-blocking peek) for a close
    /// by the server before reuse, so a POST does not go out on a dead connection.
    std::chrono::milliseconds idle_check_after{250};
    std::size_t body_limit = 8u << 20; ///< larger response bodies fail
    std::uint32_t header_limit = 64u << 10;
    std::optional<std::string> ca_file; ///< default: the system store
    /// The proxy that https requests tunnel through (http ones never do); unset: the one in
    /// $HTTPS_PROXY or $https_proxy, if proxy_from_environment. NO_PROXY/no_proxy is honoured
    /// either way.
    std::optional<proxy_endpoint> proxy;
    bool proxy_from_environment = true; ///< false: no proxy unless `proxy` is set
    std::string user_agent = "taskwatch";
    /// The response header fields kept in response::headers (names, any case); empty: all.
    /// Each kept field costs an allocation per response.
    std::vector<std::string> response_headers;
};

/// Why a request got no HTTP response. Every transport failure is one of these.
enum class failure {
    dns,            ///< the name did not resolve
    connect,        ///< TCP connect refused or unreachable
    proxy,          ///< the proxy refused CONNECT or answered nonsense
    tls,            ///< handshake failed: untrusted certificate, host-name mismatch, protocol
    timeout,        ///< the deadline passed
    io,             ///< reset or closed mid-exchange
    protocol,       ///< not valid HTTP, header too large
    body_too_large, ///< body over client_options::body_limit
    cancelled,      ///< the client is shutting down
};
/// The failures' names, as metric labels (modelarts::error_kind names its transport kinds so).
inline constexpr taskwatch::detail::enum_name<failure> failure_names[] = {
    {failure::dns, "dns"},
    {failure::connect, "connect"},
    {failure::proxy, "proxy"},
    {failure::tls, "tls"},
    {failure::timeout, "timeout"},
    {failure::io, "io"},
    {failure::protocol, "protocol"},
    {failure::body_too_large, "body_too_large"},
    {failure::cancelled, "cancelled"},
};
static_assert(taskwatch::detail::in_enum_order(failure_names));
std::string_view to_string(failure f);

struct transport_error {
    failure kind;
    std::string message; ///< human-readable detail; never contains header values
};

struct request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string target; ///< encoded path and query, without base_path
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct response {
    unsigned status = 0;
    boost::beast::http::fields headers;
    std::string body;
};

struct pool_stats {
    std::size_t open = 0;   ///< connections open (idle + busy)
    std::size_t busy = 0;   ///< requests in flight
    std::size_t queued = 0; ///< requests waiting for a connection
};

/// Requests to one host are served by a pool of at most max_connections keep-alive
/// connections; further requests wait in FIFO order. TLS 1.2+ with peer and host-name
/// verification always ("http" endpoints are plain TCP, never proxied).
/// The client may be destroyed while requests are in flight: they finish or fail, and
/// the state they use lives until then.
class client {
public:
    /// Throws setup_error for an unreadable ca_file or an unparsable proxy URL.
    client(boost::asio::any_io_executor ex, client_options opts);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Sends one request to `ep` and reads the whole response, by `deadline` at the latest.
    /// Never throws: every failure comes back as a transport_error.
    boost::asio::awaitable<expected<response, transport_error>>
    async_send(endpoint ep, request req, std::chrono::steady_clock::time_point deadline);

    /// The same with options().timeout from now.
    boost::asio::awaitable<expected<response, transport_error>> async_send(endpoint ep,
                                                                           request req);

    const client_options& options() const noexcept;
    pool_stats stats() const;
    /// Closes idle connections and fails queued and future requests with `cancelled`.
    void shutdown();

private:
    struct impl;
    std::shared_ptr<impl> impl_; // shared with in-flight requests, so they outlive ~client safely
};

} // namespace taskwatch::http
