// taskwatchd --config as a real process watching a real modelarts-sim over TLS: what lands in
// the outbox, across restarts and signals.
#include "support/daemon.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <map>
#include <set>
#include <thread>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

} // namespace

TEST_CASE_FIXTURE(
    static_sim<5>,
    "the daemon discovers every task, records each status transition once, and exits on SIGTERM") {
    daemon_process d(sim, dataset, state.str());
    auto events = wait_for_discovery(d, tasks.size());

    // Drive one task through a lifecycle; skipped states become one transition.
    const auto task_id = string_of(tasks.back().at("task_id"));
    auto patch = [&](const std::string& body) {
        sim.control(verb::patch, "/sim/tasks/" + task_id, body);
    };
    patch(R"({"status":"running","progress":10})");
    events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; });
    patch(R"({"status":"succeeded","progress":100})");
    events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 2; });

    std::vector<std::string> mine;
    for (const auto& e : events)
        if (e.task_id == task_id) mine.push_back(e.type);
    CHECK(mine == std::vector<std::string>{"task.discovered", "task.status_changed",
                                           "task.status_changed"});
    CHECK(d.stop() == 0);
    // Nothing more was added while stopping, and nothing twice.
    auto final_events = read_events(d.db);
    std::set<std::string> ids;
    for (const auto& e : final_events)
        ids.insert(std::string(e.payload.at("id").as_string()));
    CHECK(ids.size() == final_events.size());
}

TEST_CASE_FIXTURE(static_sim<4>,
                  "after a restart the daemon continues from its state: no discovered storm, no "
                  "missed transition") {
    const auto task_id = string_of(tasks.back().at("task_id"));
    const auto listed = tasks.size();
    {
        daemon_process d(sim, dataset, state.str());
        auto events = wait_for_discovery(d, listed);
        CHECK(d.stop() == 0);
    }
    // While the daemon is down the task moves on.
    sim.control(
        verb::patch, "/sim/tasks/" + task_id,
        R"({"status":"failed","progress":40,"error_code":"ModelArts.4611","error_msg":"boom"})");
    daemon_process d(sim, dataset, state.str());
    auto events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; });
    CHECK(count_type(events, "task.discovered") == listed);
    REQUIRE(count_type(events, "task.status_changed") == 1);
    const auto& last = events.back();
    CHECK(last.task_id == task_id);
    CHECK(d.stop() == 0);
}

TEST_CASE_FIXTURE(
    static_sim<3>,
    "a task finished for longer than forget_finished_after is forgotten and not discovered again") {
    const auto task_id = string_of(tasks.back().at("task_id"));
    const auto listed = tasks.size();
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status":"running","progress":50})");
    const std::string forget = "  forget_finished_after: 1s\n";
    auto forgotten_rows = [&](const std::string& db) {
        // Task ids are the simulator's: letters and digits, nothing to quote.
        auto rows = query(db, "SELECT count(*) FROM tasks WHERE forgotten = 1 AND task_id = '" +
                                  task_id + "'");
        return rows.empty() ? -1 : std::stoi(rows[0][0]);
    };
    test::daemon_options opts;
    opts.extra_poll = forget;
    daemon_process d(sim, dataset, state.str(), opts);
    auto events = wait_for_discovery(d, listed);
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status":"succeeded","progress":100})");
    events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; });
    REQUIRE(count_type(events, "task.status_changed") == 1);
    // Wait until the finished task is tombstoned (finished tasks found at start go the same way).
    wait_until([&] { return forgotten_rows(d.db) >= 1; }, 15s);
    CHECK(forgotten_rows(d.db) == 1);
    CHECK(d.stop() == 0);
    daemon_process again(sim, dataset, state.str(), opts);
    // Let a few discovery rounds (100 ms each) pass, then stop: still one discovered per task.
    auto after = wait_for_events(
        again.db, [&](const auto&) { return false; }, 1500ms);
    CHECK(count_type(after, "task.discovered") == listed);
    CHECK(again.stop() == 0);
}

