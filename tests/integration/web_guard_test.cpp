// web_guard in front of a real http::server on 127.0.0.1, through a real TLS client:
// Basic auth, plain HTTP on the TLS port, client certificates, reloads of the web config
// file and of the certificate it names, the rate limit. The server runs on its own thread.
#include "support/http_request.hpp"
#include "support/web_auth.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/web/guard.hpp"

#include <doctest/doctest.h>

#include <boost/asio.hpp>

#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// A server behind a guard on its own io_context thread; torn down server, guard, io_context.
struct guarded_server {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<web::web_guard> guard;
    std::unique_ptr<http::server> server;
    std::thread thread;
    std::atomic<int> inner_calls{0};
    mutable std::mutex log_mutex;
    std::vector<std::string> log_lines; ///< "level: message: detail"

    explicit guarded_server(const std::string& web_file, web::guard_options o = {}) {
        o.check_interval = 0ms; // every connection and request looks at the files
        o.log = [this](log::level l, std::string_view message, std::string_view detail) {
            std::lock_guard lock(log_mutex);
            log_lines.push_back(std::string(log::to_string(l)) + ": " + std::string(message) +
                                ": " + std::string(detail));
        };
        guard = std::make_unique<web::web_guard>(web_file, o);
        http::server_options so;
        so.log = [](std::string_view) {};
        so.tls_provider = guard->tls_provider();
        auto inner = [this](const http::request_context& ctx) -> asio::awaitable<http::reply> {
            ++inner_calls;
            http::server_response res{bhttp::status::ok, 11};
            res.body() = "inner " + std::string(ctx.target());
            co_return http::reply::respond(std::move(res));
        };
        server = std::make_unique<http::server>(io.get_executor(), so, guard->wrap(inner));
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~guarded_server() {
        std::promise<void> done;
        asio::co_spawn(io, server->async_stop(100ms),
                       [&](std::exception_ptr) { done.set_value(); });
        done.get_future().wait();
        work.reset();
        io.stop();
        thread.join();
        server.reset();
        guard.reset();
    }

    template <class F> auto on_io(F f) {
        std::promise<decltype(f())> p;
        asio::post(io, [&] { p.set_value(f()); });
        return p.get_future().get();
    }
    http::server_stats server_stats() {
        return on_io([&] { return server->stats(); });
    }
    web::guard_stats guard_stats() {
        return on_io([&] { return guard->stats(); });
    }
    std::vector<std::string> lines_with(std::string_view level) const {
        std::lock_guard lock(log_mutex);
        std::vector<std::string> out;
        for (const auto& l : log_lines)
            if (l.starts_with(level)) out.push_back(l);
        return out;
    }

    test::server_address tls_address(const std::string& ca_file) const {
        return test::server_address{server->port(), ca_file};
    }
};

} // namespace

