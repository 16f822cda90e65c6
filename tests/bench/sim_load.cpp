// Load generator for modelarts-sim: N keep-alive TLS connections sending signed GETs of
// tasks as fast as the answers come back, on one thread. Prints the client's rate and the
// server's own CPU seconds (from /sim/stats), so the per-core figure is requests / CPU s.
//
//   sim_load [--connections 16] [--duration 10s] [--tasks 1000]          starts modelarts-sim
//   itself sim_load --url https://127.0.0.1:PORT --ca ca.pem --ak AK --sk-file F   loads a running
//   one
#include "support/files.hpp"
#include "support/sim.hpp"
#include "taskwatch/auth/signer.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <iostream>
#include <regex>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct load_state {
    std::vector<std::string> requests; // pre-signed raw requests
    std::chrono::steady_clock::time_point deadline;
    std::uint64_t ok = 0, failed = 0, connections_failed = 0;
    std::uint64_t statuses[600] = {};
};

using stream_type = beast::ssl_stream<beast::tcp_stream>;

asio::awaitable<bool> connect(stream_type& s, const tcp::endpoint& ep) {
    auto& tcp_layer = beast::get_lowest_layer(s);
    tcp_layer.expires_after(std::chrono::seconds(5));
    auto [ec] = co_await tcp_layer.async_connect(ep, use_tuple);
    if (ec) co_return false;
    tcp_layer.socket().set_option(tcp::no_delay(true));
    // SSL_set_tlsext_host_name is a macro with an old-style cast: call what it expands to.
    SSL_ctrl(s.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>("localhost"));
    auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
    co_return !hec;
}

asio::awaitable<void> worker(load_state& st, asio::ssl::context& ctx, tcp::endpoint ep,
                             std::size_t first) {
    auto ex = co_await asio::this_coro::executor;
    stream_type s(ex, ctx);
    if (!co_await connect(s, ep)) {
        ++st.connections_failed;
        co_return;
    }
    beast::flat_buffer buffer;
    std::size_t i = first;
    while (std::chrono::steady_clock::now() < st.deadline) {
        const auto& req = st.requests[i++ % st.requests.size()];
        beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
        auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), use_tuple);
        if (wec) break;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(1 << 20);
        auto [rec, rn] = co_await bhttp::async_read(s, buffer, parser, use_tuple);
        if (rec) break;
        auto status = parser.get().result_int();
        if (status < 600) ++st.statuses[status];
        if (status == 200)
            ++st.ok;
        else
            ++st.failed;
    }
    beast::get_lowest_layer(s).close();
}

// One request on its own connection (control API), synchronously for simplicity.
std::string fetch(asio::ssl::context& ctx, const tcp::endpoint& ep, const std::string& target) {
    asio::io_context io;
    std::string body;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            stream_type s(io.get_executor(), ctx);
            if (!co_await connect(s, ep)) throw std::runtime_error("cannot connect for " + target);
            bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
            req.set(bhttp::field::host, "127.0.0.1");
            req.keep_alive(false);
            co_await bhttp::async_write(s, req, asio::use_awaitable);
            beast::flat_buffer b;
            bhttp::response_parser<bhttp::string_body> p;
            p.body_limit(64 << 20);
            co_await bhttp::async_read(s, b, p, asio::use_awaitable);
            body = p.get().body();
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    return body;
}

