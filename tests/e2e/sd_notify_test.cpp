// taskwatchd under a systemd-like supervisor: the sd_notify protocol (READY, STATUS, WATCHDOG,
// STOPPING) on a NOTIFY_SOCKET datagram socket the test owns, as systemd would for
// Type=notify with WatchdogSec.
#include "support/daemon.hpp"

#include <doctest/doctest.h>

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

} // namespace

TEST_CASE("under systemd taskwatchd sends READY with a STATUS, pings the watchdog in time, and "
          "STOPPING on SIGTERM") {
    sim_process sim({"--static", "--tasks", "6", "--datasets", "1"});
    const auto dataset = first_dataset(sim).id;
    temp_dir state("state");
    sim.dir.write("ak", sim.account.ak + "\n");
    sim.dir.write("sk", sim.account.sk + "\n");
    auto config = sim.dir.write("watch.yml", daemon_config(sim, dataset, state.str()));
    notify_socket supervisor(state.file("notify.sock"));

    // WatchdogSec=1s: systemd expects a ping at least every second (we ping every half).
    const auto watchdog = 1000ms;
    child_process daemon(bin_dir() + "/taskwatchd", {"--config", config},
                         {{"NOTIFY_SOCKET", supervisor.path},
                          {"WATCHDOG_USEC", std::to_string(watchdog.count() * 1000)}});

    auto first = supervisor.receive(10s);
    REQUIRE_MESSAGE(first, daemon.stderr_text());
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
