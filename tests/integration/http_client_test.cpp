// The HTTPS client against in-process servers on 127.0.0.1 with a CA made at test time.
#include "taskwatch/http/client.hpp"

#include "support/files.hpp"
#include "support/io.hpp"
#include "support/pki.hpp"
#include "support/test_https_server.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using namespace taskwatch;
using namespace taskwatch::http;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using test::run;
using test::test_https_server;
using test::test_server_options;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One CA for the process; certificates for the names the tests need.
struct pki {
    test::test_ca ca{"taskwatch test CA"};
    test::test_ca stranger{"untrusted CA"};
    test::pem_pair local = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    test::pem_pair other_name = ca.issue("other.example", "DNS:other.example");
    test::pem_pair untrusted = stranger.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    test::temp_dir dir;
    std::string ca_file = dir.file("ca.pem");

    pki() { ca.write_cert(ca_file); }
};

pki& shared_pki() {
    static pki p;
    return p;
}

client_options trusting_options() {
    client_options o;
    o.ca_file = shared_pki().ca_file;
    // Tests never go through the machine's proxy unless they say so.
    o.proxy_from_environment = false;
    return o;
}

// trusting_options() with at most `n` connections to the test server.
client_options with_max_connections(std::size_t n) {
    auto o = trusting_options();
    o.max_connections = n;
    return o;
}

endpoint local_endpoint(std::uint16_t port, std::string host = "127.0.0.1",
                        std::string scheme = "https") {
    endpoint ep;
    ep.scheme = std::move(scheme);
    ep.host = std::move(host);
    ep.port = port;
    return ep;
}

request get(std::string target = "/") {
    request r;
    r.target = std::move(target);
    return r;
}

// POST /hook with a small JSON body, as a webhook delivery would send it.
request hook_post() {
    request r;
    r.method = bhttp::verb::post;
    r.target = "/hook";
    r.body = R"({"event":1})";
    return r;
}

using send_result = expected<response, transport_error>;

// `req` sent by `cl` to the test server `srv` with a deadline 5 s away.
asio::awaitable<send_result> async_send_to(client* cl, const test_https_server* srv,
                                           request req = get()) {
    co_return co_await cl->async_send(local_endpoint(srv->port()), std::move(req),
                                      steady::now() + 5s);
}

// Counts down completions of spawned requests; a single coroutine may wait for zero.
struct countdown {
    explicit countdown(const asio::any_io_executor& ex, std::size_t n)
        : timer(ex)
        , remaining(n) {}
    void arrive() {
        --remaining;
        timer.cancel();
    }
    asio::awaitable<void> async_wait() {
        while (remaining > 0) {
            timer.expires_at(steady::time_point::max());
            co_await timer.async_wait(use_tuple);
        }
    }
    asio::steady_timer timer;
    std::size_t remaining;
};

asio::awaitable<void> send_into(client* c, endpoint ep, request req, steady::time_point deadline,
                                std::optional<send_result>* out, countdown* done) {
    out->emplace(co_await c->async_send(std::move(ep), std::move(req), deadline));
    done->arrive();
}

// GET /0 ... /(n-1) sent at once to the local test server; done counts them in.
struct get_batch {
    get_batch(const asio::any_io_executor& ex, client* c, std::uint16_t port, std::size_t n)
        : results(n)
        , done(ex, n) {
        for (std::size_t i = 0; i < n; ++i) {
            std::string target(1, '/'); // not "/" + ...: GCC 12 warns wrongly of an overflow here
            target += std::to_string(i);
            asio::co_spawn(ex,
                           send_into(c, local_endpoint(port), get(std::move(target)),
                                     steady::now() + 10s, &results[i], &done),
                           asio::detached);
        }
    }
    std::vector<std::optional<send_result>> results;
    countdown done;
};

std::string describe(const send_result& r) {
    if (r) return "status " + std::to_string(r->status);
    return std::string(to_string(r.error().kind)) + ": " + r.error().message;
}

// What most tests start with: a loop, a test server on it and a client that trusts the server.
struct served_client {
    explicit served_client(test_server_options so = {}, client_options opts = trusting_options())
        : served_client(&shared_pki().local, std::move(so), std::move(opts)) {}
    /// `tls` null: plain HTTP.
    explicit served_client(const test::pem_pair* tls, test_server_options so = {},
                           client_options opts = trusting_options())
        : server(io.get_executor(), tls, std::move(so))
        , c(io.get_executor(), std::move(opts)) {}

    /// Runs `body(&server, &c)`, a coroutine, to its end on the loop.
    template <class Body> void run(Body body) { test::run(io, body(&server, &c)); }

