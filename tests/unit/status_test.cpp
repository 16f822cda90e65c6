// `taskwatchd status` without a daemon: its command line, the table, and its two sources (a
// GET /api/v1/tasks body, a state database).
#include "taskwatch/app/cli.hpp"
#include "taskwatch/app/status.hpp"

#include "support/files.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace taskwatch;
using namespace std::chrono_literals;

TEST_CASE("status: the command line needs --config and takes nothing else") {
    auto ok = app::parse_cli({"status", "--config", "c.yml"});
    REQUIRE(ok);
    CHECK(ok->what == app::cli_options::mode::status);
    CHECK(ok->config_path == "c.yml");
    CHECK(app::parse_cli({"status"}).error() == "status needs --config FILE");
    CHECK(app::parse_cli({"status", "--config", "c.yml", "--dataset", "d"}).error() ==
          "unknown argument '--dataset'");
    CHECK(app::parse_cli({"status", "--config", "c.yml", "--demo"}).error() ==
          "status takes only --config FILE");
    CHECK(app::usage().find("taskwatchd status --config FILE") != std::string::npos);
}

TEST_CASE("status: rows from the API's answer, times to the second, missing fields as -") {
    const auto body =
        R"([{"dataset_id":"d1","task_id":"t1","status":"running","progress":0.425,)"
        R"("eta":"2026-12-06T14:00:05.250Z","last_change":"2026-12-06T13:00:00.999Z"},)"
        R"({"dataset_id":"d1","task_id":"t2","status":null,"progress":null,"last_change":null}])";
    auto rows = app::status_rows_from_api(body);
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0] == app::status_row{"d1/t1", "running", 0.425, "2026-12-06T14:00:05Z",
                                        "2026-12-06T13:00:00Z"});
    CHECK((*rows)[1] == app::status_row{"d1/t2", "", std::nullopt, "", ""});
    CHECK(app::format_status_table(*rows) ==
          "TASK   STATUS   PROGRESS  ETA                   LAST CHANGE\n"
          "d1/t1  running  42.5%     2026-12-06T14:00:05Z  2026-12-06T13:00:00Z\n"
          "d1/t2  -        -         -                     -\n");

    CHECK(app::status_rows_from_api("{").error().starts_with("the answer is not JSON"));
    CHECK(app::status_rows_from_api("{}").error() == "the answer is not a JSON array");
    CHECK(app::status_rows_from_api("[1]").error() == "a task is not a JSON object");
}

TEST_CASE("status: rows from the state database, the ETA from the stored history") {
    test::temp_dir dir;
    state::store s(dir.path());
    const auto t0 = state::time_point(std::chrono::milliseconds(1'790'000'000'000));
    auto task_at = [&](std::string id, modelarts::task_status st, double progress) {
        task::task_state t;
        t.key = {"p", "d", std::move(id)};
        task::observation o;
        o.status = st;
        o.progress = progress;
        t.last = o;
        t.last_change = t0 + 120s;
        return t;
    };
    auto running = task_at("a", modelarts::task_status::running, 0.2);
    auto done = task_at("b", modelarts::task_status::succeeded, 1.0);
    auto gone = task_at("c", modelarts::task_status::running, 0.5);
    gone.gone = true;
    using modelarts::task_status;
    // Queued, then 10 % a minute: at 20 % after 120 s, 80 % left at 0.1/60 s -> t0 + 600 s.
    s.commit({{running, {}, state::history_point{t0 - 1s, task_status::queuing, 0.0, {}}},
              {running, {}, state::history_point{t0, task_status::running, 0.0, {}}},
              {running, {}, state::history_point{t0 + 60s, task_status::running, 0.1, {}}},
              {running, {}, state::history_point{t0 + 120s, task_status::running, 0.2, {}}},
              {done, {}, state::history_point{t0, task_status::succeeded, 1.0, {}}},
              {gone, {}}},
             {});
    auto rows = app::status_rows_from_store(s);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] ==
          app::status_row{"d/a", "running", 0.2, "2026-09-21T14:23:20Z", "2026-09-21T14:15:20Z"});
    CHECK(rows[1] == app::status_row{"d/b", "succeeded", 1.0, "", "2026-09-21T14:15:20Z"});
}
