// The real taskwatchd process (watching a real modelarts-sim over TLS) behind a web config
// file and in front of hostile clients: TLS and Basic auth on every path, a broken web.yml at
// --check-config and at start, slowloris, oversized requests, more connections than the cap,
// and no secret in its log, /metrics or /api/v1/tasks. The guard's own rules are pinned on an
// in-process server in tests/integration/web_guard_test.cpp; this file pins that the daemon is
// wired to them.
#include "support/daemon.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"
#include "support/web_auth.hpp"
#include "taskwatch/web/basic_auth.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// How a raw connection ended, as its reader saw it.
enum class ending { open, eof, reset };

/// A raw TCP connection to 127.0.0.1, for clients no HTTP library would be: slow, oversized,
/// silent. Blocking socket; every wait is bounded with poll().
class raw_connection {
public:
    explicit raw_connection(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE_MESSAGE(fd_ >= 0, "socket: " << std::strerror(errno));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // each byte its own segment
        REQUIRE_MESSAGE(::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0,
                        "connect: " << std::strerror(errno));
        opened = clock_type::now();
    }
    ~raw_connection() { close(); }
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    /// Sends everything; false when the peer has closed (EPIPE, ECONNRESET).
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Reads what arrives within `timeout` (appended to `received`); how the connection stands
    /// then. Returns at the first EOF or reset, or at once with `open` when timeout is 0 and
    /// nothing is pending.
    ending read_for(std::chrono::milliseconds timeout) {
        const auto deadline = clock_type::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            pollfd p{fd_, POLLIN, 0};
            const int r = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return ending::open;
            char buf[8192];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) {
                closed_at = clock_type::now();
                return ending::eof;
            }
            if (n < 0) {
                closed_at = clock_type::now();
                return ending::reset; // ECONNRESET: the server closed with unread data or linger 0
            }
            received.append(buf, static_cast<std::size_t>(n));
        }
    }

    clock_type::time_point opened, closed_at;
    std::string received;

private:
    int fd_ = -1;
};

std::string name_of(ending e) {
    return e == ending::open ? "still open" : e == ending::eof ? "EOF" : "reset";
}

/// One scrape on a fresh connection within `limit`: the status (0 when none came).
unsigned quick_scrape(const server_address& to, std::chrono::milliseconds limit = 2s) {
    auto r = http_request(to, verb::get, "/metrics", {}, {}, limit);
    return r.status;
}

/// `request` sent on a new connection to `port` gets an answer starting with `status_line`, and
/// the server closes the connection after it (within 5 s).
void check_answered_and_closed(std::uint16_t port, const std::string& request,
                               const std::string& status_line) {
    raw_connection conn(port);
    conn.send(request);
    const auto how = conn.read_for(5s);
    CAPTURE(conn.received.substr(0, 200));
    CHECK(how != ending::open);
    CHECK(conn.received.starts_with(status_line));
}

/// The daemon behind TLS and Basic auth (user "prometheus", `password`) while it watches a static
/// simulator with three tasks: where the tests of what clients see start (a TEST_CASE_FIXTURE).
struct guarded_daemon {
    sim_process sim{std::vector<std::string>{"--static", "--tasks", "3", "--datasets", "1"}};
    std::string dataset = first_dataset(sim).id;
    web_files files; // not `f`: a doctest fixture's test is its member function f()
    const std::string password = "scrape-pass-5eCr3t";
    const std::string hash = web::bcrypt_hash(password, 4);
    temp_dir state{"state"};
    served_daemon w = serve();
    const header_list right = basic_auth("prometheus", password);

    served_daemon serve() {
        files.dir.write("web.yml", web_files::tls_section() +
                                       "basic_auth_users:\n  prometheus: " + hash + "\n");
        daemon_options o;
        o.web_config_file = files.web;
        return served_daemon(sim, dataset, state.str(), o, files.ca_file);
    }
};

} // namespace