    asio::io_context io;
    test_https_server server;
    client c;
};

// A CONNECT proxy: checks nothing, tunnels bytes, remembers what it was asked.
class connect_proxy {
public:
    connect_proxy(const asio::any_io_executor& ex, bool refuse)
        : st_(std::make_shared<state>(ex, refuse)) {
        tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
        st_->acceptor.open(ep.protocol());
        st_->acceptor.bind(ep);
        st_->acceptor.listen();
        asio::co_spawn(ex, accept_loop(st_), [](const std::exception_ptr&) {});
    }
    ~connect_proxy() {
        boost::system::error_code ec;
        st_->acceptor.close(ec);
    }
    std::uint16_t port() const { return st_->acceptor.local_endpoint().port(); }
    const std::vector<bhttp::request<bhttp::empty_body>>& requests() const { return st_->requests; }

private:
    struct state {
        state(const asio::any_io_executor& ex, bool r)
            : acceptor(ex)
            , refuse(r) {}
        tcp::acceptor acceptor;
        bool refuse;
        std::vector<bhttp::request<bhttp::empty_body>> requests;
    };

    static asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
        for (;;) {
            auto [ec, sock] = co_await st->acceptor.async_accept(use_tuple);
            if (ec) co_return;
            asio::co_spawn(st->acceptor.get_executor(), tunnel(st, std::move(sock)),
                           [](const std::exception_ptr&) {});
        }
    }

    static asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from,
                                      std::shared_ptr<tcp::socket> to) {
        std::array<char, 16384> buf;
        for (;;) {
            auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), use_tuple);
            if (ec) break;
            auto [wec, w] = co_await asio::async_write(*to, asio::buffer(buf.data(), n), use_tuple);
            if (wec) break;
        }
        boost::system::error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
    }

    static asio::awaitable<void> tunnel(std::shared_ptr<state> st, tcp::socket sock) {
        auto client_side = std::make_shared<tcp::socket>(std::move(sock));
        beast::flat_buffer buffer;
        bhttp::request_parser<bhttp::empty_body> parser;
        auto [ec, n] = co_await bhttp::async_read(*client_side, buffer, parser, use_tuple);
        if (ec) co_return;
        st->requests.push_back(parser.get());
        const auto& req = st->requests.back();
        if (st->refuse || req.method() != bhttp::verb::connect) {
            std::string_view answer =
                "HTTP/1.1 407 Proxy Authentication Required\r\n"
                "Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n";
            co_await asio::async_write(*client_side, asio::buffer(answer), use_tuple);
            co_return;
        }
        std::string target(req.target());
        auto colon = target.rfind(':');
        auto upstream = std::make_shared<tcp::socket>(client_side->get_executor());
        tcp::endpoint ep(asio::ip::make_address(target.substr(0, colon)),
                         static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
        auto [cec] = co_await upstream->async_connect(ep, use_tuple);
        if (cec) co_return;
        std::string_view ok = "HTTP/1.1 200 Connection established\r\n\r\n";
        co_await asio::async_write(*client_side, asio::buffer(ok), use_tuple);
        if (buffer.size() > 0) co_await asio::async_write(*upstream, buffer.data(), use_tuple);
        auto ex = client_side->get_executor();
        asio::co_spawn(ex, pump(upstream, client_side), [](const std::exception_ptr&) {});
        co_await pump(client_side, upstream);
    }

    std::shared_ptr<state> st_;
};

// Like served_client, with a CONNECT proxy (refusing every tunnel when `refuse`) that the client
// tunnels through as `user_info` ("user:password", percent-encoded).
struct proxied_client {
    proxied_client(bool refuse, const std::string& user_info)
        : proxy(io.get_executor(), refuse)
        , c(io.get_executor(), options(proxy.port(), user_info)) {}

    static client_options options(std::uint16_t proxy_port, const std::string& user_info) {
        auto o = trusting_options();
        o.proxy =
            parse_proxy_url("http://" + user_info + "@127.0.0.1:" + std::to_string(proxy_port))
                .value();
        return o;
    }

    /// Runs `body(&server, &proxy, &c)`, a coroutine, to its end on the loop.
    template <class Body> void run(Body body) { test::run(io, body(&server, &proxy, &c)); }

    asio::io_context io;
    test_https_server server{io.get_executor(), &shared_pki().local};
    connect_proxy proxy;
    client c;
};

} // namespace

