// Fuzzes the client's response handling: the input is what a server answers to one GET, served
// over loopback TCP to the real http::client in this process, which reads it with its limits.
// What comes back goes where the API client sends it: a 2xx body to the task parser, anything
// else to classify_response; a transport failure to from_transport. Nothing may crash or hang:
// the exchange has to end within the deadline below.
#include "support/files.hpp"
#include "support/io.hpp"
#include "support/pki.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/modelarts/api_error.hpp"
#include "taskwatch/modelarts/model.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

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

struct setup {
    asio::io_context io{1};
    asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address_v4("127.0.0.1"), 0}};
    test::temp_dir dir{"taskwatch-fuzz"};
    std::string ca_file;
    http::endpoint ep;
    setup() {
        // A small trust store: loading the system's for every input would dominate the run.
        test::test_ca ca;
        ca_file = dir.write("ca.crt", ca.cert_pem());
        ep.scheme = "http";
        ep.host = "127.0.0.1";
        ep.port = acceptor.local_endpoint().port();
    }
};

// Accepts one connection, reads the request head, answers `answer` verbatim and closes.
asio::awaitable<void> serve_once(asio::ip::tcp::acceptor& acceptor, std::string answer) {
    boost::system::error_code ec;
    auto sock = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::streambuf head(64u << 10);
    co_await asio::async_read_until(sock, head, "\r\n\r\n",
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await asio::async_write(sock, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
    sock.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    sock.close(ec);
}

asio::awaitable<void> fetch(const setup& s) {
    http::client_options o;
    o.ca_file = s.ca_file;
    o.proxy_from_environment = false;
    o.timeout = 3s;
    // The daemon's 8 MB would let one input take long; a smaller limit reaches the same code.
    o.body_limit = 256u << 10;
    o.header_limit = 16u << 10;
    http::client client(co_await asio::this_coro::executor, o);
    http::request req;
    req.target = "/v2/p1/datasets/d1/tasks/t1";
    auto res = co_await client.async_send(s.ep, std::move(req));
    if (!res) {
        (void)modelarts::from_transport(res.error()).to_string();
    } else if (res->status >= 200 && res->status < 300) {
        auto t = modelarts::parse_task(res->body);
        if (!t) (void)t.error().to_string();
    } else {
        (void)modelarts::classify_response(*res).to_string();
    }
    client.shutdown();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static setup* const s = new setup; // reachable for the process's life: not a leak
    asio::co_spawn(s->io,
                   serve_once(s->acceptor, std::string(reinterpret_cast<const char*>(data), size)),
                   [](std::exception_ptr e) {
                       if (e) std::rethrow_exception(e);
                   });
    // The exchange has to end within 5 s: a run_timeout escapes, and libFuzzer reports it.
    test::run(s->io, fetch(*s), 5s);
    s->io.poll(); // the serving side's last steps
    return 0;
}
