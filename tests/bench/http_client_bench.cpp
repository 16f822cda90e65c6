// Benchmark of taskwatch::http::client: M GETs with N in flight over keep-alive TLS.
//
//   http_client_bench --url https://127.0.0.1:PORT/path --ca FILE --connections 1,16,256
//                     --requests 10000 [--header 'K: V']... [--timeout MS] [--baseline]
//
// Without --url it starts its own TLS server on a second thread (test CA made at start)
// and counts only the client thread's CPU time.
#include "taskwatch/http/client.hpp"
#include "taskwatch/http/tls_context.hpp"

#include "support/files.hpp"
#include "support/pki.hpp"
#include "support/test_https_server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace taskwatch::http;
using steady = std::chrono::steady_clock;

namespace {

struct bench_args {
    std::optional<std::string> url;
    std::optional<std::string> ca;
    std::vector<std::size_t> connections{16};
    std::size_t requests = 10000;
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds timeout{10000};
    std::size_t body_size = 512; // built-in server only
    bool baseline = false;       // also run a bare Beast loop for comparison
};

[[noreturn]] void usage(const std::string& problem) {
    std::cerr
        << "http_client_bench: " << problem << "\n"
        << "usage: http_client_bench [--url https://HOST:PORT/PATH --ca FILE] [--connections "
           "N[,N...]]\n"
        << "                         [--requests M] [--header 'K: V']... [--timeout MS]\n"
        << "                         [--body-size BYTES (built-in server)] [--baseline]\n"
        << "--baseline also measures a bare Beast client (one TLS stream per coroutine, no pool)\n"
        << "as the floor to compare the client against.\n";
    std::exit(2);
}

std::size_t parse_count(const std::string& what, const std::string& text) {
    try {
        std::size_t used = 0;
        auto v = std::stoull(text, &used);
        if (used != text.size() || v == 0) throw std::invalid_argument(text);
        return static_cast<std::size_t>(v);
    } catch (const std::exception&) {
        usage(what + ": expected a positive number, got '" + text + "'");
    }
}

bench_args parse_args(int argc, char** argv) {
    bench_args a;
    for (int i = 1; i < argc; ++i) {
        std::string opt = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(opt + " needs a value");
            return argv[++i];
        };
        if (opt == "--url") {
            a.url = value();
        } else if (opt == "--ca") {
            a.ca = value();
        } else if (opt == "--connections") {
            a.connections.clear();
            std::stringstream ss(value());
            for (std::string item; std::getline(ss, item, ',');)
                a.connections.push_back(parse_count("--connections", item));
        } else if (opt == "--requests") {
            a.requests = parse_count("--requests", value());
        } else if (opt == "--header") {
            auto h = value();
            auto colon = h.find(':');
            if (colon == std::string::npos || colon == 0) usage("--header: expected 'Name: value'");
            auto v = h.substr(colon + 1);
            v.erase(0, v.find_first_not_of(' '));
            a.headers.emplace_back(h.substr(0, colon), v);
        } else if (opt == "--timeout") {
            a.timeout = std::chrono::milliseconds(parse_count("--timeout", value()));
        } else if (opt == "--body-size") {
            a.body_size = parse_count("--body-size", value());
        } else if (opt == "--baseline") {
            a.baseline = true;
        } else if (opt == "--help" || opt == "-h") {
            usage("help");
        } else {
            usage("unknown option " + opt);
        }
    }
    return a;
}