TEST_CASE("a GET succeeds and sequential requests reuse one keep-alive connection") {
    served_client h;

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ep = local_endpoint(srv->port());
        ep.base_path = "/v2";
        for (int i = 0; i < 5; ++i) {
            auto req = get("/tasks?limit=" + std::to_string(i));
            req.headers.emplace_back("X-Auth-Token", "t0ken");
            auto res = co_await cl->async_send(ep, std::move(req), steady::now() + 5s);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(res->status == 200);
            CHECK(res->body == "hello");
            CHECK(res->headers[bhttp::field::content_type] == "text/plain");
        }
        CHECK(srv->accepted() == 1);
        REQUIRE(srv->seen().size() == 5);
        const auto& first = srv->seen().front();
        CHECK(first.target == "/v2/tasks?limit=0");
        CHECK(first.headers[bhttp::field::host] == "127.0.0.1:" + std::to_string(srv->port()));
        CHECK(first.headers[bhttp::field::user_agent] == "taskwatch");
        CHECK(first.headers["X-Auth-Token"] == "t0ken");
        auto s = cl->stats();
        CHECK(s.open == 1);
        CHECK(s.busy == 0);
        CHECK(s.queued == 0);
    });
}

TEST_CASE("response_headers keeps only the named header fields, in any case, with body, status and "
          "keep-alive as without") {
    test_server_options so;
    so.headers = {{"X-Request-Id", "r-1"}, {"X-Other", "dropped"}, {"retry-after", "7"}};
    auto opts = trusting_options();
    opts.response_headers = {"x-request-id", "Retry-After"};
    served_client h(so, opts);

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto res =
                co_await cl->async_send(local_endpoint(srv->port()), get("/t"), steady::now() + 5s);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(res->status == 200);
            CHECK(res->body == "hello");
            CHECK(res->headers["X-Request-Id"] == "r-1");
            CHECK(res->headers[bhttp::field::retry_after] == "7");
            CHECK(res->headers.count("X-Other") == 0);
            CHECK(res->headers.count(bhttp::field::content_type) == 0);
            CHECK(res->headers.count(bhttp::field::content_length) == 0);
        }
        CHECK(srv->accepted() == 1);
    });
}

TEST_CASE("the request on the wire: method, target, headers as given, Host and User-Agent "
          "added, and a Content-Length of the client's own for bodies") {
    served_client h;

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ep = local_endpoint(srv->port());
        request post;
        post.method = bhttp::verb::post;
        post.target = "/hooks/a%20b?x=1";
        post.headers.emplace_back("Content-Type", "application/json");
        post.headers.emplace_back("content-length", "999"); // stale: replaced
        post.headers.emplace_back("X-Multi", "one");
        post.headers.emplace_back("X-Multi", "two");
        post.body = R"({"k":"v \u00e9"})";
        auto res = co_await cl->async_send(ep, post, steady::now() + 5s);
        REQUIRE_MESSAGE(res.has_value(), describe(res));

        request empty_post;
        empty_post.method = bhttp::verb::post;
        empty_post.target = "/empty";
        empty_post.headers.emplace_back("Host", "api.example.test");
        empty_post.headers.emplace_back("User-Agent", "custom/1");
        res = co_await cl->async_send(ep, empty_post, steady::now() + 5s);
        REQUIRE_MESSAGE(res.has_value(), describe(res));

        REQUIRE(srv->seen().size() == 2);
        const auto& p = srv->seen()[0];
        CHECK(p.method == bhttp::verb::post);
        CHECK(p.target == "/hooks/a%20b?x=1");
        CHECK(p.body == post.body);
        CHECK(p.headers[bhttp::field::content_length] == std::to_string(post.body.size()));
        CHECK(std::distance(p.headers.equal_range(bhttp::field::content_length).first,
                            p.headers.equal_range(bhttp::field::content_length).second) == 1);
        CHECK(p.headers[bhttp::field::content_type] == "application/json");
        CHECK(p.headers[bhttp::field::host] == "127.0.0.1:" + std::to_string(srv->port()));
        CHECK(p.headers[bhttp::field::user_agent] == "taskwatch");
        auto multi = p.headers.equal_range("X-Multi");
        REQUIRE(std::distance(multi.first, multi.second) == 2);
        CHECK(multi.first->value() == "one");
        CHECK(std::next(multi.first)->value() == "two");

        const auto& e = srv->seen()[1];
        CHECK(e.body.empty());
        CHECK(e.headers[bhttp::field::content_length] == "0");
        CHECK(e.headers[bhttp::field::host] == "api.example.test");
        CHECK(e.headers[bhttp::field::user_agent] == "custom/1");
        CHECK(std::distance(e.headers.equal_range(bhttp::field::host).first,
                            e.headers.equal_range(bhttp::field::host).second) == 1);
    });
}