TEST_CASE_FIXTURE(
    guarded_daemon,
    "taskwatchd with a web config over TLS and Basic auth: the right password gets the "
    "metrics, a wrong one or none gets 401 on every path, plain HTTP on the TLS port gets a "
    "400 at once") {
    REQUIRE(w.tls);

    // Once the first poll round is in, the metrics have the tasks' status series.
    http_reply ok;
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            ok = w.get("/metrics", right);
                            return ok.status == 200 &&
                                   ok.body.find("modelarts_task_status{") != std::string::npos;
                        },
                        10s),
                    ok.status << " " << ok.error.message() << "\n"
                              << w.d.proc->stderr_text());
    CHECK(ok.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    REQUIRE(wait_until([&] { return w.get("/-/ready", right).status == 200; }, 10s));

    // exporter-toolkit guards every path, the health checks included.
    for (const std::string target : {"/metrics", "/-/healthy", "/-/ready", "/api/v1/tasks", "/"}) {
        CAPTURE(target);
        for (const auto& headers :
             {basic_auth("prometheus", "wrong"), basic_auth("prometheus", password + "x"),
              basic_auth("grafana", password), header_list{}}) {
            auto denied = w.get(target, headers);
            REQUIRE_MESSAGE(denied.status == 401, denied.error.message());
            CHECK(denied.body.empty());
            CHECK(denied.header("Content-Length") == "0");
            CHECK(denied.header("WWW-Authenticate") == "Basic realm=\"taskwatch\"");
        }
        CHECK(w.get(target, right).status == 200);
    }
    CHECK(w.get("/-/healthy", right).body.size() > 0);

    // Plain HTTP to the TLS port, with the right password even: a plain 400 at once, no hang
    // and nothing served.
    const auto started = clock_type::now();
    auto plain =
        http_request(server_address{w.http.port, ""}, verb::get, "/metrics", right, {}, 2s);
    CHECK(seconds_since(started) < 1.5);
    REQUIRE_MESSAGE(plain.status == 400, plain.error.message());
    CHECK(plain.body == "Client sent an HTTP request to an HTTPS server.\n");
    CHECK(plain.body.find("modelarts_") == std::string::npos);

    // The server's certificate is the one web.yml names: a client trusting another CA refuses it.
    test_ca stranger("stranger CA");
    const auto other_ca = files.dir.write("other-ca.crt", stranger.cert_pem());
    auto refused =
        http_request(server_address{w.http.port, other_ca}, verb::get, "/metrics", right, {}, 2s);
    CHECK(refused.status == 0);
    CHECK(refused.error);
    CHECK(refused.error != boost::asio::error::timed_out);

    // And the daemon kept serving TLS after all of that.
    auto after = w.get("/metrics", right);
    CHECK(after.status == 200);
    CHECK(after.body.find("modelarts_task_status{") != std::string::npos);
    CHECK(w.d.stop() == 0);
}