double cpu_seconds(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    auto sec = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

struct round_state {
    client* c = nullptr;
    asio::io_context* io = nullptr;
    endpoint ep;
    request req;
    std::chrono::milliseconds timeout{};
    std::size_t total = 0;
    std::size_t next = 0;
    std::size_t finished = 0;
    std::vector<double> latency_ms;
    std::map<unsigned, std::size_t> statuses;
    std::map<std::string, std::size_t> failures;
    std::optional<std::string> first_failure;
};

asio::awaitable<void> worker(round_state* st) {
    while (st->next < st->total) {
        const std::size_t idx = st->next++;
        const auto start = steady::now();
        auto res = co_await st->c->async_send(st->ep, st->req, start + st->timeout);
        st->latency_ms[idx] =
            std::chrono::duration<double, std::milli>(steady::now() - start).count();
        if (res) {
            ++st->statuses[res->status];
        } else {
            ++st->failures[std::string(to_string(res.error().kind))];
            if (!st->first_failure) st->first_failure = res.error().message;
        }
        if (++st->finished == st->total)
            st->io->stop(); // the pool's idle timers would keep run() going
    }
}

// The floor: what a minimal Beast client costs for the same exchange (no pool, no queue).
struct bare_round {
    round_state* st = nullptr;
    asio::ssl::context* ctx = nullptr;
    int rusage_who = RUSAGE_SELF;
    std::size_t workers = 0;
    std::size_t ready = 0;
    std::size_t done = 0;
    std::optional<asio::steady_timer> gate; // released when every worker has warmed up
    double cpu0 = 0, cpu1 = 0;
    steady::time_point wall0{}, wall1{};
};

asio::awaitable<void> bare_worker(bare_round* b) {
    namespace beast = boost::beast;
    namespace bhttp = boost::beast::http;
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
    round_state* st = b->st;
    beast::ssl_stream<beast::tcp_stream> stream(co_await asio::this_coro::executor, *b->ctx);
    beast::flat_buffer buffer;
    bool usable = false;
    if (auto id = set_peer_identity(stream.native_handle(), st->ep.host); id) {
        auto [cec] = co_await beast::get_lowest_layer(stream).async_connect(
            asio::ip::tcp::endpoint(asio::ip::make_address(st->ep.host), st->ep.port), use_tuple);
        if (!cec) {
            beast::get_lowest_layer(stream).socket().set_option(asio::ip::tcp::no_delay(true));
            auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
            usable = !hec;
            if (hec && !st->first_failure) st->first_failure = "bare handshake: " + hec.message();
        }
    }

    for (bool measuring = false;;) {
        if (measuring && (st->next >= st->total || !usable)) break;
        if (measuring || usable) {
            const std::size_t idx = measuring ? st->next++ : 0;
            const auto start = steady::now();
            bhttp::request<bhttp::empty_body> req{bhttp::verb::get, st->req.target, 11};
            req.set(bhttp::field::host, st->ep.host_header());
            req.set(bhttp::field::user_agent, "taskwatch");
            for (const auto& [k, v] : st->req.headers)
                req.insert(k, v);
            beast::get_lowest_layer(stream).expires_after(st->timeout);
            auto [wec, w] = co_await bhttp::async_write(stream, req, use_tuple);
            bhttp::response<bhttp::string_body> res;
            auto [rec, r] = co_await bhttp::async_read(stream, buffer, res, use_tuple);
            if (wec || rec) usable = false;
            if (measuring) {
                st->latency_ms[idx] =
                    std::chrono::duration<double, std::milli>(steady::now() - start).count();
                if (wec || rec)
                    ++st->failures[(wec ? wec : rec).message()];
                else
                    ++st->statuses[res.result_int()];
            }
        }
        if (!measuring) {
            measuring = true;
            if (++b->ready == b->workers) {
                b->cpu0 = cpu_seconds(b->rusage_who);
                b->wall0 = steady::now();
                b->gate->cancel();
            } else {
                co_await b->gate->async_wait(use_tuple);
            }
        }
    }
    if (++b->done == b->workers) {
        b->cpu1 = cpu_seconds(b->rusage_who);
        b->wall1 = steady::now();
        st->io->stop();
    }
}

// Runs `total` requests with `n` workers to completion on `io`.
void run_requests(asio::io_context& io, round_state& st, std::size_t n, std::size_t total) {
    st.total = total;
    st.next = 0;
    st.finished = 0;
    st.latency_ms.assign(total, 0.0);
    st.statuses.clear();
    st.failures.clear();
    for (std::size_t i = 0; i < std::min(n, total); ++i)
        asio::co_spawn(io, worker(&st), asio::detached);
    io.restart();
    io.run();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

void print_row(const char* who, std::size_t n, std::size_t requests, double wall, double cpu,
               const round_state& st) {
    std::string results;
    for (const auto& [status, count] : st.statuses)
        results += std::to_string(status) + "=" + std::to_string(count) + " ";
    for (const auto& [kind, count] : st.failures)
        results += kind + "=" + std::to_string(count) + " ";
    std::printf("%-11s %11zu %9zu %9.3f %10.0f %14.4f %9.3f %9.3f  %s\n", who, n, requests, wall,
                static_cast<double>(requests) / wall, cpu / static_cast<double>(requests) * 1000.0,
                percentile(st.latency_ms, 0.50), percentile(st.latency_ms, 0.99), results.c_str());
}

} // namespace

int main(int argc, char** argv) {
    bench_args args = parse_args(argc, argv);

    // Built-in server: its own io_context on its own thread.
    std::optional<taskwatch::test::temp_dir> dir;
    asio::io_context server_io;
    std::optional<taskwatch::test::test_https_server> server;
    std::thread server_thread;
    int rusage_who = RUSAGE_SELF;
    std::string target = "/";
    endpoint ep;

    if (args.url) {
        const std::string& url = *args.url;
        auto scheme_end = url.find("://");
        auto path_start =
            scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
        auto parsed = parse_url(url.substr(0, path_start));
        if (!parsed) usage("--url: " + parsed.error());
        ep = *parsed;
        if (path_start != std::string::npos) target = url.substr(path_start);
    } else {
        dir.emplace();
        taskwatch::test::test_ca ca;
        auto cert = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
        auto ca_file = dir->file("ca.pem");
        ca.write_cert(ca_file);
        args.ca = ca_file;
        taskwatch::test::test_server_options so;
        so.body = std::string(args.body_size, 'x');
        so.record = false;
        server.emplace(server_io.get_executor(), &cert, so);
        ep.host = "127.0.0.1";
        ep.port = server->port();
        server_thread = std::thread([&server_io] {
            auto guard = asio::make_work_guard(server_io);
            server_io.run();
        });
        rusage_who = RUSAGE_THREAD;
        std::printf("built-in TLS server on 127.0.0.1:%u, body %zu bytes; CPU counted for the "
                    "client thread only\n",
                    static_cast<unsigned>(ep.port), args.body_size);
    }

    if (args.baseline) {
        boost::system::error_code ec;
        asio::ip::make_address(ep.host, ec);
        if (ec) usage("--baseline needs an IP address in --url");
    }
    std::printf("%-11s %11s %9s %9s %10s %14s %9s %9s  %s\n", "", "connections", "requests",
                "seconds", "req/s", "cpu-s/1000req", "p50 ms", "p99 ms", "results");
    int exit_code = 0;
    for (std::size_t n : args.connections) {
        asio::io_context io;
        client_options opts;
        opts.ca_file = args.ca;
        opts.max_connections = n;
        opts.timeout = args.timeout;
        std::optional<client> c;
        try {
            c.emplace(io.get_executor(), opts);
        } catch (const std::exception& e) {
            std::cerr << "http_client_bench: " << e.what() << "\n";
            return 1;
        }

        round_state st;
        st.c = &*c;
        st.io = &io;
        st.ep = ep;
        st.req.target = target;
        st.req.headers = args.headers;
        st.timeout = args.timeout;

        run_requests(io, st, n, n); // warm-up: open every connection (handshakes not measured)

        const double cpu0 = cpu_seconds(rusage_who);
        const auto wall0 = steady::now();
        run_requests(io, st, n, args.requests);
        const double wall = std::chrono::duration<double>(steady::now() - wall0).count();
        const double cpu = cpu_seconds(rusage_who) - cpu0;

        print_row("client", n, args.requests, wall, cpu, st);
        if (st.first_failure) {
            std::printf("  first failure: %s\n", st.first_failure->c_str());
            exit_code = 1;
        }

        if (args.baseline) {
            asio::io_context bio;
            auto ctx = make_client_tls_context(args.ca);
            round_state bs;
            bs.io = &bio;
            bs.ep = ep;
            bs.req = st.req;
            bs.timeout = args.timeout;
            bs.total = args.requests;
            bs.latency_ms.assign(args.requests, 0.0);
            bare_round round;
            round.st = &bs;
            round.ctx = &ctx;
            round.rusage_who = rusage_who;
            round.workers = n;
            round.gate.emplace(bio, steady::time_point::max());
            for (std::size_t i = 0; i < n; ++i)
                asio::co_spawn(bio, bare_worker(&round), asio::detached);
            bio.run();
            print_row("bare-beast", n, args.requests,
                      std::chrono::duration<double>(round.wall1 - round.wall0).count(),
                      round.cpu1 - round.cpu0, bs);
            if (bs.first_failure) std::printf("  first failure: %s\n", bs.first_failure->c_str());
        }
        std::fflush(stdout);
    }
    if (server) {
        server_io.stop();
        server_thread.join();
    }
    return exit_code;
}