TEST_CASE("a host name is verified against the certificate's DNS names") {
    served_client h;

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto res = co_await cl->async_send(local_endpoint(srv->port(), "localhost"), get(),
                                           steady::now() + 5s);
        REQUIRE_MESSAGE(res.has_value(), describe(res));
        CHECK(res->status == 200);
        CHECK(srv->seen().back().headers[bhttp::field::host] ==
              "localhost:" + std::to_string(srv->port()));
    });
}

TEST_CASE(
    "max_connections caps concurrency and excess requests queue until a connection frees up") {
    // The delay keeps requests overlapping.
    served_client h({.delay = 20ms}, with_max_connections(4));

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        constexpr std::size_t n = 20;
        get_batch batch(ex, cl, srv->port(), n);
        // Let every spawned request run up to its first suspension.
        co_await asio::post(ex, asio::use_awaitable);
        auto s = cl->stats();
        CHECK(s.open == 4);
        CHECK(s.busy == 4);
        CHECK(s.queued == 16);

        co_await batch.done.async_wait();
        for (auto& r : batch.results) {
            REQUIRE(r.has_value());
            REQUIRE_MESSAGE(r->has_value(), describe(*r));
            CHECK((*r)->status == 200);
        }
        CHECK(srv->max_active() <= 4);
        CHECK(srv->accepted() == 4);
        CHECK(srv->requests() == n);
        s = cl->stats();
        CHECK(s.open == 4);
        CHECK(s.busy == 0);
        CHECK(s.queued == 0);
    });
}

TEST_CASE("queued requests are served in the order they were made") {
    served_client h({}, with_max_connections(1));

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        constexpr std::size_t n = 6;
        get_batch batch(ex, cl, srv->port(), n);
        co_await batch.done.async_wait();
        REQUIRE(srv->seen().size() == n);
        for (std::size_t i = 0; i < n; ++i)
            CHECK(srv->seen()[i].target == "/" + std::to_string(i));
        CHECK(srv->accepted() == 1);
    });
}

TEST_CASE("time spent queued for a connection counts against the deadline") {
    served_client h({.delay = 600ms}, with_max_connections(1));

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<send_result> slow;
        countdown done(ex, 1);
        asio::co_spawn(
            ex,
            send_into(cl, local_endpoint(srv->port()), get(), steady::now() + 10s, &slow, &done),
            asio::detached);
        co_await asio::post(ex, asio::use_awaitable);
        const auto start = steady::now();
        auto res = co_await cl->async_send(local_endpoint(srv->port()), get(), start + 200ms);
        const auto elapsed = steady::now() - start;
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::timeout);
        CHECK(res.error().message.find("waiting for a free connection") != std::string::npos);
        CHECK(elapsed >= 200ms);
        CHECK(elapsed < 1s);
        CHECK(cl->stats().queued == 0);
        co_await done.async_wait();
        REQUIRE(slow->has_value());
    });
}

TEST_CASE("a certificate from an untrusted CA is refused as tls") {
    served_client h(&shared_pki().untrusted);

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto res = co_await async_send_to(cl, srv);
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::tls);
        CHECK(res.error().message.find("certificate verify failed") != std::string::npos);
        CHECK(srv->requests() == 0);
        CHECK(cl->stats().open == 0);
    });
}

TEST_CASE("a certificate for another host name is refused as tls, by name and by IP") {
    served_client h(&shared_pki().other_name);

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto by_ip = co_await async_send_to(cl, srv);
        REQUIRE_FALSE(by_ip.has_value());
        CHECK(by_ip.error().kind == failure::tls);
        CHECK_MESSAGE(by_ip.error().message.find("mismatch") != std::string::npos,
                      by_ip.error().message);

        auto by_name = co_await cl->async_send(local_endpoint(srv->port(), "localhost"), get(),
                                               steady::now() + 5s);
        REQUIRE_FALSE(by_name.has_value());
        CHECK(by_name.error().kind == failure::tls);
        CHECK_MESSAGE(by_name.error().message.find("hostname mismatch") != std::string::npos,
                      by_name.error().message);
        CHECK(srv->requests() == 0);
    });
}

TEST_CASE("a server that accepts but never answers hits the deadline on time as timeout") {
    served_client h({.hang = true}); // reads each request, never answers

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto req = get();
        req.headers.emplace_back("X-Auth-Token", "super-secret-token");
        const auto start = steady::now();
        auto res =
            co_await cl->async_send(local_endpoint(srv->port()), std::move(req), start + 300ms);
        const auto elapsed = steady::now() - start;
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::timeout);
        CHECK(res.error().message.find("super-secret-token") == std::string::npos);
        CHECK(elapsed >= 300ms);
        CHECK(elapsed < 300ms + 700ms); // a correctness bound, not a speed test
        CHECK(srv->requests() == 1);
        CHECK(cl->stats().open == 0); // a timed-out connection is discarded
    });
}

