// A small in-process HTTP(S) server for client tests and benchmarks, on 127.0.0.1:0.
// Header-only; every coroutine holds the shared state, so the server object may go first.
#pragma once

#include "process.hpp"
#include "test_pki.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace taskwatch::test {

struct test_server_options {
    std::string body = "hello";
    std::chrono::milliseconds delay{0}; ///< before each response
    bool hang = false;                  ///< read the request, never answer
    bool close_after_response =
        false;                     ///< drop the connection after each response without saying so
    bool connection_close = false; ///< answer with "Connection: close"
    bool eof_body =
        false; ///< no Content-Length: the body ends when the connection does (no close_notify)
    std::size_t padding_header_bytes = 0; ///< an X-Padding header this long
    std::size_t drop_request_number =
        0; ///< close without answering the n-th request on each connection (0: never)
    std::size_t answer_limit =
        static_cast<std::size_t>(-1); ///< answer this many in all, then close on every request
    bool record = true;               ///< keep every request in seen() (off for benchmarks)
    unsigned status = 200;            ///< of every answer
    std::string content_type = "text/plain";
    std::vector<std::pair<std::string, std::string>> headers; ///< more headers on every answer
};

struct seen_request {
    boost::beast::http::verb method{};
    std::string target;
    boost::beast::http::fields headers;
    std::string body;
};

/// A TLS server context from a PEM certificate and key.
inline boost::asio::ssl::context make_server_tls_context(const pem_pair& pem) {
    namespace ssl = boost::asio::ssl;
    ssl::context ctx{ssl::context::tls_server};
    ctx.use_certificate_chain(boost::asio::buffer(pem.cert_pem));
    ctx.use_private_key(boost::asio::buffer(pem.key_pem), ssl::context::pem);
    return ctx;
}

class test_https_server {
public:
    /// `tls` null: plain HTTP.
    test_https_server(const boost::asio::any_io_executor& ex, const pem_pair* tls,
                      test_server_options opts = {})
        : st_(std::make_shared<state>(ex, std::move(opts))) {
        using tcp = boost::asio::ip::tcp;
        if (tls != nullptr) st_->tls.emplace(make_server_tls_context(*tls));
        tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
        st_->acceptor.open(ep.protocol());
        st_->acceptor.set_option(tcp::acceptor::reuse_address(true));
        st_->acceptor.bind(ep);
        st_->acceptor.listen();
        boost::asio::co_spawn(ex, accept_loop(st_), [](const std::exception_ptr&) {});
    }
    test_https_server(const test_https_server&) = delete;
    test_https_server& operator=(const test_https_server&) = delete;
    ~test_https_server() { stop(); }

    std::uint16_t port() const { return st_->acceptor.local_endpoint().port(); }
    std::size_t accepted() const noexcept { return st_->accepted; }
    std::size_t active() const noexcept { return st_->active; }
    std::size_t max_active() const noexcept { return st_->max_active; }
    std::size_t closed() const noexcept { return st_->closed; }
    std::size_t requests() const noexcept { return st_->requests; }
    const std::vector<seen_request>& seen() const noexcept { return st_->seen; }

    /// Completes once `n` connections have ended at the server.
    boost::asio::awaitable<void> async_wait_closed(std::size_t n) { return wait_closed(st_, n); }
    /// Completes once `n` requests have been read by the server.
    boost::asio::awaitable<void> async_wait_requests(std::size_t n) {
        return wait_requests(st_, n);
    }

    void stop() {
        boost::system::error_code ec;
        st_->acceptor.close(ec);
    }

private:
    struct state {
        state(const boost::asio::any_io_executor& ex, test_server_options o)
            : acceptor(ex)
            , notify(ex)
            , opts(std::move(o)) {}
        boost::asio::ip::tcp::acceptor acceptor;
        std::optional<boost::asio::ssl::context> tls;
        boost::asio::steady_timer notify;
        test_server_options opts;
        std::size_t accepted = 0, active = 0, max_active = 0, closed = 0, requests = 0,
                    answered = 0;
        std::vector<seen_request> seen;
    };

