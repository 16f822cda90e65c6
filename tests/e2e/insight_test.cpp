// Rate, ETA, history and `taskwatchd status` against a simulator that drives its tasks through
// their lifecycle: the ETA in /api/v1/tasks and /metrics (promtool still accepts it), one
// task's history and events at /api/v1/tasks/{dataset_id}/{task_id}, and the status table
// read from the running daemon and, once it is stopped, from its state database.
#include "support/daemon.hpp"
#include "support/ports.hpp"
#include "support/promtool.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
namespace json = boost::json;

const std::string taskwatchd() {
    return bin_dir() + "/taskwatchd";
}

const std::string eta_metric = "modelarts_task_estimated_completion_timestamp_seconds";

// Whether the scrape `text` has a sample of `metric` for task `task_id`.
bool has_series(const std::string& text, const std::string& metric, const std::string& task_id) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(metric + "{") &&
            line.find("task_id=\"" + task_id + "\"") != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_CASE("a running task gets an ETA and a rate, its history and events are served, and "
          "status reads the daemon, then the database") {
    // The initial world is mostly finished long ago: three tasks that start now run for 6 to
    // 16 s, in 8 to 20 progress steps, under watch.
    sim_process sim({"--tasks", "2", "--datasets", "1", "--phase-seconds", "2"});
    const auto dataset = first_dataset(sim).id;
    for (int i = 0; i < 3; ++i)
        sim.control(boost::beast::http::verb::post, "/sim/tasks",
                    R"({"dataset_id":")" + dataset + R"(","type":"auto-label","fate":"succeed"})");
    temp_dir state("state");
    daemon_options o;
    o.listen = "127.0.0.1:" + std::to_string(free_port()); // status reads `listen`
    served_daemon w(sim, dataset, state.str(), o);

    // Some task runs long enough for three progress steps: its ETA is in the API and in
    // /metrics at the same time, and promtool accepts the scrape.
    std::string eta_task, metrics_text;
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            auto tasks = json::parse(w.get("/api/v1/tasks").body).as_array();
                            for (const auto& t : tasks) {
                                if (!t.at("eta").is_string()) continue;
                                const auto id = std::string(t.at("task_id").as_string());
                                metrics_text = w.metrics();
                                if (!has_series(metrics_text, eta_metric, id)) continue;
                                eta_task = id;
                                CHECK(t.at("rate").at("progress_per_second").to_number<double>() >
                                      0);
                                return true;
                            }
                            return false;
                        },
                        60s),
                    w.d.proc->stderr_text());
    CHECK(metrics_text.find("# TYPE modelarts_task_annotation_rate gauge") != std::string::npos);
    const auto promtool = promtool_check(metrics_text);
    CHECK_MESSAGE(promtool.first == 0, promtool.second);
    CHECK_MESSAGE(promtool.second.empty(), promtool.second); // not even a lint complaint

    // One task's page of the API: its history of the lifecycle so far, its events.
    auto one = w.get("/api/v1/tasks/" + dataset + "/" + eta_task);
    REQUIRE(one.status == 200);
    auto detail = json::parse(one.body).as_object();
    CHECK(detail.at("task_id") == json::value(eta_task));
    const auto& history = detail.at("history").as_array();
    REQUIRE_FALSE(history.empty());
    std::set<std::string> statuses;
    std::string previous_time;
    for (const auto& p : history) {
        statuses.insert(std::string(p.at("status").as_string()));
        const auto time = std::string(p.at("time").as_string());
        CHECK(time > previous_time); // oldest first
        previous_time = time;
    }
    CHECK(statuses.count("running") == 1);
    const auto& events = detail.at("events").as_array();
    REQUIRE_FALSE(events.empty());
    CHECK(events[0].at("type") == "task.discovered");
    CHECK(w.get("/api/v1/tasks/" + dataset + "/no-such-task").status == 404);

    // status with the daemon up: from its API.
    auto up = run_command(taskwatchd(), {"status", "--config", w.d.config});
    CHECK(up.status == 0);
    CHECK(up.err.starts_with("source: the running daemon, http://127.0.0.1:"));
    CHECK(up.out.starts_with("TASK"));
    const auto listed = listed_tasks(sim);
    for (const auto& t : listed)
        CHECK(up.out.find(dataset + "/" + std::string(t.at("task_id").as_string())) !=
              std::string::npos);

    // Down: from the state database, the same tasks.
    REQUIRE(w.d.stop() == 0);
    auto down = run_command(taskwatchd(), {"status", "--config", w.d.config});
    CHECK(down.status == 0);
    CHECK(down.err.starts_with("source: the state database " + state.str() + "/taskwatch.db"));
    CHECK(down.err.find("connect") != std::string::npos);
    CHECK(std::count(down.out.begin(), down.out.end(), '\n') ==
          static_cast<std::ptrdiff_t>(listed.size() + 1));
    for (const auto& t : listed)
        CHECK(down.out.find(dataset + "/" + std::string(t.at("task_id").as_string())) !=
              std::string::npos);
}

TEST_CASE("status without a daemon or a database, or with a bad config, exits 1 with one line - "
          "without --config 2") {
    temp_dir dir("status");
    const auto config = dir.write("c.yml", "listen: 127.0.0.1:" + std::to_string(free_port()) +
                                               "\nstate_dir: " + dir.str() + "/none\n" +
                                               "modelarts:\n  endpoint: https://127.0.0.1:1\n"
                                               "  project_id: p\n  auth:\n    type: aksk\n"
                                               "    ak_file: ak\n    sk_file: sk\n"
                                               "targets:\n  - dataset_id: d\n");
    dir.write("ak", "AK");
    dir.write("sk", "SK");
    auto none = run_command(taskwatchd(), {"status", "--config", config});
    CHECK(none.status == 1);
    CHECK(none.out.empty());
    CHECK(none.err.starts_with("taskwatchd status: no daemon to ask ("));
    CHECK(none.err.find("no state database at " + dir.str() + "/none/taskwatch.db\n") !=
          std::string::npos);
    CHECK(std::count(none.err.begin(), none.err.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(dir.str() + "/none")); // nothing created

    auto bad = run_command(taskwatchd(), {"status", "--config", dir.str() + "/missing.yml"});
    CHECK(bad.status == 1);
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);

    auto usage = run_command(taskwatchd(), {"status"});
    CHECK(usage.status == 2);
    CHECK(usage.err.starts_with("taskwatchd: status needs --config FILE\n"));
}
