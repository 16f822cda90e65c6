// http::server over real sockets on 127.0.0.1: keep-alive, limits, deadlines, the connection
// cap, connection takeover (and the simulator's fault replies made of it), TLS versions and
// graceful stop. The server runs on its own io_context thread; the test thread is the client.
#include "support/files.hpp"
#include "support/http_request.hpp"
#include "support/wait.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/sim/fault_replies.hpp"
#include "taskwatch/sim/tls.hpp"

#include <doctest/doctest.h>

#include <boost/asio.hpp>

#include <future>
#include <thread>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

http::server_response text(unsigned status, std::string body) {
    http::server_response res{static_cast<bhttp::status>(status), 11};
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = std::move(body);
    return res;
}

// A server on its own thread, stopped and joined on destruction.
struct running_server {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{
        io.get_executor()}; // run() waits for stop()
    std::unique_ptr<http::server> server;
    std::thread thread;
    bool stopped = false;

    running_server(http::server_options opts, http::handler h) {
        opts.log = [](std::string_view) {};
        server = std::make_unique<http::server>(io.get_executor(), std::move(opts), std::move(h));
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~running_server() {
        if (thread.joinable()) {
            if (!stopped) stop(100ms);
            work.reset();
            io.stop();
            thread.join();
        }
    }
    std::uint16_t port() const { return server->port(); }

    /// Runs async_stop on the server's thread and waits until it completed.
    std::chrono::milliseconds stop(std::chrono::milliseconds drain) {
        stopped = true;
        std::promise<void> done;
        const auto start = std::chrono::steady_clock::now();
        asio::co_spawn(io, server->async_stop(drain),
                       [&](std::exception_ptr) { done.set_value(); });
        done.get_future().wait();
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
    }
    http::server_stats stats() {
        std::promise<http::server_stats> p;
        asio::post(io, [&] { p.set_value(server->stats()); });
        return p.get_future().get();
    }
};

http::handler echo_handler() {
    return [](const http::request_context& ctx) -> asio::awaitable<http::reply> {
        co_return http::reply::respond(text(200, std::string(ctx.target()) + " #" +
                                                     std::to_string(ctx.request_on_connection) +
                                                     " c" + std::to_string(ctx.connection_id) +
                                                     (ctx.remote_is_loopback ? " loopback" : "")));
    };
}

// A blocking plain-TCP client for raw protocol tests, with a receive timeout so no test hangs.
struct raw_client {
    asio::io_context io;
    tcp::socket socket{io};
    explicit raw_client(std::uint16_t port) {
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        timeval tv{5, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    void send(const std::string& s) { asio::write(socket, asio::buffer(s)); }
    /// Reads until the peer closes (or an error); returns what came and the final error.
    std::pair<std::string, boost::system::error_code> read_all() {
        // Plain recv(): asio's blocking read would retry past SO_RCVTIMEO instead of giving up.
        std::string out;
        char buf[4096];
        for (;;) {
            auto n = ::recv(socket.native_handle(), buf, sizeof buf, 0);
            if (n > 0) {
                out.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) return {out, asio::error::eof};
            if (errno == EINTR) continue;
            return {out, boost::system::error_code(errno, boost::system::system_category())};
        }
    }
    /// Reads a response head, up to the blank line.
    std::string read_head() {
        std::string out;
        char c;
        while (out.find("\r\n\r\n") == std::string::npos) {
            asio::read(socket, asio::buffer(&c, 1));
            out.push_back(c);
        }
        return out;
    }
    /// Reads one response (head + Content-Length body).
    std::string read_response() {
        std::string out = read_head();
        auto pos = out.find("Content-Length: ");
        std::size_t length = pos == std::string::npos ? 0 : std::stoul(out.substr(pos + 16));
        std::string body(length, '\0');
        asio::read(socket, asio::buffer(body));
        return out + body;
    }
};

} // namespace

TEST_CASE(
    "keep-alive: requests on one connection reach the handler in order with the peer's address") {
    running_server s({}, echo_handler());
    raw_client c(s.port());
    c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    auto first = c.read_response();
    auto second = c.read_response();
    CHECK(first.find("/a #1 c1 loopback") != std::string::npos);
    CHECK(second.find("/b #2 c1 loopback") != std::string::npos);
    c.send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto [rest, ec] = c.read_all();
    CHECK(rest.find("/c #3") != std::string::npos);
    CHECK(rest.find("Connection: close") != std::string::npos);
    CHECK(ec == asio::error::eof);
}

TEST_CASE("a body over the limit gets 413 and headers over the limit get 431, then the connection "
          "closes") {
    http::server_options o;
    o.body_limit = 100;
    o.header_limit = 1024;
    running_server s(o, echo_handler());
    {
        raw_client c(s.port());
        c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
               std::string(1000, 'a'));
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
    }
    {
        raw_client c(s.port());
        c.send("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 431", 0) == 0);
    }
    {
        raw_client c(s.port());
        c.send("NONSENSE\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
    }
    CHECK(s.stats().bad_requests == 3);
}

// RFC 9112 6.1/6.3: a body's length must be unambiguous, or a proxy in front of us and we could
// disagree on where the next request starts (request smuggling). After the bad request comes a
// second one that must never reach the handler.
TEST_CASE("a request whose Transfer-Encoding is not exactly chunked gets 400 or 501, and the "
          "connection closes") {
    running_server s({}, echo_handler());
    const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    struct bad_framing {
        std::string headers;
        std::string status;
    };
    const std::vector<bad_framing> cases{
        {"Transfer-Encoding: xchunked\r\n", "400"},
        {"Transfer-Encoding: identity\r\n", "400"},
        {"Transfer-Encoding: chunked, identity\r\n", "400"},
        {"Transfer-Encoding: chunked, chunked\r\n", "400"},
        {"Transfer-Encoding: \r\n", "400"},
        {"Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n", "400"},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "400"},
        {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "400"},
        {"Content-Length: 5\r\nContent-Length: 6\r\n", "400"},
        // Valid framing, but a coding we do not implement (RFC 9112 6.1: 501).
        {"Transfer-Encoding: gzip, chunked\r\n", "501"},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "501"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.headers);
        raw_client client(s.port());
        client.send("POST /x HTTP/1.1\r\nHost: x\r\n" + c.headers + "\r\n0\r\n\r\n" + smuggled);
        auto [out, ec] = client.read_all();
        CHECK(out.rfind("HTTP/1.1 " + c.status, 0) == 0);
        CHECK(out.find("Connection: close") != std::string::npos);
        CHECK(out.find("/smuggled") == std::string::npos);
        CHECK(out.find("/x #1") == std::string::npos);
        CHECK(ec == asio::error::eof);
    }
    {
        // HTTP/1.0 has no Transfer-Encoding: RFC 9112 6.1 says treat the framing as faulty.
        raw_client client(s.port());
        client.send("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        auto [out, ec] = client.read_all();
        CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
    }
    {
        // Exactly chunked is fine, whatever its case, and the connection stays open.
        raw_client client(s.port());
        client.send("POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                    "3\r\nabc\r\n0\r\n\r\n");
        auto first = client.read_response();
        CHECK(first.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(first.find("/ok #1") != std::string::npos);
        client.send(smuggled);
        CHECK(client.read_response().find("/smuggled #2") != std::string::npos);
    }
    CHECK(s.stats().bad_requests == cases.size() + 1);
    CHECK(s.stats().requests == 2);
}

TEST_CASE("a request-target over the limit gets 414, not 431, and the connection closes") {
    {
        running_server s({}, echo_handler()); // the defaults: 8 KiB target, 16 KiB headers
        raw_client c(s.port());
        c.send("GET /" + std::string(10 << 10, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 414", 0) == 0);
        CHECK(ec == asio::error::eof);
        CHECK(s.stats().requests == 0);
        CHECK(s.stats().bad_requests == 1);
    }
    http::server_options o;
    o.header_limit = 1024;
    o.target_limit = 512;
    running_server s(o, echo_handler());
    {
        // Longer than all the headers may be: the parser gives up before the line ends.
        raw_client c(s.port());
        c.send("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 414", 0) == 0);
        CHECK(ec == asio::error::eof);
    }
    {
        raw_client c(s.port());
        c.send("GET /" + std::string(600, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 414", 0) == 0);
    }
    {
        // A short target with big headers is still 431; a target at the limit is served.
        raw_client c(s.port());
        c.send("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.rfind("HTTP/1.1 431", 0) == 0);
    }
    {
        raw_client c(s.port());
        c.send("GET /" + std::string(511, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(c.read_response().rfind("HTTP/1.1 200", 0) == 0);
    }
}

TEST_CASE("a client that sends its request too slowly is cut off at the request deadline") {
    http::server_options o;
    o.request_timeout = 300ms;
    running_server s(o, echo_handler());
    raw_client c(s.port());
    const auto start = std::chrono::steady_clock::now();
    c.send("GET /slow HTTP/1.1\r\nHost: x\r\n"); // and never the blank line
    auto [out, ec] = c.read_all();
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(out.empty());
    CHECK(ec); // closed by the server, not our 5 s receive timeout
    CHECK(took < 3s);
    CHECK(took >= 250ms);
    // The server counts just after the client saw the effect: poll the counter briefly.
    CHECK(test::wait_until([&] { return s.stats().timeouts == 1; }, 2s, 1ms));
}

TEST_CASE("connections beyond max_connections are closed at once and counted") {
    http::server_options o;
    o.max_connections = 2;
    running_server s(o, echo_handler());
    raw_client a(s.port()), b(s.port());
    // Make sure both are being served before the third arrives.
    a.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    a.read_response();
    b.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    b.read_response();
    raw_client c(s.port());
    auto [out, ec] = c.read_all();
    CHECK(out.empty());
    CHECK((ec == asio::error::connection_reset || ec == asio::error::eof));
    CHECK(s.stats().connections_rejected == 1);
    CHECK(s.stats().connections_active == 2);
}

TEST_CASE("HEAD gets the GET's Content-Length and no body") {
    running_server s({}, echo_handler());
    raw_client c(s.port());
    c.send("HEAD /thing HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    // If HEAD carried a body, the second response would not start right after the first head.
    auto head = c.read_head();
    CHECK(head.find("Content-Length: 0") == std::string::npos);
    CHECK(head.find("Content-Length: ") != std::string::npos);
    auto next = c.read_response();
    CHECK(next.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(next.find("/next") != std::string::npos);
}

TEST_CASE("the simulator's fault replies: reset sends RST, truncate cuts the body, hang answers "
          "nothing until the client leaves") {
    running_server s({}, [](const http::request_context& ctx) -> asio::awaitable<http::reply> {
        if (ctx.target() == "/reset") co_return sim::reset_reply();
        if (ctx.target() == "/hang") co_return sim::hang_reply();
        co_return sim::truncated_reply(text(200, std::string(1000, 'x')), ctx.message.version());
    });
    {
        raw_client c(s.port());
        c.send("GET /reset HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.empty());
        CHECK(ec == asio::error::connection_reset);
    }
    {
        raw_client c(s.port());
        c.send("GET /truncate HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.find("Content-Length: 1000") != std::string::npos);
        auto body = out.substr(out.find("\r\n\r\n") + 4);
        CHECK(body.size() == 500);
        CHECK(ec == asio::error::eof);
    }
    {
        raw_client c(s.port());
        timeval tv{0, 300'000};
        ::setsockopt(c.socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        c.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.empty());
        CHECK((ec == asio::error::would_block ||
               ec == asio::error::try_again)); // our timeout, not a close
    }
}

TEST_CASE("a handler that takes the connection over writes its own bytes, may reset it or wait "
          "for the client to leave, and the server closes it afterwards") {
    running_server s({}, [](const http::request_context& ctx) -> asio::awaitable<http::reply> {
        if (ctx.target() == "/abort")
            co_return http::reply::take_over([](http::raw_connection& c) -> asio::awaitable<void> {
                c.abort();
                co_return;
            });
        if (ctx.target() == "/wait")
            co_return http::reply::take_over([](http::raw_connection& c) -> asio::awaitable<void> {
                co_await c.async_wait_closed();
            });
        if (ctx.target() == "/throw")
            co_return http::reply::take_over([](http::raw_connection&) -> asio::awaitable<void> {
                throw std::runtime_error("boom");
                co_return;
            });
        co_return http::reply::take_over([](http::raw_connection& c) -> asio::awaitable<void> {
            static constexpr std::string_view part =
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
            co_await c.async_write(asio::buffer(part));
        });
    });
    {
        raw_client c(s.port());
        c.send("GET /part HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out == "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
        CHECK(ec == asio::error::eof); // closed by the server, as a takeover always is
    }
    {
        raw_client c(s.port());
        c.send("GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.empty());
        CHECK(ec == asio::error::connection_reset);
    }
    {
        raw_client c(s.port());
        c.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
        auto [out, ec] = c.read_all();
        CHECK(out.empty());
        CHECK(ec == asio::error::eof);
        CHECK(test::wait_until([&] { return s.stats().handler_errors == 1; }, 2s, 1ms));
    }
    raw_client waiting(s.port());
    timeval tv{0, 300'000};
    ::setsockopt(waiting.socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    waiting.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    auto [nothing, wait_ec] = waiting.read_all();
    CHECK(nothing.empty());
    CHECK((wait_ec == asio::error::would_block || wait_ec == asio::error::try_again));
    // A connection waiting for its client counts as idle: a graceful stop closes it at once.
    CHECK(s.stop(5s) < 2s);
    auto [after, closed_ec] = waiting.read_all();
    CHECK(after.empty());
    CHECK(closed_ec == asio::error::eof);
}

TEST_CASE("an exception escaping the handler becomes a 500 and the server keeps serving") {
    running_server s({}, [](const http::request_context& ctx) -> asio::awaitable<http::reply> {
        if (ctx.target() == "/throw") throw std::runtime_error("boom");
        co_return http::reply::respond(text(200, "fine"));
    });
    test::server_address to{s.port(), {}};
    CHECK(test::http_request(to, bhttp::verb::get, "/throw").status == 500);
    CHECK(test::http_request(to, bhttp::verb::get, "/ok").status == 200);
    CHECK(s.stats().handler_errors == 1);
}

TEST_CASE(
    "graceful stop lets an in-flight answer finish, closes idle connections and stops accepting") {
    running_server s({}, [](const http::request_context& ctx) -> asio::awaitable<http::reply> {
        if (ctx.target() == "/slow") {
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(300ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        co_return http::reply::respond(text(200, "done"));
    });
    raw_client idle(s.port());
    idle.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    idle.read_response();
    raw_client busy(s.port());
    busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    // Wait until the slow request is inside the handler.
    while (s.stats().requests < 2)
        std::this_thread::yield();
    auto took = s.stop(5s);
    CHECK(took < 3s);
    auto [answer, ec] = busy.read_all();
    CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(answer.find("Connection: close") != std::string::npos);
    auto [nothing, idle_ec] = idle.read_all();
    CHECK(nothing.empty());
    CHECK(idle_ec);
    asio::io_context io;
    tcp::socket late(io);
    boost::system::error_code cec;
    late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()), cec);
    CHECK(cec == asio::error::connection_refused);
}

TEST_CASE("graceful stop closes what is still busy after the drain deadline") {
    running_server s({}, [](const http::request_context&) -> asio::awaitable<http::reply> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        t.expires_after(30s);
        co_await t.async_wait(asio::use_awaitable);
        co_return http::reply::respond(text(200, "too late"));
    });
    raw_client c(s.port());
    c.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
    while (s.stats().requests < 1)
        std::this_thread::yield();
    auto took = s.stop(200ms);
    CHECK(took >= 150ms);
    CHECK(took < 3s);
    auto [out, ec] = c.read_all();
    CHECK(out.empty());
    CHECK(ec);
    CHECK(s.stats().connections_active == 0);
}

TEST_CASE("TLS: the server speaks TLS 1.2+ with the given certificate and refuses TLS 1.1") {
    test::temp_dir dir("server-tls");
    auto files = sim::write_self_signed(dir.path());
    http::server_options o;
    o.tls = http::make_server_tls_context(files.server_cert, files.server_key);
    running_server s(o, echo_handler());
    test::server_address to{s.port(), files.ca_cert};
    auto ok = test::http_request(to, bhttp::verb::get, "/secure");
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
    CHECK(ok.body.find("/secure") != std::string::npos);

    asio::io_context io;
    asio::ssl::context old(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(old.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_security_level(old.native_handle(), 0);
    asio::ssl::stream<tcp::socket> stream(io, old);
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::client, ec);
    CHECK(ec);
    CHECK(test::wait_until([&] { return s.stats().handshakes_failed >= 1; }, 2s, 1ms));
}

TEST_CASE("start fails with a message naming the address when the port is taken") {
    running_server first({}, echo_handler());
    asio::io_context io;
    http::server_options o;
    o.listen = tcp::endpoint(asio::ip::make_address("127.0.0.1"), first.port());
    http::server second(io.get_executor(), o, echo_handler());
    try {
        second.start();
        FAIL("start() should have thrown");
    } catch (const http::server_error& e) {
        CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())) !=
              std::string::npos);
    }
}

TEST_CASE("listen addresses parse host:port, [v6]:port and :port, and reject the rest by name") {
    CHECK(http::parse_listen_address("127.0.0.1:0")->port() == 0);
    CHECK(http::parse_listen_address("[::1]:9817")->address().to_string() == "::1");
    CHECK(http::parse_listen_address(":9817")->address().to_string() == "0.0.0.0");
    CHECK(http::parse_listen_address("localhost:80")->address().to_string() == "127.0.0.1");
    CHECK(http::parse_listen_address("127.0.0.1:99999").error().find("99999") != std::string::npos);
    CHECK(http::parse_listen_address("example.com:80").error().find("example.com") !=
          std::string::npos);
    CHECK_FALSE(http::parse_listen_address("127.0.0.1").has_value());
}