    static constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

    static boost::asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
        for (;;) {
            auto [ec, sock] = co_await st->acceptor.async_accept(use_tuple);
            if (ec) co_return;
            boost::asio::co_spawn(st->acceptor.get_executor(), session(st, std::move(sock)),
                                  [](const std::exception_ptr&) {});
        }
    }

    static boost::asio::awaitable<void> session(std::shared_ptr<state> st,
                                                boost::asio::ip::tcp::socket sock) {
        namespace beast = boost::beast;
        ++st->accepted;
        st->max_active = std::max(st->max_active, ++st->active);
        sock.set_option(boost::asio::ip::tcp::no_delay(true));
        if (st->tls) {
            beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *st->tls);
            auto [ec] =
                co_await stream.async_handshake(boost::asio::ssl::stream_base::server, use_tuple);
            if (!ec) co_await serve(st, stream);
            beast::get_lowest_layer(stream).close();
        } else {
            beast::tcp_stream stream(std::move(sock));
            co_await serve(st, stream);
            stream.close();
        }
        --st->active;
        ++st->closed;
        st->notify.cancel();
    }

    template <class Stream>
    static boost::asio::awaitable<void> serve(std::shared_ptr<state> st, Stream& stream) {
        namespace http = boost::beast::http;
        boost::beast::flat_buffer buffer;
        for (std::size_t on_this_connection = 1;; ++on_this_connection) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(64u << 20);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
            if (ec) co_return;
            auto req = parser.release();
            ++st->requests;
            st->notify.cancel();
            if (st->opts.record)
                st->seen.push_back(
                    {req.method(), std::string(req.target()), req.base(), req.body()});
            if (on_this_connection == st->opts.drop_request_number ||
                st->answered >= st->opts.answer_limit)
                co_return; // the session closes the connection: the client sees EOF, no response
                           // byte
            ++st->answered;
            if (st->opts.hang) {
                boost::asio::steady_timer forever(stream.get_executor(),
                                                  boost::asio::steady_timer::time_point::max());
                co_await forever.async_wait(use_tuple);
                co_return;
            }
            if (st->opts.delay.count() > 0) {
                boost::asio::steady_timer t(stream.get_executor(), st->opts.delay);
                co_await t.async_wait(use_tuple);
            }
            http::response<http::string_body> res{static_cast<http::status>(st->opts.status),
                                                  req.version()};
            res.set(http::field::content_type, st->opts.content_type);
            for (const auto& [name, value] : st->opts.headers)
                res.set(name, value);
            if (st->opts.padding_header_bytes > 0)
                res.set("X-Padding", std::string(st->opts.padding_header_bytes, 'p'));
            res.body() = st->opts.body;
            if (st->opts.eof_body) {
                co_await http::async_write(stream, res, use_tuple);
                co_return; // the session closes TCP without a TLS close_notify
            }
            res.keep_alive(req.keep_alive() && !st->opts.connection_close);
            res.prepare_payload();
            auto [wec, written] = co_await http::async_write(stream, res, use_tuple);
            if (wec || st->opts.close_after_response || !res.keep_alive()) co_return;
        }
    }

    static boost::asio::awaitable<void> wait_closed(std::shared_ptr<state> st, std::size_t n) {
        while (st->closed < n) {
            st->notify.expires_at(boost::asio::steady_timer::time_point::max());
            co_await st->notify.async_wait(use_tuple);
        }
    }

    static boost::asio::awaitable<void> wait_requests(std::shared_ptr<state> st, std::size_t n) {
        while (st->requests < n) {
            st->notify.expires_at(boost::asio::steady_timer::time_point::max());
            co_await st->notify.async_wait(use_tuple);
        }
    }

    std::shared_ptr<state> st_;
};

} // namespace taskwatch::test