TEST_CASE("web guard over TLS: the right password gets 200, a wrong one or none gets 401 with an "
          "empty body and the handler is not called") {
    test::web_files f;
    f.dir.write("web.yml", test::web_files::tls_section() +
                               test::web_files::users("alice", "s3cret pw") +
                               "http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
    guarded_server s(f.web);
    REQUIRE(s.guard->tls());
    const auto to = s.tls_address(f.ca_file);

    auto ok = test::http_request(to, bhttp::verb::get, "/metrics",
                                 test::basic_auth("alice", "s3cret pw"));
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
    CHECK(ok.body == "inner /metrics");
    CHECK(ok.header("X-Frame-Options") == "deny");
    CHECK(s.inner_calls == 1);

    auto again = test::http_request(to, bhttp::verb::get, "/metrics",
                                    test::basic_auth("alice", "s3cret pw"));
    CHECK(again.status == 200);

    for (const auto& headers :
         {test::basic_auth("alice", "wrong"), test::basic_auth("alice", "s3cret pw "),
          test::basic_auth("bob", "s3cret pw"), std::vector<std::pair<std::string, std::string>>{},
          std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer x"}}}) {
        auto denied = test::http_request(to, bhttp::verb::get, "/metrics", headers);
        REQUIRE_MESSAGE(denied.status == 401, denied.error.message());
        CHECK(denied.body.empty());
        CHECK(denied.header("Content-Length") == "0");
        CHECK(denied.header("WWW-Authenticate") == "Basic realm=\"taskwatch\"");
        CHECK(denied.header("X-Frame-Options") == "deny");
    }
    CHECK(s.inner_calls == 2);
    auto st = s.guard_stats();
    CHECK(st.unauthorized == 5);
    CHECK(st.cache_hits == 1);  // the second right request did not run bcrypt
    CHECK(st.bcrypt_runs == 4); // 1 right + 3 wrong (no credentials run none)
}

TEST_CASE("web guard: a plain HTTP request to the TLS port gets a plain 400, is counted, and the "
          "next TLS request succeeds") {
    test::web_files f;
    f.dir.write("web.yml", test::web_files::tls_section());
    guarded_server s(f.web);

    test::server_address plain{s.server->port(), ""};
    auto wrong = test::http_request(plain, bhttp::verb::get, "/metrics");
    REQUIRE_MESSAGE(wrong.status == 400, wrong.error.message());
    CHECK(wrong.body == "Client sent an HTTP request to an HTTPS server.\n");
    auto st = s.server_stats();
    CHECK(st.plain_http_on_tls == 1);
    CHECK(st.handshakes_failed == 1);

    auto ok = test::http_request(s.tls_address(f.ca_file), bhttp::verb::get, "/metrics");
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
    CHECK(ok.body == "inner /metrics");
}

TEST_CASE("web guard: RequireAndVerifyClientCert refuses a client without a certificate or with "
          "one from another CA, and serves one with a CA-signed certificate") {
    test::web_files f;
    f.dir.write("web.yml",
                test::web_files::tls_section("  client_auth_type: RequireAndVerifyClientCert\n"
                                             "  client_ca_file: ca.crt\n"));
    guarded_server s(f.web);
    auto to = s.tls_address(f.ca_file);

    auto none = test::http_request(to, bhttp::verb::get, "/metrics");
    CHECK(none.status == 0);
    CHECK(none.error);

    test::test_ca stranger("stranger CA");
    auto bad = stranger.issue_client("scraper");
    to.client_cert_file = f.dir.write("bad.crt", bad.cert_pem);
    to.client_key_file = f.dir.write("bad.key", bad.key_pem);
    auto refused = test::http_request(to, bhttp::verb::get, "/metrics");
    CHECK(refused.status == 0);
    CHECK(refused.error);

    auto good = f.ca.issue_client("scraper");
    to.client_cert_file = f.dir.write("client.crt", good.cert_pem);
    to.client_key_file = f.dir.write("client.key", good.key_pem);
    auto ok = test::http_request(to, bhttp::verb::get, "/metrics");
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
    CHECK(s.inner_calls == 1);
}

TEST_CASE("web guard: client_allowed_sans lets only a certificate with a listed SAN in") {
    test::web_files f;
    f.dir.write("web.yml",
                test::web_files::tls_section("  client_auth_type: RequireAndVerifyClientCert\n"
                                             "  client_ca_file: ca.crt\n"
                                             "  client_allowed_sans: [prometheus.internal]\n"));
    guarded_server s(f.web);
    auto to = s.tls_address(f.ca_file);
    auto other = f.ca.issue_client("other", "DNS:other.internal");
    to.client_cert_file = f.dir.write("other.crt", other.cert_pem);
    to.client_key_file = f.dir.write("other.key", other.key_pem);
    CHECK(test::http_request(to, bhttp::verb::get, "/").status == 0);

    auto listed = f.ca.issue_client("prom", "DNS:prometheus.internal");
    to.client_cert_file = f.dir.write("prom.crt", listed.cert_pem);
    to.client_key_file = f.dir.write("prom.key", listed.key_pem);
    auto ok = test::http_request(to, bhttp::verb::get, "/");
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
}

TEST_CASE(
    "web guard: a new password on disk takes effect - a broken rewrite is logged once and the "
    "old config kept - a fixed one applies again") {
    test::web_files f;
    f.dir.write("web.yml",
                test::web_files::tls_section() + test::web_files::users("alice", "first"));
    guarded_server s(f.web);
    const auto to = s.tls_address(f.ca_file);
    REQUIRE(
        test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "first")).status ==
        200);

    test::replace_file(f.web,
                       test::web_files::tls_section() + test::web_files::users("alice", "second"));
    CHECK(
        test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "first")).status ==
        401);
    CHECK(
        test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "second")).status ==
        200);
    CHECK(s.guard_stats().reloads == 1);

    test::replace_file(f.web, test::web_files::tls_section("  cert_fiel: typo.crt\n") +
                                  test::web_files::users("alice", "third"));
    CHECK(
        test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "second")).status ==
        200);
    CHECK(
        test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "third")).status ==
        401);
    auto warnings = s.lines_with("warn");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] == "warn: web config not reloaded, keeping the running one: " + f.web +
                             ":4: tls_server_config: unknown key \"cert_fiel\" (did you mean "
                             "\"cert_file\"?)");
    CHECK(s.guard_stats().reload_failures == 1);

    test::replace_file(f.web,
                       test::web_files::tls_section() + test::web_files::users("alice", "third"));
    CHECK(
        test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "third")).status ==
        200);
    CHECK(s.guard_stats().reloads == 2);
    CHECK(s.lines_with("warn").size() == 1);
}

