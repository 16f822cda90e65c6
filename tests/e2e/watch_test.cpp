// taskwatchd --config as a real process watching a real modelarts-sim over TLS: what lands in
// the outbox, across restarts and signals.
#include "sim_process.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <functional>
#include <map>
#include <thread>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

struct stored_event {
    std::string type, task_id;
    boost::json::value payload;
};

// Reads the outbox the way an operator would, with sqlite3, while the daemon may run.
std::vector<stored_event> read_events(const std::string& db_path) {
    std::vector<stored_event> out;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return out;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT type, task_id, payload FROM events ORDER BY rowid", -1, &st,
                           nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            auto text = [&](int i) {
                auto* p = sqlite3_column_text(st, i);
                return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
            };
            out.push_back({text(0), text(1), boost::json::parse(text(2))});
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

struct daemon_process {
    std::optional<test::child_process> proc;
    std::string config, db;

    daemon_process(test::sim_process& sim, const std::string& dataset, const std::string& state_dir,
                   const std::string& extra_poll = "") {
        sim.dir.write("ak", sim.account.ak + "\n");
        sim.dir.write("sk", sim.account.sk + "\n");
        config = sim.dir.write("watch.yml",
                               "listen: 127.0.0.1:0\n"
                               "state_dir: " + state_dir + "\n"
                               "log_level: debug\n"
                               "modelarts:\n"
                               "  endpoint: " + sim.url() + "\n"
                               "  project_id: " + sim.account.project + "\n"
                               "  ca_file: " + sim.ca_file() + "\n"
                               "  auth: {type: aksk, ak_file: ak, sk_file: sk}\n"
                               "  max_requests_per_second: 200\n"
                               "poll:\n  interval: 100ms\n  finished_interval: 300ms\n  jitter: 0\n" + extra_poll +
                               "targets:\n  - dataset_id: " + dataset + "\n");
        db = state_dir + "/taskwatch.db";
        proc.emplace(test::bin_dir() + "/taskwatchd", std::vector<std::string>{"--config", config});
    }

    int stop() {
        proc->send_signal(SIGTERM);
        return proc->wait(10s).value_or(-1);
    }
};

// Waits for a condition on the outbox, re-reading it as the daemon commits (every 200 ms).
std::vector<stored_event> wait_for_events(const std::string& db,
                                          const std::function<bool(const std::vector<stored_event>&)>& done,
                                          std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto events = read_events(db);
    while (!done(events) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms); // the daemon is another process: poll its database
        events = read_events(db);
    }
    return events;
}

std::size_t count_type(const std::vector<stored_event>& ev, const std::string& type) {
    return static_cast<std::size_t>(std::count_if(ev.begin(), ev.end(), [&](const auto& e) { return e.type == type; }));
}

} // namespace

TEST_CASE("the daemon discovers every task, records each status transition once, and exits on SIGTERM") {
    test::sim_process sim({"--static", "--tasks", "5", "--datasets", "1"});
    auto tasks = sim.tasks();
    std::string dataset(tasks.at(0).at("dataset_id").as_string());
    std::size_t listed = 0;
    for (const auto& t : tasks)
        if (t.at("type").as_string() != "auto-grouping") ++listed;
    test::temp_dir state("state");

    daemon_process d(sim, dataset, state.path());
    auto events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.discovered") >= listed; });
    REQUIRE_MESSAGE(count_type(events, "task.discovered") == listed, d.proc->stderr_text());

    // Drive one task through a lifecycle; skipped states become one transition.
    std::string task_id;
    for (const auto& t : tasks)
        if (t.at("type").as_string() != "auto-grouping") task_id = std::string(t.at("task_id").as_string());
    auto patch = [&](const std::string& body) { sim.control(verb::patch, "/sim/tasks/" + task_id, body); };
    patch(R"({"status":"running","progress":10})");
    events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; });
    patch(R"({"status":"succeeded","progress":100})");
    events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 2; });

    std::vector<std::string> mine;
    for (const auto& e : events)
        if (e.task_id == task_id) mine.push_back(e.type);
    CHECK(mine == std::vector<std::string>{"task.discovered", "task.status_changed", "task.status_changed"});
    CHECK(d.stop() == 0);
    // Nothing more was added while stopping, and nothing twice.
    auto final_events = read_events(d.db);
    std::set<std::string> ids;
    for (const auto& e : final_events) ids.insert(std::string(e.payload.at("id").as_string()));
    CHECK(ids.size() == final_events.size());
}

