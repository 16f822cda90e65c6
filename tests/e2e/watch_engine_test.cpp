// Acceptance points of the watch engine, each against real taskwatchd and modelarts-sim
// processes over TLS: discovery, throttling, crash safety of the outbox, SIGHUP, a foreign
// state file, and SIGTERM while requests hang.
#include "support/daemon.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <sqlite3.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

std::string str(const boost::json::value& v) {
    return std::string(v.as_string());
}

std::uint64_t get_task_requests(sim_process& sim) {
    return sim.requests_of_kind("get_task");
}

// get_task requests per second the simulator answered over the next `window`.
double get_task_rate(sim_process& sim, std::chrono::milliseconds window) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto n0 = get_task_requests(sim);
    std::this_thread::sleep_for(window); // a measurement window, not a synchronisation
    const auto n1 = get_task_requests(sim);
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return static_cast<double>(n1 - n0) / secs;
}

/// A daemon with the default options that has discovered every task of a static simulator with
/// `Tasks` tasks in one dataset (a doctest fixture).
template <int Tasks> struct discovered_daemon {
    sim_process sim{
        std::vector<std::string>{"--static", "--tasks", std::to_string(Tasks), "--datasets", "1"}};
    dataset_ref first = first_dataset(sim);
    std::string dataset = first.id;
    std::size_t listed = first.tasks;
    temp_dir state{"state"};
    daemon_process d{sim, dataset, state.str()};
    std::vector<stored_event> events = wait_for_discovery(d, listed);
};

} // namespace

TEST_CASE_FIXTURE(
    discovered_daemon<4>,
    "discovery reports a task added to the simulator, and a deleted task as gone exactly once") {

    const std::string added = "NEWTASK0000000000001";
    sim.control(verb::post, "/sim/tasks",
                R"({"dataset_id":")" + dataset + R"(","project_id":")" + sim.account.project +
                    R"(","task_id":")" + added +
                    R"(","type":"auto-label","status":"running","progress":12.5})");
    events = wait_for_events(
        d.db, [&](const auto& ev) { return count_of(ev, "task.discovered", added) >= 1; });
    REQUIRE_MESSAGE(count_of(events, "task.discovered", added) == 1, d.proc->stderr_text());
    const auto* discovered = &events.back();
    for (const auto& e : events)
        if (e.type == "task.discovered" && e.task_id == added) discovered = &e;
    CHECK(str(discovered->payload.at("current").at("status")) == "running");

    // One task present from the start and the one just added both disappear.
    std::string original;
    for (const auto& t : sim.tasks())
        if (str(t.at("task_id")) != added) original = str(t.at("task_id"));
    sim.control(verb::delete_, "/sim/tasks/" + added);
    sim.control(verb::delete_, "/sim/tasks/" + original);
    events = wait_for_events(d.db, [&](const auto& ev) {
        return count_of(ev, "task.gone", added) >= 1 && count_of(ev, "task.gone", original) >= 1;
    });
    REQUIRE_MESSAGE(count_of(events, "task.gone", added) == 1, d.proc->stderr_text());
    REQUIRE(count_of(events, "task.gone", original) == 1);

    // Several more discovery rounds and polls later (interval 100 ms), still once each.
    const auto lists = sim.requests_of_kind("list_tasks");
    REQUIRE(wait_until([&] { return sim.requests_of_kind("list_tasks") >= lists + 3 * 5; }, 10s));
    const auto commits_settle = get_task_requests(sim);
    REQUIRE(wait_until([&] { return get_task_requests(sim) >= commits_settle + 10; }, 10s));
    std::this_thread::sleep_for(
        400ms); // two commit periods: anything wrongly emitted is stored by now
    events = read_events(d.db);
    CHECK(count_of(events, "task.gone", added) == 1);
    CHECK(count_of(events, "task.gone", original) == 1);
    CHECK(count_of(events, "task.discovered", added) == 1);
    CHECK(count_of(events, "task.discovered", original) == 1);
    CHECK(d.stop() == 0);
}