TEST_CASE("a broken web.yml fails --check-config and the daemon's start with one line naming "
          "web.yml, the line and the key, and the daemon listens on nothing") {
    sim_process sim({"--static", "--tasks", "1", "--datasets", "1"});
    const auto dataset = first_dataset(sim).id;
    web_files f;
    temp_dir state("state");
    const auto port = free_port();
    daemon_options o;
    o.web_config_file = f.web;
    o.listen = "127.0.0.1:" + std::to_string(port);

    struct broken_case {
        std::string name, content, expected_prefix, secret;
    };
    const std::vector<broken_case> cases{
        {"an unknown key", web_files::tls_section() + "  cert_fiel: other.crt\n",
         f.web + ":4: tls_server_config: unknown key \"cert_fiel\" (did you mean \"cert_file\"?)",
         ""},
        {"a password that is not a bcrypt hash",
         web_files::tls_section() + "basic_auth_users:\n  prometheus: plain-text-Pa55word\n",
         f.web + ":5: basic_auth_users.prometheus: the password hash of user \"prometheus\" is "
                 "not a bcrypt hash",
         "plain-text-Pa55word"},
        {"a hash one character short",
         "basic_auth_users:\n  prometheus: " + web::bcrypt_hash("pw", 4).substr(0, 59) + "\n",
         f.web + ":2: basic_auth_users.prometheus: the password hash of user \"prometheus\" is "
                 "not a bcrypt hash",
         "$2b$04$"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        f.dir.write("web.yml", c.content);
        // The daemon's config is rewritten by daemon_process; --check-config reads the same file.
        daemon_process starter(sim, dataset, state.str(), o);
        REQUIRE(starter.proc->wait(10s) == 1);
        const auto start_err = starter.proc->stderr_text();
        CHECK_MESSAGE(start_err.starts_with(c.expected_prefix), start_err);
        CHECK_MESSAGE(std::count(start_err.begin(), start_err.end(), '\n') == 1, start_err);
        CHECK(start_err.find("serving HTTP") == std::string::npos);
        if (!c.secret.empty()) CHECK(start_err.find(c.secret) == std::string::npos);
        // Nothing listens on the configured port (it exited before binding, or closed it).
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket probe(io);
        boost::system::error_code ec;
        probe.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
        CHECK(ec == boost::asio::error::connection_refused);

        child_process check(bin_dir() + "/taskwatchd",
                            {"--config", starter.config, "--check-config"});
        REQUIRE(check.wait(10s) == 1);
        const auto check_err = check.stderr_text();
        CHECK_MESSAGE(check_err == start_err, check_err); // the same one line, word for word
        CHECK(check.lines().empty());
        CHECK_FALSE(check.read_line(100ms).has_value()); // no "ok" on stdout
    }

    // The fixed file passes both.
    f.dir.write("web.yml", web_files::tls_section() + "basic_auth_users:\n  prometheus: " +
                               web::bcrypt_hash("pw", 4) + "\n");
    daemon_process good(sim, dataset, state.str(), o);
    const auto check = run_command(bin_dir() + "/taskwatchd",
                                   {"--config", good.config, "--check-config"}, {}, 10s);
    CHECK_MESSAGE(check.status == 0, check.out << check.err);
    CHECK(check.out.starts_with(good.config + ": ok: "));
    CHECK_MESSAGE(good.wait_for_stderr("serving HTTP", 10s), good.proc->stderr_text());
    CHECK(good.stop() == 0);
}

TEST_CASE_FIXTURE(
    served_two_tasks,
    "a slowloris client that keeps sending a byte every 500 ms is cut off at the 10 s "
    "request deadline, while scrapes on other connections are answered at once") {
    REQUIRE(w.get("/metrics").status == 200);

    raw_connection slow(w.http.port);
    REQUIRE(slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    const std::string trickle = "X-Slow: " + std::string(64, 'a');
    std::size_t sent = 0;
    ending how = ending::open;
    int scrapes = 0;
    while (seconds_since(slow.opened) < 15) {
        // The read itself is the event: it ends at EOF or reset, else after 500 ms.
        how = slow.read_for(500ms);
        if (how != ending::open) break;
        if (!slow.send(trickle.substr(sent++ % trickle.size(), 1))) {
            how = slow.read_for(1s); // the send saw the close first: let the read confirm it
            break;
        }
        // Two scrapes in the middle of it, each answered quickly.
        const double t = seconds_since(slow.opened);
        if ((scrapes == 0 && t > 3) || (scrapes == 1 && t > 6)) {
            const auto before = clock_type::now();
            CHECK(quick_scrape(w.http) == 200);
            CHECK(seconds_since(before) < 1.0);
            ++scrapes;
        }
    }
    REQUIRE_MESSAGE(how != ending::open, "still open after 15 s");
    CAPTURE(name_of(how));
    const double closed_after = std::chrono::duration<double>(slow.closed_at - slow.opened).count();
    CAPTURE(closed_after);
    CAPTURE(sent);
    CHECK(closed_after >= 9.0);   // the deadline, not an error at the first bytes
    CHECK(closed_after <= 12.0);  // 10 s and a margin for a loaded machine
    CHECK(sent >= 15);            // it really was trickling all along
    CHECK(slow.received.empty()); // cut off, not answered
    CHECK(scrapes == 2);
    CHECK(quick_scrape(w.http) == 200);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(served_two_tasks,
                  "a request header over 16 KiB gets 431 and a body over 64 KiB gets 413, each "
                  "connection closed after the answer, and the next scrape succeeds") {
    REQUIRE(w.get("/metrics").status == 200);

    check_answered_and_closed(
        w.http.port,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17u << 10, 'a') + "\r\n\r\n",
        "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    check_answered_and_closed(
        w.http.port,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" +
            std::string(100u << 10, 'b'),
        "HTTP/1.1 413 Payload Too Large\r\n");
    {
        // Just under both limits is served as usual (and the body is no reason to refuse).
        raw_connection fine(w.http.port);
        fine.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " +
                  std::string(15u << 10, 'a') + "\r\nContent-Length: 60000\r\n\r\n" +
                  std::string(60000, 'c'));
        fine.read_for(5s);
        CHECK_MESSAGE(fine.received.starts_with("HTTP/1.1 200 OK\r\n"),
                      fine.received.substr(0, 200));
    }
    auto r = w.get("/metrics", {}, 2s);
    CHECK(r.status == 200);
    CHECK(r.body.find("modelarts_task_status{") != std::string::npos);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(
    served_two_tasks,
    "300 silent connections: the daemon keeps 256 and resets the other 44 at once - a "
    "scrape is refused while the cap is full, gets 200 once some close, and the silent "
    "ones are cut off at 10 s") {
    REQUIRE(w.get("/metrics").status == 200); // closed again before the flood starts

    constexpr std::size_t cap = 256, total = 300;
    std::vector<std::unique_ptr<raw_connection>> conns;
    for (std::size_t i = 0; i < total; ++i)
        conns.push_back(std::make_unique<raw_connection>(w.http.port));
    // The server accepts in connect order (the kernel's accept queue is FIFO): those past the
    // cap are closed with a reset as soon as they are accepted.
    for (std::size_t i = cap; i < total; ++i) {
        CAPTURE(i);
        const auto how = conns[i]->read_for(3s);
        CHECK_MESSAGE(how == ending::reset, name_of(how));
        CHECK(conns[i]->received.empty());
        CHECK(std::chrono::duration<double>(conns[i]->closed_at - conns[i]->opened).count() < 3);
    }
    std::size_t still_open = 0;
    for (std::size_t i = 0; i < cap; ++i)
        if (conns[i]->read_for(0ms) == ending::open) ++still_open;
    CHECK(still_open == cap);

    // Full: a scrape is refused the same way, fast, not left hanging.
    auto refused = http_request(w.http, verb::get, "/metrics", {}, {}, 2s);
    CHECK(refused.status == 0);
    CHECK(refused.error != boost::asio::error::timed_out);

    // Ten of ours go away: the server notices their EOF and serves scrapes again.
    for (std::size_t i = 0; i < 10; ++i)
        conns[i]->close();
    unsigned status = 0;
    CHECK(wait_until([&] { return (status = quick_scrape(w.http, 1s)) == 200; }, 3s, 100ms));

    // The rest said nothing for 10 s: each is cut off at the request deadline.
    std::size_t cut = 0;
    for (std::size_t i = 10; i < cap; ++i) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            conns[i]->opened + 13s - clock_type::now());
        const auto how = conns[i]->read_for(std::max(left, 0ms));
        if (how == ending::open) continue;
        const double after =
            std::chrono::duration<double>(conns[i]->closed_at - conns[i]->opened).count();
        if (after >= 9.0) ++cut;
    }
    CHECK(cut == cap - 10);
    CHECK(quick_scrape(w.http) == 200);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(guarded_daemon,
                  "neither the daemon's log nor /metrics nor /api/v1/tasks shows the Basic auth "
                  "password, its bcrypt hash, the Authorization header, or the AK/SK") {
    const std::string wrong = "wrong-pass-Gu3ss";

    http_reply metrics;
    REQUIRE(wait_until(
        [&] {
            metrics = w.get("/metrics", right);
            return metrics.body.find("modelarts_task_status{") != std::string::npos;
        },
        10s));
    auto tasks = w.get("/api/v1/tasks", right);
    REQUIRE(tasks.status == 200);
    auto page = w.get("/", right);
    REQUIRE(page.status == 200);
    CHECK(w.get("/metrics", basic_auth("prometheus", wrong)).status == 401);

    // A new password on disk and a broken rewrite with a plaintext password: both are logged
    // (reloaded / kept the old one), neither with a secret in it.
    const std::string next_password = "next-pass-Zq81";
    const auto next_hash = web::bcrypt_hash(next_password, 4);
    replace_file(files.web,
                 web_files::tls_section() + "basic_auth_users:\n  prometheus: " + next_hash + "\n");
    w.d.proc->send_signal(SIGHUP);
    REQUIRE_MESSAGE(w.d.wait_for_stderr("web config reloaded", 10s), w.d.proc->stderr_text());
    CHECK(w.get("/metrics", basic_auth("prometheus", next_password)).status == 200);
    const std::string plaintext = "typed-in-Pla1ntext";
    replace_file(files.web,
                 web_files::tls_section() + "basic_auth_users:\n  prometheus: " + plaintext + "\n");
    w.d.proc->send_signal(SIGHUP);
    REQUIRE_MESSAGE(w.d.wait_for_stderr("web config not reloaded", 10s), w.d.proc->stderr_text());
    auto still = w.get("/metrics", basic_auth("prometheus", next_password));
    CHECK(still.status == 200);
    const auto tasks_later = w.get("/api/v1/tasks", basic_auth("prometheus", next_password));
    CHECK(w.d.stop() == 0);

    const auto log = w.d.proc->stderr_text();
    const std::vector<std::pair<std::string, std::string>> texts{
        {"stderr", log},
        {"/metrics", metrics.body},
        {"/metrics later", still.body},
        {"/api/v1/tasks", tasks.body},
        {"/api/v1/tasks later", tasks_later.body},
        {"/", page.body}};
    const std::vector<std::pair<std::string, std::string>> secrets{
        {"password", password},
        {"wrong password", wrong},
        {"next password", next_password},
        {"plaintext password in the broken file", plaintext},
        {"bcrypt hash", hash},
        {"next bcrypt hash", next_hash},
        {"bcrypt salt", hash.substr(7, 22)},
        {"Authorization value", right.front().second.substr(6)},
        {"SK", sim.account.sk},
        {"AK", sim.account.ak}};
    for (const auto& [where, text] : texts) {
        REQUIRE_MESSAGE(!text.empty(), where); // an empty text would pass vacuously
        for (const auto& [what, secret] : secrets)
            CHECK_MESSAGE(text.find(secret) == std::string::npos, what << " found in " << where);
    }
    // The log did talk about all of it, so the checks above looked at the right lines; the
    // broken file's line names the user (not secret), never its "hash".
    CHECK(log.find("web config loaded") != std::string::npos);
    CHECK(log.find("web config reloaded") != std::string::npos);
    CHECK(log.find("basic_auth_users.prometheus: the password hash of user") != std::string::npos);
}