TEST_CASE("concurrent requests each time out at their own deadline, an earlier one made later "
          "included, and one that is answered in time is not affected") {
    asio::io_context io;
    test_https_server hanging(io.get_executor(), &shared_pki().local, {.hang = true});
    test_https_server answering(io.get_executor(), &shared_pki().local);
    client c(io.get_executor(), trusting_options());

    struct outcome {
        std::optional<expected<response, transport_error>> res;
        steady::duration elapsed{};
    };
    outcome late, early, fine;
    countdown all(io.get_executor(), 3);
    const auto start = steady::now();
    auto send = [&](std::uint16_t port, steady::time_point deadline,
                    outcome* out) -> asio::awaitable<void> {
        out->res.emplace(co_await c.async_send(local_endpoint(port), get(), deadline));
        out->elapsed = steady::now() - start;
        all.arrive();
    };
    // The long deadline is watched first; the short one, made after it, must not wait for it.
    asio::co_spawn(io, send(hanging.port(), start + 1500ms, &late), asio::detached);
    asio::co_spawn(io, send(hanging.port(), start + 300ms, &early), asio::detached);
    asio::co_spawn(io, send(answering.port(), start + 1000ms, &fine), asio::detached);
    run(io, all.async_wait());

    REQUIRE(early.res.has_value());
    REQUIRE_FALSE(early.res->has_value());
    CHECK(early.res->error().kind == failure::timeout);
    CHECK(early.elapsed >= 300ms);
    CHECK(early.elapsed < 1000ms); // before the long deadline: a correctness bound
    REQUIRE(late.res.has_value());
    REQUIRE_FALSE(late.res->has_value());
    CHECK(late.res->error().kind == failure::timeout);
    CHECK(late.elapsed >= 1500ms);
    CHECK(late.elapsed < 1500ms + 700ms);
    REQUIRE(fine.res.has_value());
    REQUIRE_MESSAGE(fine.res->has_value(), describe(*fine.res));
    CHECK((*fine.res)->status == 200);
}

TEST_CASE("a server that never completes the TLS handshake hits the deadline as timeout") {
    asio::io_context io;
    tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client c(io.get_executor(), trusting_options());

    run(io, [](tcp::acceptor* acc, client* cl) -> asio::awaitable<void> {
        const auto start = steady::now();
        // The kernel completes the TCP handshake from the backlog; nobody ever speaks TLS.
        auto res = co_await cl->async_send(local_endpoint(acc->local_endpoint().port()), get(),
                                           start + 250ms);
        const auto elapsed = steady::now() - start;
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::timeout);
        CHECK(res.error().message.find("TLS handshake") != std::string::npos);
        CHECK(elapsed >= 250ms);
        CHECK(elapsed < 250ms + 700ms);
    }(&silent, &c));
}

TEST_CASE("a refused connection is a connect failure") {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = probe.local_endpoint().port();
    } // closed: nothing listens there now
    client c(io.get_executor(), trusting_options());

    run(io, [](std::uint16_t p, client* cl) -> asio::awaitable<void> {
        auto res = co_await cl->async_send(local_endpoint(p), get(), steady::now() + 5s);
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::connect);
        CHECK(res.error().message.find("127.0.0.1:" + std::to_string(p)) != std::string::npos);
        CHECK(cl->stats().open == 0);
    }(port, &c));
}

TEST_CASE("a name that does not resolve is a dns failure") {
    asio::io_context io;
    client c(io.get_executor(), trusting_options());

    run(io, [](client* cl) -> asio::awaitable<void> {
        auto res = co_await cl->async_send(local_endpoint(443, "nonexistent.invalid"), get(),
                                           steady::now() + 20s);
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::dns);
        CHECK(res.error().message.find("nonexistent.invalid") != std::string::npos);
    }(&c));
}

