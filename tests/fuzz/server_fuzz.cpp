// Fuzzes the server's request handling: the input is what a client sends on one connection
// (one request or several, pipelined), written over loopback TCP to the real http::server in
// this process, which serves the daemon's routes (web::make_handler). The server must answer or
// close, never crash or hang: the connection has to end within the deadline below.
#include "support/io.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/web/routes.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

namespace asio = boost::asio;
using namespace taskwatch;
using namespace std::chrono_literals;

poll::task_table sample_tasks() {
    poll::task_table m;
    poll::watched_task tt;
    tt.state.key = {"p", "d1", "t1"};
    task::observation o;
    o.status = modelarts::task_status::running;
    o.progress = 0.42;
    o.task_name = "task <t1> & \"quotes\"";
    o.total_sample_count = 49;
    o.annotated_sample_count = 30;
    tt.state.last = o;
    tt.state.up = true;
    tt.labels = poll::shared_labels({{"team", "vision"}});
    m.tasks.emplace(tt.state.key, std::move(tt));
    return m;
}

struct setup {
    asio::io_context io{1};
    poll::task_table tasks = sample_tasks();
    poll::watcher_stats stats;
    std::unique_ptr<http::server> server;

    setup() {
        web::site site;
        site.metrics = [] { return std::string("# TYPE up gauge\nup 1\n"); };
        site.metrics_stream = [] {
            return http::body_stream([n = 0](std::string& out) mutable {
                out += "up{piece=\"" + std::to_string(n) + "\"} 1\n";
                return ++n < 3;
            });
        };
        site.tasks = [this]() -> const poll::task_view& { return tasks; };
        site.stats = [this]() -> const poll::watcher_stats& { return stats; };
        site.ready = [] { return true; };
        site.now = [] { return task::time_point(std::chrono::seconds(1'764'475'200)); };
        http::server_options o;
        // The daemon's limits would let one input take seconds; smaller ones reach the same code.
        o.body_limit = 64u << 10;
        o.header_limit = 8u << 10;
        o.request_timeout = 2s;
        o.write_timeout = 2s;
        o.log = [](std::string_view) {};
        server = std::make_unique<http::server>(io.get_executor(), std::move(o),
                                                web::make_handler(std::move(site)));
        server->start();
    }
};

// Sends `input`, half-closes, reads until the server closes.
asio::awaitable<void> exchange(asio::ip::tcp::endpoint to, std::string input) {
    asio::ip::tcp::socket sock(co_await asio::this_coro::executor);
    co_await sock.async_connect(to, asio::use_awaitable);
    boost::system::error_code ec;
    co_await asio::async_write(sock, asio::buffer(input),
                               asio::redirect_error(asio::use_awaitable, ec));
    sock.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    std::array<char, 4096> buf{};
    for (;;) {
        co_await sock.async_read_some(asio::buffer(buf),
                                      asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
    }
    // No TIME_WAIT on this side: long runs make many connections.
    sock.set_option(asio::socket_base::linger(true, 0), ec);
    sock.close(ec);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static setup* const s = new setup; // reachable for the process's life: not a leak
    // The server must answer or close within 5 s: a run_timeout escapes, and libFuzzer reports it.
    test::run(s->io,
              exchange(s->server->local_endpoint(),
                       std::string(reinterpret_cast<const char*>(data), size)),
              5s);
    return 0;
}