TEST_CASE("after a restart the daemon continues from its state: no discovered storm, no missed transition") {
    test::sim_process sim({"--static", "--tasks", "4", "--datasets", "1"});
    auto tasks = sim.tasks();
    std::string dataset(tasks.at(0).at("dataset_id").as_string());
    std::string task_id;
    std::size_t listed = 0;
    for (const auto& t : tasks)
        if (t.at("type").as_string() != "auto-grouping") {
            ++listed;
            task_id = std::string(t.at("task_id").as_string());
        }
    test::temp_dir state("state");
    {
        daemon_process d(sim, dataset, state.path());
        auto events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.discovered") >= listed; });
        REQUIRE(count_type(events, "task.discovered") == listed);
        CHECK(d.stop() == 0);
    }
    // While the daemon is down the task moves on.
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status":"failed","progress":40,"error_code":"ModelArts.4611","error_msg":"boom"})");
    daemon_process d(sim, dataset, state.path());
    auto events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; });
    CHECK(count_type(events, "task.discovered") == listed);
    REQUIRE(count_type(events, "task.status_changed") == 1);
    const auto& last = events.back();
    CHECK(last.task_id == task_id);
    CHECK(d.stop() == 0);
}

TEST_CASE("a task finished for longer than forget_finished_after is forgotten and not discovered again") {
    test::sim_process sim({"--static", "--tasks", "3", "--datasets", "1"});
    auto tasks = sim.tasks();
    std::string dataset(tasks.at(0).at("dataset_id").as_string());
    std::string task_id;
    std::size_t listed = 0;
    for (const auto& t : tasks)
        if (t.at("type").as_string() != "auto-grouping") {
            ++listed;
            task_id = std::string(t.at("task_id").as_string());
        }
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status":"running","progress":50})");
    test::temp_dir state("state");
    const std::string forget = "  forget_finished_after: 1s\n";
    auto forgotten_rows = [&](const std::string& db) {
        sqlite3* h = nullptr;
        int n = -1;
        if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_busy_timeout(h, 2000);
            sqlite3_stmt* st = nullptr;
            if (sqlite3_prepare_v2(h, "SELECT count(*) FROM tasks WHERE forgotten = 1 AND task_id = ?1", -1, &st, nullptr) == SQLITE_OK &&
                sqlite3_bind_text(st, 1, task_id.c_str(), -1, SQLITE_TRANSIENT) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        sqlite3_close(h);
        return n;
    };
    daemon_process d(sim, dataset, state.path(), forget);
    auto events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.discovered") >= listed; });
    REQUIRE(count_type(events, "task.discovered") == listed);
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status":"succeeded","progress":100})");
    events = wait_for_events(d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; });
    REQUIRE(count_type(events, "task.status_changed") == 1);
    // Wait until the finished task is tombstoned (finished tasks found at start go the same way).
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (forgotten_rows(d.db) < 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    CHECK(forgotten_rows(d.db) == 1);
    CHECK(d.stop() == 0);
    daemon_process again(sim, dataset, state.path(), forget);
    // Let a few discovery rounds (100 ms each) pass, then stop: still one discovered per task.
    auto after = wait_for_events(again.db, [&](const auto&) { return false; }, 1500ms);
    CHECK(count_type(after, "task.discovered") == listed);
    CHECK(again.stop() == 0);
}