int main(int argc, char** argv) {
    std::string url, ca, ak = "bench-ak", sk_file;
    std::size_t connections = 16, tasks = 1000;
    double seconds = 10;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--url")
            url = next();
        else if (a == "--ca")
            ca = next();
        else if (a == "--ak")
            ak = next();
        else if (a == "--sk-file")
            sk_file = next();
        else if (a == "--connections")
            connections = std::stoul(next());
        else if (a == "--tasks")
            tasks = std::stoul(next());
        else if (a == "--duration")
            seconds = std::stod(next());
        else {
            std::cerr << "usage: sim_load [--url URL --ca FILE --ak AK --sk-file FILE] "
                         "[--connections N] [--duration S] [--tasks N]\n";
            return 2;
        }
    }

    std::optional<taskwatch::test::sim_process> sim;
    std::string sk = "bench-secret-key-0123456789";
    if (url.empty()) {
        taskwatch::test::sim_account account;
        account.ak = ak;
        account.sk = sk;
        try {
            sim.emplace(std::vector<std::string>{"--static", "--tasks", std::to_string(tasks),
                                                 "--datasets", "20"},
                        account);
        } catch (const std::exception& e) {
            std::cerr << e.what() << "\n";
            return 1;
        }
        url = sim->url();
        ca = sim->ca_file();
    } else {
        sk = taskwatch::test::read_file(sk_file);
        while (!sk.empty() && (sk.back() == '\n' || sk.back() == '\r'))
            sk.pop_back();
    }
    std::smatch m;
    if (!std::regex_match(url, m, std::regex(R"(https://([0-9.]+):(\d+)/?)"))) {
        std::cerr << "bad --url " << url << "\n";
        return 2;
    }
    const std::string host = m[1].str() + ":" + m[2].str();
    tcp::endpoint ep(asio::ip::make_address(m[1].str()),
                     static_cast<unsigned short>(std::stoi(m[2].str())));

    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(ca);
    ctx.set_verify_mode(asio::ssl::verify_peer);

    // Pre-sign one GET per task: the client's signing cost stays out of the measurement.
    load_state st;
    auto listing = json::parse(fetch(ctx, ep, "/sim/tasks"));
    const auto date = taskwatch::auth::format_sdk_date(std::chrono::system_clock::now());
    for (const auto& t : listing.at("tasks").as_array()) {
        std::string path = "/v2/" + std::string(t.at("project_id").as_string()) + "/datasets/" +
                           std::string(t.at("dataset_id").as_string()) + "/tasks/" +
                           std::string(t.at("task_id").as_string());
        taskwatch::auth::sign_request sr;
        sr.method = "GET";
        sr.host = host;
        sr.path = path;
        sr.sdk_date = date;
        auto sig = taskwatch::auth::sign(sr, ak, sk);
        st.requests.push_back(
            "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nX-Sdk-Date: " + date +
            "\r\nAuthorization: " + sig.authorization + "\r\nUser-Agent: sim_load\r\n\r\n");
    }
    if (st.requests.empty()) {
        std::cerr << "no tasks to request\n";
        return 1;
    }

    auto before = json::parse(fetch(ctx, ep, "/sim/stats"));
    asio::io_context io(1);
    const auto start = std::chrono::steady_clock::now();
    st.deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(seconds));
    for (std::size_t c = 0; c < connections; ++c)
        asio::co_spawn(io, worker(st, ctx, ep, c * 7919), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "worker: " << x.what() << "\n";
            }
        });
    io.run();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto after = json::parse(fetch(ctx, ep, "/sim/stats"));

    const double cpu =
        after.at("cpu_seconds").to_number<double>() - before.at("cpu_seconds").to_number<double>();
    const auto served = after.at("requests_total").to_number<std::uint64_t>() -
                        before.at("requests_total").to_number<std::uint64_t>();
    std::printf("connections            %zu\n", connections);
    std::printf("requests ok            %llu\n", static_cast<unsigned long long>(st.ok));
    std::printf("requests not 200       %llu\n", static_cast<unsigned long long>(st.failed));
    std::printf("connections failed     %llu\n",
                static_cast<unsigned long long>(st.connections_failed));
    std::printf("wall seconds           %.2f\n", wall);
    std::printf("client rate            %.0f req/s\n",
                static_cast<double>(st.ok + st.failed) / wall);
    std::printf("server requests        %llu\n", static_cast<unsigned long long>(served));
    std::printf("server cpu seconds     %.2f\n", cpu);
    std::printf("server per core        %.0f req per CPU-second\n",
                cpu > 0 ? static_cast<double>(served) / cpu : 0.0);
    if (sim) {
        sim->proc->send_signal(SIGTERM);
        auto code = sim->proc->wait(std::chrono::seconds(10));
        if (code != 0) std::fprintf(stderr, "modelarts-sim exited with %d\n", code.value_or(-1));
    }
    return st.failed || st.connections_failed ? 1 : 0;
}
