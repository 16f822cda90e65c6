#include "support/test_https_server.hpp"

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
#include <exception>
#include <optional>

namespace taskwatch::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct test_https_server::state {
    state(const asio::any_io_executor& ex, test_server_options o)
        : acceptor(ex)
        , notify(ex)
        , opts(std::move(o)) {}
    tcp::acceptor acceptor;
    std::optional<asio::ssl::context> tls;
    asio::steady_timer notify; ///< cancelled whenever a count below changes
    test_server_options opts;
    std::size_t accepted = 0, active = 0, max_active = 0, closed = 0, requests = 0, answered = 0;
    std::vector<seen_request> seen;
};

namespace {

using state = test_https_server::state;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::ssl::context make_tls_context(const pem_pair& pem) {
    asio::ssl::context ctx{asio::ssl::context::tls_server};
    ctx.use_certificate_chain(asio::buffer(pem.cert_pem));
    ctx.use_private_key(asio::buffer(pem.key_pem), asio::ssl::context::pem);
    return ctx;
}

template <class Stream> asio::awaitable<void> serve(std::shared_ptr<state> st, Stream& stream) {
    beast::flat_buffer buffer;
    for (std::size_t on_this_connection = 1;; ++on_this_connection) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (ec) co_return;
        auto req = parser.release();
        ++st->requests;
        st->notify.cancel();
        if (st->opts.record)
            st->seen.push_back({req.method(), std::string(req.target()), req.base(), req.body()});
        if (on_this_connection == st->opts.drop_request_number ||
            st->answered >= st->opts.answer_limit)
            co_return; // the session closes the connection: the client sees EOF, no response byte
        ++st->answered;
        if (st->opts.hang) {
            asio::steady_timer forever(stream.get_executor(),
                                       asio::steady_timer::time_point::max());
            co_await forever.async_wait(use_tuple);
            co_return;
        }
        if (st->opts.delay.count() > 0) {
            asio::steady_timer t(stream.get_executor(), st->opts.delay);
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

asio::awaitable<void> session(std::shared_ptr<state> st, tcp::socket sock) {
    ++st->accepted;
    st->max_active = std::max(st->max_active, ++st->active);
    sock.set_option(tcp::no_delay(true));
    if (st->tls) {
        beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *st->tls);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
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

asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    for (;;) {
        auto [ec, sock] = co_await st->acceptor.async_accept(use_tuple);
        if (ec) co_return;
        asio::co_spawn(st->acceptor.get_executor(), session(st, std::move(sock)),
                       [](const std::exception_ptr&) {});
    }
}

// Waits until `reached()` holds; `notify` is cancelled whenever the counts change.
template <class Reached>
asio::awaitable<void> wait_for(std::shared_ptr<state> st, Reached reached) {
    while (!reached(*st)) {
        st->notify.expires_at(asio::steady_timer::time_point::max());
        co_await st->notify.async_wait(use_tuple);
    }
}

} // namespace

test_https_server::test_https_server(const asio::any_io_executor& ex, const pem_pair* tls,
                                     test_server_options opts)
    : st_(std::make_shared<state>(ex, std::move(opts))) {
    if (tls != nullptr) st_->tls.emplace(make_tls_context(*tls));
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    st_->acceptor.open(ep.protocol());
    st_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    st_->acceptor.bind(ep);
    st_->acceptor.listen();
    asio::co_spawn(ex, accept_loop(st_), [](const std::exception_ptr&) {});
}

test_https_server::~test_https_server() {
    stop();
}

std::uint16_t test_https_server::port() const {
    return st_->acceptor.local_endpoint().port();
}
std::size_t test_https_server::accepted() const noexcept {
    return st_->accepted;
}
std::size_t test_https_server::active() const noexcept {
    return st_->active;
}
std::size_t test_https_server::max_active() const noexcept {
    return st_->max_active;
}
std::size_t test_https_server::closed() const noexcept {
    return st_->closed;
}
std::size_t test_https_server::requests() const noexcept {
    return st_->requests;
}
const std::vector<seen_request>& test_https_server::seen() const noexcept {
    return st_->seen;
}

asio::awaitable<void> test_https_server::async_wait_closed(std::size_t n) {
    return wait_for(st_, [n](const state& s) { return s.closed >= n; });
}

asio::awaitable<void> test_https_server::async_wait_requests(std::size_t n) {
    return wait_for(st_, [n](const state& s) { return s.requests >= n; });
}

void test_https_server::stop() {
    boost::system::error_code ec;
    st_->acceptor.close(ec);
}

} // namespace taskwatch::test