namespace {

// Measures the get_task rate before, during and after a spell of 429 answers (`fault`).
void check_throttling_slows_and_recovers(const std::string& fault, double drain_seconds) {
    sim_process sim({"--static", "--tasks", "30", "--datasets", "1"});
    auto [dataset, listed] = first_dataset(sim);
    temp_dir state("state");
    daemon_options o;
    o.interval = "100ms";
    o.finished_interval = "100ms";
    o.max_requests_per_second = 50;
    daemon_process d(sim, dataset, state.str(), o);
    auto events = wait_for_discovery(d, listed);

    const double before = get_task_rate(sim, 1500ms);
    MESSAGE("get_task/s before throttling: " << before);
    REQUIRE(before > 30); // 30 tasks every 100 ms, capped at 50/s
    CHECK(before < 60);

    sim.add_fault(fault);
    // Requests already granted a slot before the first 429 may still go out.
    std::this_thread::sleep_for(std::chrono::duration<double>(drain_seconds));
    const double throttled = get_task_rate(sim, 2000ms);
    MESSAGE("get_task/s throttled: " << throttled);
    CHECK(throttled < before / 4);
    sim.control(verb::delete_, "/sim/faults");

    // The allowed rate recovers step by step; it must clearly exceed the throttled rate.
    double after = 0;
    const bool recovered = wait_until(
        [&] {
            after = get_task_rate(sim, 1000ms);
            return after >= std::max(3 * throttled, 5.0);
        },
        12s, 0ms);
    MESSAGE("get_task/s after throttling: " << after);
    CHECK(recovered);
    CHECK(d.proc->running());
    CHECK(d.stop() == 0);
}

} // namespace

TEST_CASE(
    "throttling by 429 with Retry-After slows the request rate, which climbs back afterwards") {
    check_throttling_slows_and_recovers(R"({"kind":"429-retry-after","ratio":1,"retry_after":1})",
                                        1.0);
}

TEST_CASE(
    "throttling by 429 without Retry-After slows the request rate, which climbs back afterwards") {
    check_throttling_slows_and_recovers(R"({"kind":"429","ratio":1})", 1.0);
}

TEST_CASE("kill -9 during a burst of changes and a restart leave every event in the outbox exactly "
          "once") {
    sim_process sim({"--static", "--tasks", "30", "--datasets", "1"});
    auto [dataset, listed] = first_dataset(sim);
    std::vector<std::string> ids;
    for (const auto& t : sim.tasks())
        if (str(t.at("dataset_id")) == dataset) ids.push_back(str(t.at("task_id")));
    temp_dir state("state");
    daemon_options o;
    o.interval = "100ms";
    o.finished_interval = "100ms";
    auto d = std::make_unique<daemon_process>(sim, dataset, state.str(), o);
    auto events = wait_for_discovery(*d, listed);

    const char* statuses[] = {"queuing",   "initializing", "running", "failed",
                              "succeeded", "stopping",     "stopped"};
    std::size_t round = 0;
    auto burst = [&](std::size_t patches) {
        for (std::size_t i = 0; i < patches; ++i, ++round) {
            const auto& id = ids[(round * 7) % ids.size()];
            sim.control(verb::patch, "/sim/tasks/" + id,
                        std::string(R"({"status":")") + statuses[(round / ids.size() + round) % 7] +
                            "\"}");
            std::this_thread::sleep_for(5ms); // spreads the burst over several polls
        }
    };
    burst(150);
    // Mid-burst: some changes are committed, some polled but not yet committed, some unseen.
    REQUIRE(read_events(d->db).size() > listed);
    d->proc->send_signal(SIGKILL);
    REQUIRE(d->proc->wait(5s) == 128 + SIGKILL);
    burst(60);
    d = std::make_unique<daemon_process>(sim, dataset, state.str(), o);
    burst(90);

    // Settled: the stored status of every task is the simulator's.
    std::map<std::string, std::int64_t> want;
    for (const auto& t : sim.tasks())
        if (str(t.at("dataset_id")) == dataset)
            want[str(t.at("task_id"))] = t.at("status").to_number<std::int64_t>();
    const bool settled = wait_until([&] { return read_task_statuses(d->db) == want; }, 10s);
    CHECK_MESSAGE(settled, d->proc->stderr_text());
    std::this_thread::sleep_for(400ms); // two commit periods: no late event is missed below
    CHECK(d->stop() == 0);

    events = read_events(d->db);
    std::set<std::string> event_ids;
    for (const auto& e : events)
        event_ids.insert(str(e.payload.at("id")));
    CHECK(event_ids.size() == events.size());
    std::size_t changes = 0;
    for (const auto& id : ids) {
        CAPTURE(id);
        CHECK(count_of(events, "task.discovered", id) == 1);
        std::optional<std::string> last; // the status the outbox last reported
        for (const auto& e : events) {
            if (e.task_id != id) continue;
            if (e.type == "task.discovered") {
                CHECK_FALSE(last.has_value());
                last = str(e.payload.at("current").at("status"));
            } else if (e.type == "task.status_changed") {
                ++changes;
                REQUIRE(last.has_value());
                CHECK(str(e.payload.at("previous").at("status")) == *last);
                last = str(e.payload.at("current").at("status"));
                CHECK(*last != str(e.payload.at("previous").at("status")));
            }
        }
    }
    MESSAGE(events.size() << " events, " << changes << " status changes");
    CHECK(changes > ids.size()); // the burst was seen, not just its end
}