TEST_CASE("a body over body_limit is body_too_large and a header over header_limit is protocol") {
    asio::io_context io;
    test_server_options big_body;
    big_body.body = std::string(5000, 'b');
    test_https_server body_server(io.get_executor(), &shared_pki().local, big_body);
    test_server_options big_header;
    big_header.padding_header_bytes = 10000;
    test_https_server header_server(io.get_executor(), &shared_pki().local, big_header);
    auto opts = trusting_options();
    opts.body_limit = 4096;
    opts.header_limit = 4096;
    client c(io.get_executor(), opts);

    run(io, [](test_https_server* bs, test_https_server* hs, client* cl) -> asio::awaitable<void> {
        auto res = co_await cl->async_send(local_endpoint(bs->port()), get(), steady::now() + 5s);
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::body_too_large);
        CHECK(res.error().message.find("4096") != std::string::npos);

        auto hdr = co_await cl->async_send(local_endpoint(hs->port()), get(), steady::now() + 5s);
        REQUIRE_FALSE(hdr.has_value());
        CHECK(hdr.error().kind == failure::protocol);
        CHECK(cl->stats().open == 0);
    }(&body_server, &header_server, &c));
}

TEST_CASE("a keep-alive connection the server closed while idle is not used for the next request, "
          "even a POST") {
    auto opts = trusting_options();
    opts.idle_check_after = 0ms; // check every reuse, so the test need not wait
    // Without "Connection: close": the client believes the connection is reusable.
    served_client h({.close_after_response = true}, opts);

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto first = co_await async_send_to(cl, srv);
        REQUIRE_MESSAGE(first.has_value(), describe(first));
        co_await srv->async_wait_closed(1);
        CHECK(cl->stats().open == 1); // the client has not noticed yet

        auto second = co_await async_send_to(cl, srv, hook_post());
        REQUIRE_MESSAGE(second.has_value(), describe(second));
        CHECK(second->status == 200);
        CHECK(srv->accepted() == 2);
        CHECK(srv->requests() == 2);
        CHECK(srv->seen().back().body == R"({"event":1})");
    });
}

TEST_CASE("a reused connection that dies before any response byte is retried once on a fresh one "
          "for a GET") {
    // The second request on each connection finds it closed.
    served_client h({.drop_request_number = 2});

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto first = co_await async_send_to(cl, srv);
        REQUIRE_MESSAGE(first.has_value(), describe(first));
        auto second = co_await async_send_to(cl, srv);
        REQUIRE_MESSAGE(second.has_value(), describe(second));
        CHECK(second->status == 200);
        CHECK(srv->accepted() == 2);
        CHECK(srv->requests() == 3);
        CHECK(cl->stats().open == 1);
    });
}

TEST_CASE("the retry on a fresh connection happens exactly once") {
    served_client h({.answer_limit = 1}); // every request after the first is dropped

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto first = co_await async_send_to(cl, srv);
        REQUIRE_MESSAGE(first.has_value(), describe(first));
        auto second = co_await async_send_to(cl, srv);
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().kind == failure::io);
        CHECK(srv->accepted() == 2);
        CHECK(srv->requests() == 3);
        CHECK(cl->stats().open == 0);
    });
}

TEST_CASE(
    "a POST on a reused connection that dies after the request was written is not sent twice") {
    served_client h({.drop_request_number = 2});

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto first = co_await async_send_to(cl, srv);
        REQUIRE(first.has_value());

        auto second = co_await async_send_to(cl, srv, hook_post());
        // The request left in full before the close showed: it may have been acted on.
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().kind == failure::io);
        CHECK(srv->accepted() == 1);
        CHECK(srv->requests() == 2);
    });
}

TEST_CASE("Connection: close responses are honoured and the connection is not reused") {
    served_client h({.connection_close = true});

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto res = co_await async_send_to(cl, srv);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(cl->stats().open == 0);
        }
        CHECK(srv->accepted() == 3);
    });
}

TEST_CASE(
    "a body delimited by EOF without close_notify is accepted and the connection not reused") {
    served_client h({.body = std::string(3000, 'e'), .eof_body = true});

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto res = co_await async_send_to(cl, srv);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(res->body == std::string(3000, 'e'));
            CHECK(res->headers.count(bhttp::field::content_length) == 0);
            CHECK(cl->stats().open == 0);
        }
        CHECK(srv->accepted() == 2);
    });
}

// Bytes that show a reordering or a lost stretch: "abc...z" over and over, `n` of them.
std::string lettered(std::size_t n) {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<char>('a' + i % 26);
    return out;
}

