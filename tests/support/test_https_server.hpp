// A small in-process HTTP(S) server for client tests and benchmarks, on 127.0.0.1:0, answering
// every request the way its options say (delays, hangs, drops, odd bodies). Every coroutine holds
// the shared state, so the server object may go first.
#pragma once

#include "support/pki.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace taskwatch::test {

struct test_server_options {
    std::string body = "hello";
    std::chrono::milliseconds delay{0}; ///< before each response
    bool hang = false;                  ///< read the request, never answer
    /// Drop the connection after each response without saying so.
    bool close_after_response = false;
    bool connection_close = false; ///< answer with "Connection: close"
    /// No Content-Length: the body ends when the connection does (no close_notify).
    bool eof_body = false;
    std::size_t padding_header_bytes = 0; ///< an X-Padding header this long
    /// Close without answering the n-th request on each connection (0: never).
    std::size_t drop_request_number = 0;
    /// Answer this many in all, then close on every request.
    std::size_t answer_limit = static_cast<std::size_t>(-1);
    bool record = true;    ///< keep every request in seen() (off for benchmarks)
    unsigned status = 200; ///< of every answer
    std::string content_type = "text/plain";
    std::vector<std::pair<std::string, std::string>> headers{}; ///< more headers on every answer
};

struct seen_request {
    boost::beast::http::verb method{};
    std::string target;
    boost::beast::http::fields headers;
    std::string body;
};

/// Runs on the executor it is given; every call on that executor's thread.
class test_https_server {
public:
    /// `tls` null: plain HTTP.
    test_https_server(const boost::asio::any_io_executor& ex, const pem_pair* tls,
                      test_server_options opts = {});
    test_https_server(const test_https_server&) = delete;
    test_https_server& operator=(const test_https_server&) = delete;
    ~test_https_server();

    std::uint16_t port() const;
    std::size_t accepted() const noexcept;
    std::size_t active() const noexcept;
    std::size_t max_active() const noexcept;
    std::size_t closed() const noexcept;
    std::size_t requests() const noexcept;
    const std::vector<seen_request>& seen() const noexcept;

    /// Completes once `n` connections have ended at the server.
    boost::asio::awaitable<void> async_wait_closed(std::size_t n);
    /// Completes once `n` requests have been read by the server.
    boost::asio::awaitable<void> async_wait_requests(std::size_t n);

    void stop();

    struct state;

private:
    std::shared_ptr<state> st_;
};

} // namespace taskwatch::test