TEST_CASE_FIXTURE(
    discovered_daemon<3>,
    "SIGHUP with a broken config keeps the running one, and a valid config is accepted") {
    const std::string good = read_file(d.config);

    sim.dir.write("watch.yml", "modelarts: [this is not\n  valid: yaml\n");
    d.proc->send_signal(SIGHUP);
    CHECK_MESSAGE(d.wait_for_stderr("configuration not reloaded", 5s), d.proc->stderr_text());
    CHECK(d.proc->running());
    // Still polling with the old configuration.
    const auto polls = get_task_requests(sim);
    CHECK(wait_until([&] { return get_task_requests(sim) >= polls + 10; }, 5s));
    const auto task = sim.tasks().at(0);
    const bool was_running = str(task.at("status_name")) == "running";
    sim.control(verb::patch, "/sim/tasks/" + str(task.at("task_id")),
                was_running ? R"({"status":"failed"})" : R"({"status":"running"})");
    events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.status_changed") >= 1; }, 5s);
    CHECK(count_type(events, "task.status_changed") == 1);

    sim.dir.write("watch.yml", good);
    d.proc->send_signal(SIGHUP);
    CHECK_MESSAGE(d.wait_for_stderr("configuration reloaded", 5s), d.proc->stderr_text());
    CHECK(d.proc->running());
    CHECK(d.stop() == 0);
}

TEST_CASE("a foreign or corrupt taskwatch.db makes taskwatchd exit 1 naming the file, leaving it "
          "untouched") {
    sim_process sim({"--static", "--tasks", "1", "--datasets", "1"});
    auto [dataset, listed] = first_dataset(sim);
    (void)listed;

    auto foreign_sqlite = [](const std::string& path) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db,
                             "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);"
                             "INSERT INTO accounts (name) VALUES ('someone else''s data');",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    };
    std::string garbage_after_header = std::string("SQLite format 3") + '\0';
    for (int i = 0; i < 8192; ++i)
        garbage_after_header.push_back(static_cast<char>((i * 37 + 11) % 251));

    struct variant {
        const char* name;
        std::function<void(const std::string&)> make;
    };
    const std::vector<variant> variants{
        {"text file",
         [](const std::string& p) { std::ofstream(p) << "these are my notes, not a database\n"; }},
        {"foreign SQLite database", foreign_sqlite},
        {"corrupt SQLite header",
         [&](const std::string& p) { std::ofstream(p, std::ios::binary) << garbage_after_header; }},
    };
    for (const auto& v : variants) {
        CAPTURE(v.name);
        temp_dir state("state");
        const auto file = state.file("taskwatch.db");
        v.make(file);
        const auto bytes = read_file(file);
        REQUIRE_FALSE(bytes.empty());

        daemon_process d(sim, dataset, state.str());
        auto code = d.proc->wait(10s);
        const auto err = d.proc->stderr_text();
        CAPTURE(err);
        CHECK(code == 1);
        CHECK(std::count(err.begin(), err.end(), '\n') == 1);
        CHECK(err.find(file) != std::string::npos);
        CHECK(read_file(file) == bytes);
    }
}

TEST_CASE_FIXTURE(discovered_daemon<5>,
                  "SIGTERM stops taskwatchd within 10 s with exit 0 while requests hang") {

    sim.add_fault(R"({"kind":"hang","ratio":1})");
    // Every task's poll is stuck in a request that never gets an answer.
    auto hanging = [&] {
        auto by_status = sim.stats().at("requests_by_status").as_object();
        auto it = by_status.find("none");
        return it == by_status.end() ? std::uint64_t{0} : it->value().to_number<std::uint64_t>();
    };
    REQUIRE(wait_until([&] { return hanging() >= listed; }, 5s));

    const auto t0 = std::chrono::steady_clock::now();
    d.proc->send_signal(SIGTERM);
    auto code = d.proc->wait(12s);
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("stopped after " << took << " s");
    CHECK_MESSAGE(code == 0, d.proc->stderr_text());
    CHECK(took < 10.0);
}
