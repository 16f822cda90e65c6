// A wrong SK against the real taskwatchd and modelarts-sim: the gateway locks a key after 5 bad
// signatures, so the daemon must send one signed request, pause at least 30 s, then send one
// probe, whatever its targets (discovery and configured task ids on one endpoint) and its 16
// connections would like to do; and new credentials by SIGHUP are tried soon, one at a time.
#include "support/daemon.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::uint64_t status_count(sim_process& sim, const char* status) {
    auto s = sim.stats();
    const auto* n = s.at("requests_by_status").as_object().if_contains(status);
    return n ? n->to_number<std::uint64_t>() : 0;
}

std::uint64_t api_requests(sim_process& sim) {
    return sim.requests_of_kind("get_task") + sim.requests_of_kind("list_tasks");
}

struct two_targets {
    std::string discovered;       ///< a dataset without task_ids
    std::string configured;       ///< a dataset with task_ids
    std::vector<std::string> ids; ///< its tasks
};

two_targets pick_targets(sim_process& sim) {
    two_targets t;
    for (const auto& task : sim.tasks()) {
        const std::string dataset(task.at("dataset_id").as_string());
        if (t.discovered.empty()) t.discovered = dataset;
        if (dataset == t.discovered) continue;
        if (t.configured.empty()) t.configured = dataset;
        if (dataset == t.configured) t.ids.emplace_back(task.at("task_id").as_string());
    }
    REQUIRE(!t.configured.empty());
    REQUIRE(t.ids.size() >= 3);
    return t;
}

// The daemon: both targets on the simulator's one endpoint, every task due often, 16
// connections, a generous budget: everything that could burst, bursts.
daemon_options busy_options(const two_targets& t) {
    daemon_options o;
    o.interval = "200ms";
    o.finished_interval = "200ms";
    o.max_requests_per_second = 100;
    o.extra_modelarts = "  max_connections: 16\n";
    o.extra_target = "  - dataset_id: " + t.configured + "\n    task_ids: [" + t.ids[0] + ", " +
                     t.ids[1] + ", " + t.ids[2] + "]\n";
    return o;
}

} // namespace

TEST_CASE("a wrong SK costs one 401, then one probe after 30 s: no burst, no more") {
    sim_process sim({"--static", "--tasks", "12", "--datasets", "2"});
    const auto targets = pick_targets(sim);
    temp_dir state("state");
    sim.account.sk = "a-wrong-secret-key-0000"; // the daemon's sk file; the simulator keeps its own
    daemon_process d(sim, targets.discovered, state.str(), busy_options(targets));

    REQUIRE_MESSAGE(wait_until([&] { return status_count(sim, "401") >= 1; }, 10s, 20ms),
                    d.proc->stderr_text());
    const auto first = steady::now();
    // Every request from now on would be another bad signature: wait for the next one.
    std::uint64_t rejected = 1;
    const bool probed =
        wait_until([&] { return (rejected = status_count(sim, "401")) >= 2; }, 40s, 50ms);
    const auto gap = std::chrono::duration<double>(steady::now() - first).count();
    MESSAGE("second 401 after " << gap << " s; 401s then: " << rejected);
    CHECK(probed);
    CHECK(rejected == 2); // one probe, not the tasks that were due meanwhile
    CHECK(gap >= 29.8);   // the pause runs from the first failure (sampled every 50 ms)
    // The probe failed too: the next pause is longer still; no task fires its own request.
    std::this_thread::sleep_for(3s); // observing an absence takes a while; nothing to await
    CHECK(status_count(sim, "401") == 2);
    CHECK(api_requests(sim) == 2); // every signed request was one of those two
    const auto err = d.proc->stderr_text();
    CHECK_MESSAGE(err.find("sk_file") != std::string::npos, err);
    CHECK(err.find("clock") != std::string::npos);
    CHECK(err.find(targets.discovered) != std::string::npos);
    CHECK(err.find(targets.configured) != std::string::npos);
    CHECK(err.find("a-wrong-secret") == std::string::npos);
    CHECK(d.stop() == 0);
}

TEST_CASE("after a wrong SK, SIGHUP with the right one is tried at once and polling resumes") {
    sim_process sim({"--static", "--tasks", "12", "--datasets", "2"});
    const auto targets = pick_targets(sim);
    temp_dir state("state");
    const std::string right = sim.account.sk;
    sim.account.sk = "a-wrong-secret-key-0000";
    daemon_process d(sim, targets.discovered, state.str(), busy_options(targets));
    REQUIRE_MESSAGE(wait_until([&] { return status_count(sim, "401") >= 1; }, 10s, 20ms),
                    d.proc->stderr_text());

    sim.dir.write("sk", right + "\n");
    d.proc->send_signal(SIGHUP);
    // Well within the 30 s pause of the old key: new credentials are a new key.
    // (get_task and list_tasks answers other than 401 are the successes: control requests
    // such as /sim/stats count as 200 too.)
    REQUIRE_MESSAGE(
        wait_until([&] { return api_requests(sim) >= status_count(sim, "401") + 10; }, 10s),
        d.proc->stderr_text());
    CHECK(status_count(sim, "401") == 1);
    CHECK(d.wait_for_stderr("credentials accepted again", 5s));
    CHECK(d.stop() == 0);
}