TEST_CASE("web guard: a renewed certificate file is used for new connections without touching "
          "web.yml") {
    test::web_files f;
    f.dir.write("web.yml", test::web_files::tls_section());
    guarded_server s(f.web);
    REQUIRE(test::http_request(s.tls_address(f.ca_file), bhttp::verb::get, "/").status == 200);

    test::test_ca next("next CA");
    auto pair = next.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    const auto next_ca = f.dir.write("next-ca.crt", next.cert_pem());
    // Key first: a certificate that does not match its key would be refused (and kept old).
    test::replace_file(f.key, pair.key_pem);
    test::replace_file(f.cert, pair.cert_pem);
    auto ok = test::http_request(s.tls_address(next_ca), bhttp::verb::get, "/");
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
    CHECK(test::http_request(s.tls_address(f.ca_file), bhttp::verb::get, "/").status == 0);
}

TEST_CASE("web guard: switching the file from HTTPS to plain HTTP keeps HTTPS and says a restart "
          "is needed - the rest of the new file applies") {
    test::web_files f;
    f.dir.write("web.yml", test::web_files::tls_section() + test::web_files::users("alice", "pw"));
    guarded_server s(f.web);
    test::replace_file(f.web, test::web_files::users("alice", "new pw"));
    auto ok = test::http_request(s.tls_address(f.ca_file), bhttp::verb::get, "/",
                                 test::basic_auth("alice", "new pw"));
    REQUIRE_MESSAGE(ok.status == 200, ok.error.message());
    auto warnings = s.lines_with("warn");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("switching from HTTPS to plain HTTP needs a restart") !=
          std::string::npos);
}

TEST_CASE("web guard: plain HTTP with users and a rate limit: burst, then 429 with Retry-After") {
    test::web_files f;
    f.dir.write("web.yml", test::web_files::users("alice", "pw") +
                               "rate_limit:\n  interval: 1h\n  burst: 2\n");
    guarded_server s(f.web);
    REQUIRE_FALSE(s.guard->tls());
    REQUIRE_FALSE(s.server->tls());
    test::server_address to{s.server->port(), ""};
    CHECK(test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "pw")).status ==
          200);
    CHECK(test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "pw")).status ==
          200);
    auto limited = test::http_request(to, bhttp::verb::get, "/", test::basic_auth("alice", "pw"));
    CHECK(limited.status == 429);
    CHECK(limited.header("Retry-After") == "3600");
    CHECK(s.guard_stats().rate_limited == 1);
    CHECK(s.inner_calls == 2);
}

TEST_CASE("web guard: a broken file at start throws one line naming file, line and key") {
    test::web_files f;
    f.dir.write("web.yml", "basic_auth_users:\n  alice: plaintext\n");
    std::string message;
    try {
        web::web_guard g(f.web);
    } catch (const config::config_error& e) { // what the daemon's start-up catches
        message = e.what();
    }
    CHECK(message.starts_with(f.web + ":2: basic_auth_users.alice: the password hash of user "
                                      "\"alice\" is not a bcrypt hash"));
    CHECK(message.find("plaintext") == std::string::npos);
}
