// Shards (docs/scaling.md): several taskwatchd over one simulator, each watching the tasks whose
// key hashes to its shard. Together they cover every task exactly once and stay within the
// account's request rate; a reload that moves a daemon to another shard drops the tasks that
// left it without calling them gone.
#include "taskwatch/task/shard.hpp"

#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/http_request.hpp"
#include "support/outbox.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

namespace {

// The task ids a daemon's /api/v1/tasks lists (with their project and dataset checked).
std::multiset<std::string> watched_ids(served_daemon& d, const std::string& project,
                                       const std::string& dataset) {
    auto r = d.get("/api/v1/tasks");
    REQUIRE(r.status == 200);
    const auto tasks = boost::json::parse(r.body); // kept alive over the loop
    std::multiset<std::string> out;
    for (const auto& t : tasks.as_array()) {
        CHECK(string_of(t.at("project_id")) == project);
        CHECK(string_of(t.at("dataset_id")) == dataset);
        out.insert(string_of(t.at("task_id")));
    }
    return out;
}

// The ids of `listed` that shard `s` owns: what a daemon of that shard must watch.
std::multiset<std::string> owned_ids(const std::vector<boost::json::object>& listed,
                                     const task::shard& s, const std::string& project) {
    std::multiset<std::string> out;
    for (const auto& t : listed) {
        const task::task_key key{project, string_of(t.at("dataset_id")),
                                 string_of(t.at("task_id"))};
        if (s.owns(key)) out.insert(key.task_id.str());
    }
    return out;
}

// Every task of the simulator: a daemon lists all three task types, auto-grouping included
// (listed_tasks() leaves those out).
std::vector<boost::json::object> every_task(sim_control& sim) {
    std::vector<boost::json::object> out;
    for (const auto& t : sim.tasks())
        out.push_back(t.as_object());
    return out;
}

bool ready(served_daemon& d) {
    return d.get("/-/ready", {}, 2s).status == 200;
}

// API requests the simulator answered since its counters were last zeroed.
std::uint64_t api_requests(sim_control& sim) {
    const auto by_kind = sim.stats().at("requests_by_kind");
    return by_kind.at("get_task").to_number<std::uint64_t>() +
           by_kind.at("list_tasks").to_number<std::uint64_t>();
}

} // namespace

TEST_CASE("three shards cover every task exactly once and together stay within the account's "
          "request rate") {
    sim_process sim({"--static", "--tasks", "60", "--datasets", "1"});
    const auto listed = every_task(sim);
    const auto dataset = string_of(listed.at(0).at("dataset_id"));
    const auto& project = sim.account.project;
    constexpr double account_rate = 30;
    constexpr std::uint64_t count = 3;

    // Every shard wants more than its share: 20 tasks every second each, 10 requests a second
    // allowed, so the rate, not the interval, is what holds them back.
    std::vector<std::unique_ptr<temp_dir>> states;
    std::vector<std::unique_ptr<served_daemon>> shards;
    for (std::uint64_t i = 0; i < count; ++i) {
        states.push_back(std::make_unique<temp_dir>("state"));
        daemon_options o;
        o.interval = "1s";
        o.finished_interval = "1s";
        o.max_requests_per_second = account_rate;
        o.config_name = "shard-" + std::to_string(i) + ".yml";
        o.extra_top = "shard: {index: 0, count: 1}\n"; // the command line overrides it
        o.args = {"--shard", std::to_string(i) + "/" + std::to_string(count)};
        shards.push_back(std::make_unique<served_daemon>(sim, dataset, states.back()->str(), o));
    }
    for (auto& d : shards)
        REQUIRE_MESSAGE(wait_until([&] { return ready(*d); }, 60s), d->d.proc->stderr_text());

    std::multiset<std::string> all;
    for (std::uint64_t i = 0; i < count; ++i) {
        CAPTURE(i);
        const auto got = watched_ids(*shards[i], project, dataset);
        const auto want = owned_ids(listed, task::shard{i, count}, project);
        INFO(got.size() << " watched, " << want.size() << " owned; first watched "
                        << (got.empty() ? "-" : *got.begin()) << ", first owned "
                        << (want.empty() ? "-" : *want.begin()));
        CHECK(got == want);
        CHECK(!got.empty());
        CHECK(shards[i]->metric("taskwatch_shard_index") == static_cast<double>(i));
        CHECK(shards[i]->metric("taskwatch_shards") == static_cast<double>(count));
        all.insert(got.begin(), got.end());
    }
    std::multiset<std::string> every;
    for (const auto& t : listed)
        every.insert(string_of(t.at("task_id")));
    INFO(all.size() << " watched in all, " << every.size() << " listed");
    CHECK(all == every); // each task once: a multiset shows a task watched twice

    // The rate over a window: zero the simulator's counters, wait for 90 API requests (3 s at
    // the account's rate), and compare the rate they came at. One token of burst per shard may
    // ride on top; the shards' buckets are empty by now, they have been busy since the start.
    sim.control(verb::delete_, "/sim/stats");
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t n = 0;
    REQUIRE(wait_until(
        [&] {
            n = api_requests(sim);
            return n >= 90;
        },
        20s, 20ms));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(n << " API requests in " << seconds << " s from three shards of a " << account_rate
              << "/s account");
    CHECK(static_cast<double>(n) <= account_rate * seconds + count);
    // And they use it: the three shards together are not far below the account's rate.
    CHECK(static_cast<double>(n) >= 0.6 * account_rate * seconds);

    for (auto& d : shards)
        CHECK(d->d.stop() == 0);
}

