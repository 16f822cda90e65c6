// 200 SIGHUPs that each change the credentials and the endpoint, while tasks are polled: the
// API clients and authorizers a reload replaces go with the last request that uses them, so
// the daemon's RSS and open file descriptors end where they started.
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <string>

using namespace taskwatch::test;
using namespace std::chrono_literals;

namespace {

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

int open_fds(pid_t pid) {
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d) return -1;
    int n = 0;
    while (auto* e = ::readdir(d))
        n += e->d_name[0] != '.';
    ::closedir(d);
    return n;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("200 SIGHUPs that change credentials and endpoint leave RSS and open fds where they "
          "started") {
    temp_dir keys("keys");
    const std::string ak2 = "SIMTESTAK0000000002";
    const std::string sk2 = "sim-test-secret-key-0002";
    sim_process sim({"--static", "--tasks", "6", "--datasets", "1", "--ak", ak2, "--sk-file",
                     keys.write("sk2", sk2 + "\n")});
    const auto tasks = sim.tasks(); // one dataset
    const std::string dataset(tasks.at(0).at("dataset_id").as_string());
    const std::size_t listed = tasks.size();
    temp_dir state("state");
    daemon_process d(sim, dataset, state.path());
    wait_for_discovery(d, listed);
    const std::string base = read_file(d.config);
    const std::string local = "https://127.0.0.1:", named = "https://localhost:";
    REQUIRE(base.find(local) != std::string::npos);

    // Reload number `i`: the other key pair and the other name of the simulator each time.
    std::size_t reloads = 0;
    auto reload = [&](int i) {
        const bool odd = i % 2 != 0;
        sim.dir.write("ak", (odd ? ak2 : sim.account.ak) + "\n");
        sim.dir.write("sk", (odd ? sk2 : sim.account.sk) + "\n");
        std::string config = base;
        if (odd) config.replace(config.find(local), local.size(), named);
        sim.dir.write("watch.yml", config);
        d.proc->send_signal(SIGHUP);
        ++reloads;
        REQUIRE_MESSAGE(wait_until(
                            [&] {
                                return count_of(d.proc->stderr_text(), "configuration reloaded") >=
                                       reloads;
                            },
                            10s),
                        "reload " << i << " not applied; stderr: " << d.proc->stderr_text());
    };
    // Warm-up: both keys, both names, their connection pools and the allocator's arenas.
    for (int i = 0; i < 20; ++i)
        reload(i);
    const auto polls_before = sim.requests_of_kind("get_task");
    const long rss_start = rss_kib(d.proc->pid());
    const int fds_start = open_fds(d.proc->pid());
    for (int i = 0; i < 200; ++i)
        reload(i);
    // Still polling with every change: the requests go on under the last configuration.
    CHECK(wait_until([&] { return sim.requests_of_kind("get_task") >= polls_before + 50; }, 10s));
    const long rss_end = rss_kib(d.proc->pid());
    const int fds_end = open_fds(d.proc->pid());
    MESSAGE("200 reloads: RSS " << rss_start << " -> " << rss_end << " KiB, open fds " << fds_start
                                << " -> " << fds_end);
    CHECK(d.proc->running());
    CHECK(d.proc->stderr_text().find("coroutine ended by an exception") == std::string::npos);
    // Margins: 1 MiB of RSS (malloc's arenas move a little), and the connections of the two
    // endpoints' pools (max_connections 8 each) coming and going.
    // Under the sanitizers (scripts/test-asan.sh runs these tests against ASan binaries, named
    // by TASKWATCH_TEST_BIN_DIR) freed memory sits in ASan's quarantine, so RSS says nothing
    // there; LeakSanitizer checks the daemon at exit instead.
    if (std::getenv("TASKWATCH_TEST_BIN_DIR") == nullptr)
        CHECK(rss_end <= rss_start + 1024);
    else
        MESSAGE("sanitized taskwatchd: RSS not compared (ASan quarantine)");
    CHECK(fds_end <= fds_start + 8);
    CHECK(d.stop() == 0);
}