TEST_CASE("a request and an answer many TLS records long arrive whole, though the socket cannot "
          "take the request at once, and the connection is kept") {
    // 4 MiB is more than a loopback socket takes before the server (on the same thread) reads:
    // the rest of the request waits for room. 3 MiB back is about 200 records.
    served_client h({.body = lettered(3u << 20)});

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        request req = get("/upload");
        req.method = bhttp::verb::post;
        req.body = lettered(4u << 20);
        auto res = co_await async_send_to(cl, srv, std::move(req));
        REQUIRE_MESSAGE(res.has_value(), describe(res));
        CHECK(res->body == lettered(3u << 20));
        REQUIRE(srv->seen().size() == 1);
        CHECK(srv->seen().front().body == lettered(4u << 20));

        auto again = co_await async_send_to(cl, srv);
        REQUIRE_MESSAGE(again.has_value(), describe(again));
        CHECK(again->body == lettered(3u << 20));
        CHECK(srv->accepted() == 1);
    });
}

TEST_CASE("an idle connection is closed after idle_timeout") {
    auto opts = trusting_options();
    opts.idle_timeout = 100ms;
    served_client h({}, opts);

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto res = co_await async_send_to(cl, srv);
        REQUIRE(res.has_value());
        const auto idle_since = steady::now();
        CHECK(cl->stats().open == 1);
        co_await srv->async_wait_closed(1); // the server sees the client hang up
        CHECK(steady::now() - idle_since >= 90ms);
        CHECK(cl->stats().open == 0);

        auto again = co_await async_send_to(cl, srv);
        REQUIRE(again.has_value());
        CHECK(srv->accepted() == 2);
    });
}

TEST_CASE("plain http endpoints work without TLS") {
    served_client h(nullptr);

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ep = local_endpoint(srv->port(), "127.0.0.1", "http");
        for (int i = 0; i < 2; ++i) {
            auto res = co_await cl->async_send(ep, get(), steady::now() + 5s);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(res->body == "hello");
        }
        CHECK(srv->accepted() == 1);
    });
}

TEST_CASE("requests tunnel through an HTTP CONNECT proxy with basic auth") {
    proxied_client h(false, "us%65r:pa%20ss");

    h.run([](test_https_server* srv, connect_proxy* px, client* cl) -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto res = co_await async_send_to(cl, srv);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(res->body == "hello");
        }
        REQUIRE(px->requests().size() == 1); // one tunnel, kept alive
        const auto& req = px->requests().front();
        CHECK(req.method() == bhttp::verb::connect);
        CHECK(req.target() == "127.0.0.1:" + std::to_string(srv->port()));
        CHECK(req[bhttp::field::proxy_authorization] == "Basic dXNlcjpwYSBzcw=="); // user:pa ss
        CHECK(srv->seen().front().headers.count(bhttp::field::proxy_authorization) == 0);
    });
}

TEST_CASE("a proxy answering 407 is a proxy failure naming the status, without the password") {
    proxied_client h(true, "user:hunter2");

    h.run([](test_https_server* srv, connect_proxy*, client* cl) -> asio::awaitable<void> {
        auto res = co_await async_send_to(cl, srv);
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::proxy);
        CHECK(res.error().message.find("407") != std::string::npos);
        CHECK(res.error().message.find("hunter2") == std::string::npos);
        CHECK(srv->accepted() == 0);
        CHECK(cl->stats().open == 0);
    });
}

TEST_CASE("HTTPS_PROXY is used and NO_PROXY bypasses it for listed hosts") {
    asio::io_context io;
    test_https_server server(io.get_executor(), &shared_pki().local);
    connect_proxy proxy(io.get_executor(),
                        true); // would refuse: reaching the server proves the bypass
    ::setenv("HTTPS_PROXY", ("http://127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
    ::setenv("NO_PROXY", "example.com, 127.0.0.1", 1);
    auto opts = trusting_options();
    opts.proxy_from_environment = true;
    client bypassing(io.get_executor(), opts);
    ::setenv("NO_PROXY", "example.com", 1);
    client proxied(io.get_executor(), opts);
    ::unsetenv("HTTPS_PROXY");
    ::unsetenv("NO_PROXY");

    run(io,
        [](test_https_server* srv, connect_proxy* px, client* direct,
           client* via) -> asio::awaitable<void> {
            auto res =
                co_await direct->async_send(local_endpoint(srv->port()), get(), steady::now() + 5s);
            REQUIRE_MESSAGE(res.has_value(), describe(res));
            CHECK(px->requests().empty());

            auto refused =
                co_await via->async_send(local_endpoint(srv->port()), get(), steady::now() + 5s);
            REQUIRE_FALSE(refused.has_value());
            CHECK(refused.error().kind == failure::proxy);
            CHECK(px->requests().size() == 1);
        }(&server, &proxy, &bypassing, &proxied));
}

TEST_CASE("shutdown fails queued and later requests as cancelled while in-flight ones finish") {
    served_client h({.delay = 50ms}, with_max_connections(1));

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::vector<std::optional<send_result>> results(3);
        countdown done(ex, 3);
        for (auto& r : results)
            asio::co_spawn(
                ex,
                send_into(cl, local_endpoint(srv->port()), get(), steady::now() + 10s, &r, &done),
                asio::detached);
        co_await asio::post(ex, asio::use_awaitable);
        CHECK(cl->stats().queued == 2);
        cl->shutdown();
        co_await done.async_wait();

        REQUIRE(results[0]->has_value());
        CHECK((*results[0])->status == 200);
        for (std::size_t i = 1; i < 3; ++i) {
            REQUIRE_FALSE(results[i]->has_value());
            CHECK(results[i]->error().kind == failure::cancelled);
        }
        auto later = co_await async_send_to(cl, srv);
        REQUIRE_FALSE(later.has_value());
        CHECK(later.error().kind == failure::cancelled);
        auto s = cl->stats();
        CHECK(s.open == 0);
        CHECK(s.busy == 0);
        CHECK(s.queued == 0);
    });
}