TEST_CASE("a reload that changes the shard drops the tasks that left it, without task.gone") {
    sim_process sim({"--static", "--tasks", "12", "--datasets", "1"});
    const auto listed = every_task(sim);
    const auto dataset = string_of(listed.at(0).at("dataset_id"));
    const auto& project = sim.account.project;
    temp_dir state("state");
    daemon_options o;
    o.extra_top = "shard: {index: 0, count: 2}\n";
    served_daemon d(sim, dataset, state.str(), o);
    REQUIRE_MESSAGE(wait_until([&] { return ready(d); }, 30s), d.d.proc->stderr_text());
    const auto first = owned_ids(listed, task::shard{0, 2}, project);
    const auto second = owned_ids(listed, task::shard{1, 2}, project);
    REQUIRE(!first.empty());
    REQUIRE(!second.empty());
    CHECK(watched_ids(d, project, dataset) == first);
    CHECK(d.metric("taskwatch_shard_index") == 0.0);
    CHECK(d.metric("taskwatch_shards") == 2.0);
    wait_for_discovery(d.d, first.size());

    o.extra_top = "shard: {index: 1, count: 2}\n";
    sim.dir.write(o.config_name, daemon_config(sim, dataset, state.str(), o));
    d.d.proc->send_signal(SIGHUP);
    REQUIRE_MESSAGE(wait_until([&] { return watched_ids(d, project, dataset) == second; }, 15s),
                    d.d.proc->stderr_text());
    CHECK(d.metric("taskwatch_shard_index") == 1.0);
    CHECK(d.metric("taskwatch_tasks") == static_cast<double>(second.size()));
    // The newcomers are discovered; the tasks that moved away are not gone.
    const auto events = wait_for_discovery(d.d, listed.size());
    CHECK(count_type(events, "task.gone") == 0);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("task_ids listed in the config are filtered by the shard too") {
    sim_process sim({"--static", "--tasks", "8", "--datasets", "1"});
    const auto tasks = every_task(sim);
    const auto dataset = string_of(tasks.at(0).at("dataset_id"));
    const auto& project = sim.account.project;
    std::string ids;
    for (const auto& t : tasks)
        ids += (ids.empty() ? "" : ", ") + string_of(t.at("task_id"));
    const task::shard shard{1, 2};
    const auto owned = owned_ids(tasks, shard, project);
    REQUIRE(!owned.empty());
    REQUIRE(owned.size() < tasks.size());
    temp_dir state("state");
    daemon_options o;
    o.extra_target = "    task_ids: [" + ids + "]\n";
    o.args = {"--shard", to_string(shard)};
    served_daemon d(sim, dataset, state.str(), o);
    REQUIRE_MESSAGE(wait_until([&] { return ready(d); }, 30s), d.d.proc->stderr_text());
    CHECK(watched_ids(d, project, dataset) == owned);
    CHECK(d.d.stop() == 0);
}
