// taskwatchd under a systemd-like supervisor: the sd_notify protocol (READY, STATUS, WATCHDOG,
// RELOADING, STOPPING) on a NOTIFY_SOCKET datagram socket the test owns, as systemd would for
// Type=notify with WatchdogSec; and no WATCHDOG while the event loop is stuck.
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/outbox.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace taskwatch::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// The supervisor's end: a bound AF_UNIX datagram socket.
struct notify_socket {
    int fd = -1;
    std::string path;
    explicit notify_socket(std::string p)
        : path(std::move(p)) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path.size() < sizeof addr.sun_path);
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~notify_socket() {
        ::close(fd);
        ::unlink(path.c_str());
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    /// The next datagram, or nullopt when none comes within `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
        char buf[4096];
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }
};

bool has_line(const std::string& msg, const std::string& line) {
    return ("\n" + msg + "\n").find("\n" + line + "\n") != std::string::npos;
}
std::string line_starting(const std::string& msg, const std::string& prefix) {
    auto at = ("\n" + msg).find("\n" + prefix);
    if (at == std::string::npos) return "";
    auto end = msg.find('\n', at);
    return msg.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// WatchdogSec=1s: systemd expects a ping at least every second (taskwatchd pings every half).
constexpr auto watchdog = 1000ms;

// A simulator and taskwatchd started as systemd starts a Type=notify unit with WatchdogSec,
// up to its first notification (which must come within 10 s).
struct supervised_daemon {
    sim_process sim;
    std::string dataset;
    temp_dir state{"state"};
    std::string config;
    notify_socket supervisor{state.file("notify.sock")};
    std::optional<child_process> daemon;
    std::string first;

    explicit supervised_daemon(std::vector<std::string> sim_args)
        : sim(sim_args)
        , dataset(first_dataset(sim).id) {
        sim.dir.write("ak", sim.account.ak + "\n");
        sim.dir.write("sk", sim.account.sk + "\n");
        config = sim.dir.write("watch.yml", daemon_config(sim, dataset, state.str()));
        daemon.emplace(bin_dir() + "/taskwatchd", std::vector<std::string>{"--config", config},
                       env_list{{"NOTIFY_SOCKET", supervisor.path},
                                {"WATCHDOG_USEC", std::to_string(watchdog.count() * 1000)}});
        auto msg = supervisor.receive(10s);
        REQUIRE_MESSAGE(msg, daemon->stderr_text());
        first = *msg;
    }

    /// Datagrams until one has `line`; that one, or "" when none within `timeout`.
    std::string receive_until(const std::string& line, std::chrono::milliseconds timeout) {
        const auto until = steady::now() + timeout;
        while (steady::now() < until) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
            auto msg = supervisor.receive(std::max(left, 1ms));
            if (!msg) break;
            if (has_line(*msg, line)) return *msg;
        }
        return "";
    }
};

} // namespace

TEST_CASE("under systemd taskwatchd sends READY with a STATUS, pings the watchdog in time, and "
          "STOPPING on SIGTERM") {
    supervised_daemon run({"--static", "--tasks", "6", "--datasets", "1"});
    auto& sim = run.sim;
    auto& supervisor = run.supervisor;
    auto& daemon = *run.daemon;
    const auto* first = &run.first;
    CHECK(has_line(*first, "READY=1"));
    CHECK(line_starting(*first, "STATUS=watching ").size() > 0);

    // Pings for a few seconds: none missing for longer than the watchdog allows, and the
    // STATUS line says what is watched (the listed tasks, once discovered).
    auto last_ping = steady::now();
    std::chrono::milliseconds longest_gap{0};
    int pings = has_line(*first, "WATCHDOG=1") ? 1 : 0;
    std::string status;
    const auto until = steady::now() + 3s;
    while (steady::now() < until) {
        auto msg = supervisor.receive(2 * watchdog);
        REQUIRE_MESSAGE(msg, "no notification within twice the watchdog period");
        if (has_line(*msg, "WATCHDOG=1")) {
            auto now = steady::now();
            longest_gap =
                std::max(longest_gap,
                         std::chrono::duration_cast<std::chrono::milliseconds>(now - last_ping));
            last_ping = now;
            ++pings;
        }
        if (auto s = line_starting(*msg, "STATUS="); !s.empty()) status = s;
        CHECK_FALSE(has_line(*msg, "READY=1")); // once only
    }
    CHECK(pings >= 4);
    CHECK(longest_gap < watchdog);
    MESSAGE("watchdog pings: ", pings, ", longest gap ", longest_gap.count(), " ms; ", status);
    const auto listed = listed_tasks(sim).size();
    CHECK(status.find("STATUS=watching " + std::to_string(listed) + " tasks, 0 failing") == 0);

    daemon.send_signal(SIGTERM);
    bool stopping = false;
    while (auto msg = supervisor.receive(5s)) {
        if (has_line(*msg, "STOPPING=1")) {
            stopping = true;
            break;
        }
    }
    CHECK(stopping);
    CHECK(daemon.wait(10s) == 0);
}

