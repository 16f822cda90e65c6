// taskwatchd whose stderr is a pipe nobody reads any more (a log collector that died, a shell
// pipeline whose reader quit): log lines are lost, the daemon is not.
#include "support/daemon.hpp"
#include "support/http_request.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <regex>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

} // namespace

TEST_CASE("the daemon outlives the reader of its stderr pipe and keeps logging nowhere") {
    sim_process sim({"--static", "--tasks", "2", "--datasets", "1"});
    const auto dataset = first_dataset(sim).id;
    temp_dir state("taskwatch-stderr");
    sim.dir.write("ak", sim.account.ak + "\n");
    sim.dir.write("sk", sim.account.sk + "\n");
    daemon_options o;
    o.interval = "1s";
    const auto config = sim.dir.write("watch.yml", daemon_config(sim, dataset, state.str(), o));

    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    child_process daemon(bin_dir() + "/taskwatchd", {"--config", config}, {}, fds[1]);
    ::close(fds[1]);

    // Read stderr until the daemon says where it listens.
    std::string err;
    server_address http;
    const std::regex listening(R"(url=http://127\.0\.0\.1:(\d+)/)");
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    std::smatch m;
    while (!std::regex_search(err, m, listening) && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        char buf[4096];
        auto n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        err.append(buf, static_cast<std::size_t>(n));
    }
    REQUIRE_MESSAGE(std::regex_search(err, m, listening), err);
    http.port = static_cast<std::uint16_t>(std::stoi(m[1]));
    ::close(fds[0]); // nobody reads stderr any more: the next write gets EPIPE (or SIGPIPE)

    // A reload logs ("configuration reloaded") and then shows its labels in /api/v1/tasks, so
    // seeing the labels means the daemon has written to the closed pipe and lived on.
    o.extra_target = "    labels: {team: after-reload}\n";
    sim.dir.write("watch.yml", daemon_config(sim, dataset, state.str(), o));
    daemon.send_signal(SIGHUP);
    const bool relabelled = wait_until(
        [&] {
            auto r = http_request(http, verb::get, "/api/v1/tasks", {}, {}, 2s);
            return r.status == 200 && r.body.find("after-reload") != std::string::npos;
        },
        10s);
    CHECK(relabelled);
    CHECK(daemon.running());
    auto healthy = http_request(http, verb::get, "/-/healthy", {}, {}, 2s);
    CHECK(healthy.status == 200);

    daemon.send_signal(SIGTERM);
    CHECK(daemon.wait(10s) == 0);
}