TEST_CASE("a request in flight when the client shuts down still ends at its deadline") {
    served_client h({.hang = true}); // reads each request, never answers

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<send_result> result;
        countdown done(ex, 1);
        const auto start = steady::now();
        asio::co_spawn(
            ex, send_into(cl, local_endpoint(srv->port()), get(), start + 400ms, &result, &done),
            asio::detached);
        // Shut down once the request is on the wire (the server has it), not before.
        co_await srv->async_wait_requests(1);
        cl->shutdown();
        co_await done.async_wait();
        const auto elapsed = steady::now() - start;
        REQUIRE(result.has_value());
        REQUIRE_FALSE(result->has_value());
        CHECK(result->error().kind == failure::timeout);
        CHECK(elapsed >= 400ms);
        CHECK(elapsed < 400ms + 700ms); // a correctness bound, not a speed test
    });
}

TEST_CASE("a client destroyed mid-request lets the request finish") {
    asio::io_context io;
    test_server_options so;
    so.delay = 20ms;
    test_https_server server(io.get_executor(), &shared_pki().local, so);
    auto c = std::make_unique<client>(io.get_executor(), trusting_options());

    run(io, [](test_https_server* srv, std::unique_ptr<client>* owner) -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<send_result> result;
        countdown done(ex, 1);
        asio::co_spawn(ex,
                       send_into(owner->get(), local_endpoint(srv->port()), get(),
                                 steady::now() + 5s, &result, &done),
                       asio::detached);
        co_await asio::post(ex, asio::use_awaitable);
        owner->reset();
        co_await done.async_wait();
        REQUIRE_MESSAGE(result->has_value(), describe(*result));
    }(&server, &c));
}

TEST_CASE("a missing ca_file is a start-up error naming the file") {
    asio::io_context io;
    client_options opts;
    opts.ca_file = "/nonexistent/ca.pem";
    try {
        client c(io.get_executor(), opts);
        FAIL("no exception");
    } catch (const setup_error& e) {
        CHECK(std::string(e.what()).find("/nonexistent/ca.pem") != std::string::npos);
    }

    test::temp_dir dir;
    auto garbage = dir.file("garbage.pem");
    std::ofstream(garbage) << "not a certificate\n";
    opts.ca_file = garbage;
    CHECK_THROWS_AS(client(io.get_executor(), opts), setup_error);

    opts.ca_file.reset();
    ::setenv("HTTPS_PROXY", "http://proxy:notaport", 1);
    CHECK_THROWS_WITH_AS(client(io.get_executor(), opts),
                         "$HTTPS_PROXY: proxy URL: bad port \"notaport\"", setup_error);
    ::unsetenv("HTTPS_PROXY");
}

TEST_CASE(
    "a request that would inject header lines is refused as protocol without echoing the value") {
    served_client h;

    h.run([](test_https_server* srv, client* cl) -> asio::awaitable<void> {
        auto req = get();
        req.headers.emplace_back("X-Auth-Token", "secret\r\nX-Evil: 1");
        auto res = co_await async_send_to(cl, srv, std::move(req));
        REQUIRE_FALSE(res.has_value());
        CHECK(res.error().kind == failure::protocol);
        CHECK(res.error().message.find("X-Auth-Token") != std::string::npos);
        CHECK(res.error().message.find("secret") == std::string::npos);

        auto bad_target = co_await cl->async_send(local_endpoint(srv->port()), get("no-slash"),
                                                  steady::now() + 5s);
        REQUIRE_FALSE(bad_target.has_value());
        CHECK(bad_target.error().kind == failure::protocol);
        CHECK(srv->accepted() == 0);
    });
}