TEST_CASE("tasks walking through the simulator's own lifecycles give exactly their transitions, "
          "in order, once each") {
    // Lifecycles of a few seconds: queuing and initializing last at least 300 ms, running at
    // least 3 s unless the task fails or is stopped, stopping at least 200 ms; the daemon
    // polls every 50 ms, so it sees every phase but a cut-short running one.
    test::sim_process sim({"--tasks", "30", "--datasets", "1", "--phase-seconds", "1"});
    auto initial = sim.tasks();
    std::string dataset(initial.at(0).at("dataset_id").as_string());
    // Besides the initial world (spread over every phase, a quarter long finished), tasks
    // that start now, three of each fate, walk their whole lifecycle under watch.
    for (int i = 0; i < 9; ++i) {
        const char* fates[] = {"succeed", "fail", "stop"};
        sim.control(verb::post, "/sim/tasks",
                    std::string(R"({"dataset_id":")") + dataset +
                        R"(","type":"auto-label","fate":")" + fates[i % 3] + R"("})");
    }
    const std::size_t all = initial.size() + 9;
    test::temp_dir state("state");
    daemon_options o;
    o.interval = "50ms";
    o.finished_interval = "200ms";
    o.max_requests_per_second = 2000;
    daemon_process d(sim, dataset, state.str(), o);

    auto str = [](const boost::json::value& v) { return std::string(v.as_string()); };
    const std::set<std::string> terminal{"failed", "succeeded", "stopped"};
    // Wait until the simulator's tasks all finished; lifecycles span at most ~11 phases.
    std::map<std::string, std::string> final_status, fate;
    REQUIRE(wait_until(
        [&] {
            final_status.clear();
            for (const auto& t : sim.tasks()) {
                final_status[str(t.at("task_id"))] = str(t.at("status_name"));
                fate[str(t.at("task_id"))] = str(t.at("fate"));
            }
            return std::all_of(final_status.begin(), final_status.end(),
                               [&](const auto& kv) { return terminal.count(kv.second) > 0; });
        },
        30s, 200ms));
    REQUIRE(final_status.size() == all);

    // Each task's chain of statuses as the outbox tells it.
    using chains = std::map<std::string, std::vector<std::string>>;
    auto chains_of = [&](const std::vector<stored_event>& events) {
        chains out;
        for (const auto& e : events) {
            if (e.type == "task.discovered")
                out[e.task_id].push_back(str(e.payload.at("current").at("status")));
            if (e.type == "task.status_changed") {
                auto& c = out[e.task_id];
                // Unbroken: each transition starts where the last one ended.
                CHECK_MESSAGE(
                    (!c.empty() && c.back() == str(e.payload.at("previous").at("status"))),
                    e.task_id);
                c.push_back(str(e.payload.at("current").at("status")));
            }
        }
        return out;
    };
    auto events = wait_for_events(
        d.db,
        [&](const auto& ev) {
            auto c = chains_of(ev);
            return std::all_of(final_status.begin(), final_status.end(), [&](const auto& kv) {
                return c.count(kv.first) && c[kv.first].back() == kv.second;
            });
        },
        15s);
    CHECK(d.stop() == 0);
    events = read_events(d.db);
    auto c = chains_of(events);

    const std::map<std::string, std::vector<std::string>> path{
        {"succeed", {"queuing", "initializing", "running", "succeeded"}},
        {"fail", {"queuing", "initializing", "running", "failed"}},
        {"stop", {"queuing", "initializing", "running", "stopping", "stopped"}}};
    std::size_t transitions = 0;
    for (const auto& [id, status] : final_status) {
        INFO("task ", id, " fate ", fate[id]);
        REQUIRE(c.count(id));
        const auto& chain = c[id];
        CHECK(chain.back() == status);
        // The plan from the discovered status on; a running phase cut short by a failure or
        // a stop may be shorter than a poll, then initializing -> failed/stopping is one step.
        const auto& plan = path.at(fate[id]);
        auto from = std::find(plan.begin(), plan.end(), chain.front());
        REQUIRE(from != plan.end());
        std::vector<std::string> want(from, plan.end());
        if (chain != want && fate[id] != "succeed") std::erase(want, std::string("running"));
        CHECK(chain == want);
        transitions += chain.size() - 1;
    }
    // Exactly those events, each once: one discovered per task and the transitions.
    CHECK(count_type(events, "task.discovered") == all);
    CHECK(count_type(events, "task.status_changed") == transitions);
    std::set<std::string> ids;
    for (const auto& e : events)
        ids.insert(str(e.payload.at("id")));
    CHECK(ids.size() == events.size());
    MESSAGE(transitions, " transitions over ", all, " tasks");
}

TEST_CASE_FIXTURE(static_sim<3>, "events every webhook received leave the outbox after a day, "
                                 "newer ones stay") {
    const auto listed = tasks.size();
    const auto kept_task = string_of(tasks.back().at("task_id"));
    std::string db;
    {
        daemon_process d(sim, dataset, state.str());
        wait_for_discovery(d, listed);
        CHECK(d.stop() == 0);
        db = d.db;
    }
    // No webhook is configured, so no event waits for a delivery. All but one task's events
    // are made two days old (past the retention of a day).
    CHECK(exec_sql(db, "UPDATE events SET time = time - 2 * 86400000 WHERE task_id <> '" +
                           kept_task + "'") == ""); // the simulator's ids: letters and digits
    auto remaining = [&] { return read_events(db); };
    REQUIRE(remaining().size() == listed);
    // The daemon prunes on the first tick of its forget loop (a tenth of forget_finished_after,
    // at most a minute; the retention stays a day), then hourly.
    test::daemon_options opts;
    opts.extra_poll = "  forget_finished_after: 1s\n";
    daemon_process again(sim, dataset, state.str(), opts);
    CHECK(wait_until([&] { return remaining().size() == 1; }, 15s));
    const auto left = remaining();
    REQUIRE(left.size() == 1);
    CHECK(left[0].task_id == kept_task);
    CHECK(left[0].type == "task.discovered");
    CHECK(again.stop() == 0);
}