TEST_CASE("under systemd a SIGHUP is framed by RELOADING=1 and READY=1, and a reload that fails "
          "says so in STATUS") {
    supervised_daemon run({"--static", "--tasks", "3", "--datasets", "1"});
    REQUIRE(has_line(run.first, "READY=1"));

    run.daemon->send_signal(SIGHUP);
    auto reloading = run.receive_until("RELOADING=1", 5s);
    REQUIRE_MESSAGE(!reloading.empty(), run.daemon->stderr_text());
    // systemd (notify-reload) wants the time the reload began, on CLOCK_MONOTONIC.
    CHECK(line_starting(reloading, "MONOTONIC_USEC=").size() > 0);
    auto ready = run.receive_until("READY=1", 5s);
    REQUIRE(!ready.empty());
    CHECK(line_starting(ready, "STATUS=watching ").size() > 0);
    CHECK(line_starting(ready, "STATUS=").find("reload failed") == std::string::npos);

    // A broken config: the daemon keeps running the old one, is READY again, and STATUS says
    // the reload failed and why.
    const auto good = read_file(run.config);
    run.sim.dir.write("watch.yml", good + "no_such_key: 1\n");
    run.daemon->send_signal(SIGHUP);
    REQUIRE(!run.receive_until("RELOADING=1", 5s).empty());
    ready = run.receive_until("READY=1", 5s);
    REQUIRE(!ready.empty());
    const auto status = line_starting(ready, "STATUS=");
    CHECK(status.find("last reload failed: ") != std::string::npos);
    CHECK(status.find("no_such_key") != std::string::npos);
    CHECK(run.daemon->running());

    run.daemon->send_signal(SIGTERM);
    CHECK(!run.receive_until("STOPPING=1", 5s).empty());
    CHECK(run.daemon->wait(10s) == 0);
}

TEST_CASE("under systemd no WATCHDOG=1 is sent while the event loop is stuck, so systemd would "
          "restart it - the pings resume when it is free") {
    supervised_daemon run({"--static", "--tasks", "3", "--datasets", "1"});
    REQUIRE(!run.receive_until("WATCHDOG=1", 2 * watchdog).empty());
    // Wait for the first round, so that the daemon has written what discovery found.
    const auto dataset_tasks = run.sim.tasks();
    REQUIRE(wait_until([&] { return !read_events(run.state.file("taskwatch.db")).empty(); }, 10s));

    // An operator's sqlite3 holds the database's write lock. The daemon's next commit waits
    // for it on its event loop (SQLite's busy timeout, 5 s): the loop is stuck meanwhile.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(run.state.file("taskwatch.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    // A change the daemon will commit at its next poll.
    const std::string task_id(dataset_tasks.at(0).at("task_id").as_string());
    run.sim.control(boost::beast::http::verb::patch, "/sim/tasks/" + task_id,
                    R"({"progress": 42})");
    // Pings stop for longer than the watchdog allows: systemd would restart the service.
    auto last_ping = steady::now();
    std::chrono::milliseconds longest_gap{0};
    const auto until = steady::now() + 4s;
    while (steady::now() < until) {
        auto msg = run.supervisor.receive(500ms);
        const auto now = steady::now();
        longest_gap = std::max(
            longest_gap, std::chrono::duration_cast<std::chrono::milliseconds>(now - last_ping));
        if (msg && has_line(*msg, "WATCHDOG=1")) last_ping = now;
    }
    MESSAGE("longest gap between watchdog pings while the loop was stuck: ", longest_gap.count(),
            " ms");
    CHECK(longest_gap > 2 * watchdog);

    // The lock goes: the loop runs again, and so do the pings.
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    CHECK(!run.receive_until("WATCHDOG=1", 6s).empty());
    CHECK(run.daemon->running());
    run.daemon->send_signal(SIGTERM);
    CHECK(run.daemon->wait(10s) == 0);
}
