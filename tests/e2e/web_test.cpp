// What taskwatchd serves over HTTP while it watches a real modelarts-sim: /metrics (checked
// against the simulator, by promtool and by a real Prometheus), /api/v1/tasks, /-/ready, the
// status page (rendered by headless Chromium) and the routing rules.
#include "support/browser.hpp"
#include "support/daemon.hpp"
#include "support/ports.hpp"
#include "support/promtool.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <sys/stat.h>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;
namespace json = boost::json;

/// The value of the sample of `metric` whose labels contain `task_id="id"` and `extra`.
std::optional<double> sample(const std::string& text, const std::string& metric,
                             const std::string& task_id, const std::string& extra = {}) {
    std::istringstream in(text);
    const auto needle = "task_id=\"" + task_id + "\"";
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with(metric + "{")) continue;
        if (line.find(needle) == std::string::npos) continue;
        if (!extra.empty() && line.find(extra) == std::string::npos) continue;
        return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

/// Why /metrics disagrees with the simulator about `t`, or "" when it agrees.
std::string metrics_mismatch(const std::string& text, const json::object& t) {
    const auto id = string_of(t.at("task_id"));
    const auto status = string_of(t.at("status_name"));
    const double progress = t.at("progress").to_number<double>() / 100;
    auto up = sample(text, "modelarts_task_up", id);
    if (!up || *up != 1) return id + ": not up";
    auto p = sample(text, "modelarts_task_progress_ratio", id);
    if (!p || std::abs(*p - progress) > 1e-9)
        return id + ": progress " + (p ? std::to_string(*p) : "absent") + ", simulator " +
               std::to_string(progress);
    int ones = 0;
    for (const char* s :
         {"queuing", "initializing", "running", "failed", "succeeded", "stopping", "stopped"}) {
        auto v = sample(text, "modelarts_task_status", id, std::string("status=\"") + s + "\"");
        if (!v) return id + ": no status series for " + s;
        if (*v == 1) {
            ++ones;
            if (s != status) return id + ": status " + s + ", simulator " + status;
        }
    }
    if (ones != 1) return id + ": " + std::to_string(ones) + " statuses at 1";
    auto total = sample(text, "modelarts_task_samples", id, "kind=\"total\"");
    if (!total || *total != t.at("total_sample_count").to_number<double>())
        return id + ": total samples differ";
    return {};
}

std::string all_mismatches(sim_process& sim, served_daemon& w) {
    auto text = w.metrics();
    std::string out;
    for (const auto& t : listed_tasks(sim))
        if (auto m = metrics_mismatch(text, t); !m.empty()) out += m + "\n";
    return out;
}

void require_tool(const std::string& path, const std::string& package) {
    REQUIRE_MESSAGE(std::filesystem::exists(path),
                    path << " is missing: install the Debian package '" << package
                         << "' (scripts/install-deps.sh --test)");
}

// Drives two tasks into states the generator would not give them at once.
void set_some_states(sim_process& sim, const std::vector<json::object>& tasks) {
    REQUIRE(tasks.size() >= 2);
    sim.control(
        verb::patch, "/sim/tasks/" + string_of(tasks[0].at("task_id")),
        R"({"status":"running","progress":42.5,"total_sample_count":200,"annotated_sample_count":85})");
    sim.control(
        verb::patch, "/sim/tasks/" + string_of(tasks[1].at("task_id")),
        R"({"status":"failed","progress":63.1,"error_code":"ModelArts.4355","error_msg":"inference failed"})");
}

/// promtool check metrics finds nothing wrong with `text`, not even a lint complaint.
void check_promtool_accepts(const std::string& text) {
    const auto [status, bound_out] = promtool_check(text);
    const std::string& out = bound_out; // clang 14: no structured binding in CHECK_MESSAGE
    CHECK_MESSAGE(status == 0, out);
    CHECK_MESSAGE(out.empty(), out);
}

} // namespace

TEST_CASE_FIXTURE(
    static_sim<8>,
    "/metrics shows every task's status state set and progress as the simulator has them") {
    set_some_states(sim, tasks);
    daemon_options o;
    o.extra_target = "    labels: {team: vision}\n";
    served_daemon w(sim, dataset, state.str(), o);

    std::string why;
    CHECK_MESSAGE(wait_until([&] { return (why = all_mismatches(sim, w)).empty(); }, 15s),
                  why << w.d.proc->stderr_text());
    auto text = w.metrics();
    const auto id0 = string_of(tasks[0].at("task_id"));
    CHECK(sample(text, "modelarts_task_progress_ratio", id0, "team=\"vision\"") ==
          doctest::Approx(0.425));
    CHECK(sample(text, "modelarts_task_samples", id0, "kind=\"annotated\"") == 85);
    CHECK(text.find("taskwatch_tasks " + std::to_string(tasks.size()) + "\n") != std::string::npos);
    CHECK(text.find("process_resident_memory_bytes ") != std::string::npos);
    CHECK(text.find("taskwatch_poll_duration_seconds_bucket{le=\"+Inf\"} ") != std::string::npos);

    // A change in the simulator reaches /metrics on the next poll.
    sim.control(verb::patch, "/sim/tasks/" + id0, R"({"status":"succeeded","progress":100})");
    CHECK(wait_until([&] { return (why = all_mismatches(sim, w)).empty(); }, 15s));
    CHECK(sample(w.metrics(), "modelarts_task_status", id0, "status=\"succeeded\"") == 1);

    auto r = w.get("/metrics");
    CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(
    static_sim<4>,
    "promtool check metrics passes on real output with quotes, backslashes, newlines and "
    "UTF-8 in label values") {
    require_tool("/usr/bin/promtool", "prometheus");
    // A task whose name has everything the text format must escape.
    json::object spec{{"dataset_id", dataset},
                      {"task_id", "weirdname0000000001"},
                      {"task_name", "say \"hi\" \\ to\nthe 视觉 team ✓"},
                      {"status", "running"},
                      {"progress", 12.5}};
    sim.control(verb::post, "/sim/tasks", json::serialize(spec));
    daemon_options o;
    o.extra_target = "    labels: {team: \"a \\\"b\\\" c\\\\d\\nnext 日本語 ✓\", empty: \"\"}\n";
    served_daemon w(sim, dataset, state.str(), o);

    std::string text;
    REQUIRE_MESSAGE(
        wait_until(
            [&] {
                text = w.metrics();
                return sample(text, "modelarts_task_info", "weirdname0000000001").has_value();
            },
            15s),
        text << w.d.proc->stderr_text());
    INFO(text);
    CHECK(text.find(R"(task_name="say \"hi\" \\ to\nthe 视觉 team ✓")") != std::string::npos);
    CHECK(text.find(R"(team="a \"b\" c\\d\nnext 日本語 ✓")") != std::string::npos);
    CHECK(text.find(R"(empty="")") != std::string::npos);

    check_promtool_accepts(text);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(
    static_sim<4>,
    "a task with a status from a later API version and one without progress stay up - "
    "/metrics passes promtool and /api/v1/tasks says unknown and null") {
    require_tool("/usr/bin/promtool", "prometheus");
    REQUIRE(tasks.size() >= 2);
    const auto future = string_of(tasks.at(0).at("task_id"));
    const auto noprog = string_of(tasks.at(1).at("task_id"));
    sim.control(verb::patch, "/sim/tasks/" + future, R"({"status":9,"progress":30})");
    sim.control(verb::patch, "/sim/tasks/" + noprog, R"({"status":"running","progress":null})");
    served_daemon w(sim, dataset, state.str());

    std::string text;
    REQUIRE_MESSAGE(
        wait_until(
            [&] {
                text = w.metrics();
                return sample(text, "modelarts_task_status", future, "status=\"unknown\"") == 1.0 &&
                       sample(text, "modelarts_task_status", noprog, "status=\"running\"") == 1.0;
            },
            15s),
        text << w.d.proc->stderr_text());
    INFO(text);
    CHECK(sample(text, "modelarts_task_up", future) == 1.0);
    CHECK(sample(text, "modelarts_task_up", noprog) == 1.0);
    CHECK(sample(text, "modelarts_task_status", future, "status=\"running\"") == 0.0);
    CHECK(sample(text, "modelarts_task_status", noprog, "status=\"unknown\"") == 0.0);
    CHECK(sample(text, "modelarts_task_progress_ratio", future).value_or(-1) ==
          doctest::Approx(0.3));
    CHECK_FALSE(sample(text, "modelarts_task_progress_ratio", noprog));

    check_promtool_accepts(text);

    auto r = w.get("/api/v1/tasks");
    REQUIRE(r.status == 200);
    std::map<std::string, json::object> by_id;
    const auto listed = json::parse(r.body); // a named value: the loop must not outlive it
    for (const auto& e : listed.as_array())
        by_id[string_of(e.at("task_id"))] = e.as_object();
    REQUIRE(by_id.count(future) == 1);
    REQUIRE(by_id.count(noprog) == 1);
    CHECK(by_id[future].at("status") == "unknown");
    CHECK(by_id[future].at("status_code") == 9);
    CHECK(by_id[future].at("progress").to_number<double>() == doctest::Approx(0.3));
    CHECK(by_id[future].at("up") == true);
    CHECK(by_id[noprog].at("status") == "running");
    CHECK(by_id[noprog].at("progress").is_null());
    CHECK(by_id[noprog].at("up") == true);
    CHECK(by_id[noprog].at("task_name") == tasks.at(1).at("task_name"));
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(static_sim<8>, "/api/v1/tasks lists every watched task as the simulator has it") {
    set_some_states(sim, tasks);
    daemon_options o;
    o.extra_target = "    labels: {team: vision}\n";
    served_daemon w(sim, dataset, state.str(), o);
    REQUIRE(wait_until([&] { return all_mismatches(sim, w).empty(); }, 15s));

    auto r = w.get("/api/v1/tasks");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/json");
    auto api = json::parse(r.body).as_array();
    std::map<std::string, json::object> by_id;
    for (const auto& e : api)
        by_id[string_of(e.at("task_id"))] = e.as_object();
    auto now_sim = listed_tasks(sim);
    REQUIRE(by_id.size() == now_sim.size());
    for (const auto& t : now_sim) {
        const auto id = string_of(t.at("task_id"));
        CAPTURE(id);
        REQUIRE(by_id.count(id) == 1);
        const auto& e = by_id[id];
        CHECK(string_of(e.at("project_id")) == sim.account.project);
        CHECK(string_of(e.at("dataset_id")) == dataset);
        CHECK(e.at("task_name") == t.at("task_name"));
        CHECK(e.at("labels") == json::object{{"team", "vision"}});
        CHECK(e.at("status") == t.at("status_name"));
        CHECK(e.at("status_code") == t.at("status"));
        CHECK(e.at("progress").to_number<double>() ==
              doctest::Approx(t.at("progress").to_number<double>() / 100));
        CHECK(e.at("up") == true);
        CHECK(e.at("last_poll").is_string());
        CHECK(e.at("last_error").is_null());
        CHECK(e.at("result").at("total_sample_count") == t.at("total_sample_count"));
        CHECK(e.at("result").at("annotated_sample_count") == t.at("annotated_sample_count"));
    }
    const auto& failed = by_id[string_of(tasks[1].at("task_id"))];
    CHECK(failed.at("error_code") == "ModelArts.4355");
    CHECK(failed.at("error_msg") == "inference failed");
    // Nothing secret: neither the SK nor the AK appears anywhere.
    CHECK(r.body.find(sim.account.sk) == std::string::npos);
    CHECK(r.body.find(sim.account.ak) == std::string::npos);
    CHECK(w.metrics().find(sim.account.sk) == std::string::npos);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(static_sim<3>,
                  "a failing poll shows as up 0 with its last_error, and counts in the failures") {
    served_daemon w(sim, dataset, state.str());
    REQUIRE(wait_until([&] { return all_mismatches(sim, w).empty(); }, 15s));
    // Every task request from now on fails.
    sim.add_fault(R"({"kind":"500","ratio":1,"path":"/tasks/"})");
    const auto id = string_of(tasks.at(0).at("task_id"));
    std::string body;
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            auto text = w.metrics();
                            return sample(text, "modelarts_task_up", id) == 0.0;
                        },
                        15s),
                    w.d.proc->stderr_text());
    REQUIRE(wait_until(
        [&] {
            body = w.get("/api/v1/tasks").body;
            const auto v = json::parse(body);
            for (const auto& e : v.as_array())
                if (string_of(e.at("task_id")) == id && e.at("last_error").is_object()) return true;
            return false;
        },
        15s));
    const auto api = json::parse(body);
    for (const auto& e : api.as_array()) {
        if (string_of(e.at("task_id")) != id) continue;
        CHECK(e.at("up") == false);
        CHECK(e.at("last_error").at("reason") == "server_error");
        CHECK(e.at("last_error").at("error_code") == "ModelArts.0010");
        CHECK(e.at("last_error").at("request_id").is_string());
        CHECK(e.at("status").is_string()); // the last known status stays
    }
    auto text = w.metrics();
    std::smatch m;
    REQUIRE(std::regex_search(
        text, m,
        std::regex(R"(\ntaskwatch_poll_failures_total\{reason="server_error"\} (\d+)\n)")));
    CHECK(std::stoul(m[1]) >= 1);
    CHECK(text.find("taskwatch_poll_failures_total{reason=\"auth\"} 0\n") != std::string::npos);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(static_sim<3>,
                  "/-/ready answers 503 until the first poll round finished - /-/healthy is 200 "
                  "throughout") {
    sim.add_fault(R"({"kind":"latency","ratio":1,"delay_ms":1500})");
    served_daemon w(sim, dataset, state.str());
    auto first = w.get("/-/ready");
    CHECK(first.status == 503);
    CHECK(w.get("/-/healthy").status == 200);
    CHECK(wait_until([&] { return w.get("/-/ready").status == 200; }, 20s));
    CHECK(w.get("/-/healthy").status == 200);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(
    served_two_tasks,
    "unknown paths are 404, other methods 405 with Allow, HEAD has GET's headers and no "
    "body") {

    CHECK(w.get("/nope").status == 404);
    CHECK(w.get("/metrics/extra").status == 404);
    CHECK(w.get("/api/v1/tasks/x").status == 404);
    for (auto v : {verb::post, verb::put, verb::delete_, verb::patch}) {
        auto r = w.request(v, "/metrics");
        CHECK(r.status == 405);
        CHECK(r.header("Allow") == "GET, HEAD");
    }
    auto head = w.request(verb::head, "/-/healthy");
    auto get = w.get("/-/healthy");
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
    auto mhead = w.request(verb::head, "/metrics");
    CHECK(mhead.status == 200);
    CHECK(mhead.body.empty());
    CHECK(mhead.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    // /metrics is streamed in chunks: HEAD says so, as GET does, and sends no chunk.
    CHECK(mhead.header("Transfer-Encoding") == "chunked");
    auto mget = w.get("/metrics");
    CHECK(mget.header("Transfer-Encoding") == "chunked");
    CHECK(mget.body.find("modelarts_task_status{") != std::string::npos);
    CHECK(w.request(verb::head, "/").header("Content-Type") == "text/html; charset=utf-8");
    CHECK(w.get("/metrics?x=1").status == 200);
    CHECK(w.d.stop() == 0);
}

TEST_CASE("a listen address already in use is a start-up error naming it") {
    sim_process sim({"--static", "--tasks", "1", "--datasets", "1"});
    const auto dataset = string_of(sim.tasks().at(0).at("dataset_id"));
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor busy(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = std::to_string(busy.local_endpoint().port());
    temp_dir state("state");
    daemon_options o;
    o.listen = "127.0.0.1:" + port;
    daemon_process d(sim, dataset, state.str(), o);
    CHECK(d.proc->wait(10s) == 1);
    const auto err = d.proc->stderr_text();
    CHECK_MESSAGE(std::count(err.begin(), err.end(), '\n') == 1, err);
    CHECK(err.find(d.config + ": listen: ") == 0);
    CHECK(err.find("127.0.0.1:" + port) != std::string::npos);
    CHECK(err.find("in use") != std::string::npos);
}

TEST_CASE_FIXTURE(
    static_sim<8>,
    "a real Prometheus scraping the daemon sees each task's progress and status as the "
    "simulator has them") {
    require_tool("/usr/bin/prometheus", "prometheus");
    set_some_states(sim, tasks);
    served_daemon w(sim, dataset, state.str());

    temp_dir prom("prometheus");
    const auto port = free_port();
    const auto config = prom.write("prometheus.yml",
                                   "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                                   "scrape_configs:\n  - job_name: taskwatch\n    static_configs:\n"
                                   "      - targets: ['127.0.0.1:" +
                                       std::to_string(w.http.port) + "']\n");
    child_process p("/usr/bin/prometheus",
                    {"--config.file=" + config, "--storage.tsdb.path=" + prom.file("data"),
                     "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"});
    server_address api{port, ""};
    auto query = [&](const std::string& q) -> json::array {
        auto r = http_request(api, verb::get, "/api/v1/query?query=" + q, {}, {}, 5s);
        if (r.status != 200) return {};
        auto v = json::parse(r.body);
        return v.at("data").at("result").as_array();
    };
    // task id -> (status, progress) as Prometheus has them.
    auto seen = [&] {
        std::map<std::string, std::pair<std::string, double>> out;
        for (const auto& s : query("modelarts_task_progress_ratio"))
            out[string_of(s.at("metric").at("task_id"))].second =
                std::stod(string_of(s.at("value").as_array().at(1)));
        for (const auto& s : query("modelarts_task_status%20%3D%3D%201"))
            out[string_of(s.at("metric").at("task_id"))].first =
                string_of(s.at("metric").at("status"));
        return out;
    };
    auto expected = [&] {
        std::map<std::string, std::pair<std::string, double>> out;
        for (const auto& t : listed_tasks(sim))
            out[string_of(t.at("task_id"))] = {string_of(t.at("status_name")),
                                               t.at("progress").to_number<double>() / 100};
        return out;
    };
    std::map<std::string, std::pair<std::string, double>> got;
    const auto want = expected();
    const bool ok = wait_until(
        [&] {
            got = seen();
            if (got.size() != want.size()) return false;
            for (const auto& [id, v] : want) {
                auto it = got.find(id);
                if (it == got.end() || it->second.first != v.first ||
                    std::abs(it->second.second - v.second) > 1e-9)
                    return false;
            }
            return true;
        },
        60s, 500ms);
    std::ostringstream diff;
    for (const auto& [id, v] : want)
        diff << id << ": want " << v.first << " " << v.second << ", Prometheus has "
             << (got.count(id) ? got[id].first + " " + std::to_string(got[id].second) : "nothing")
             << "\n";
    CHECK_MESSAGE(ok, diff.str() << p.stderr_text());
    // The scrape itself is healthy: Prometheus reports the target up.
    auto up = query("up");
    REQUIRE(up.size() == 1);
    CHECK(string_of(up[0].at("value").as_array().at(1)) == "1");
    p.send_signal(SIGTERM);
    p.wait(10s);
    CHECK(w.d.stop() == 0);
}

TEST_CASE("the status page rendered by headless Chromium shows every task's progress") {
    require_tool("/usr/bin/chromium", "chromium");
    sim_process sim({"--static", "--tasks", "10", "--datasets", "2"});
    auto tasks = listed_tasks(sim);
    const auto dataset = string_of(tasks.at(0).at("dataset_id"));
    std::vector<json::object> mine;
    for (const auto& t : tasks)
        if (string_of(t.at("dataset_id")) == dataset) mine.push_back(t);
    REQUIRE(mine.size() >= 2);
    set_some_states(sim, mine);
    temp_dir state("state");
    served_daemon w(sim, dataset, state.str());
    auto matches = [&] {
        auto text = w.metrics();
        for (const auto& t : listed_tasks(sim))
            if (string_of(t.at("dataset_id")) == dataset && !metrics_mismatch(text, t).empty())
                return false;
        return true;
    };
    REQUIRE(wait_until(matches, 15s));

    const browser chromium;
    const viewport tall{1280, 2000, false};
    const auto url = "http://127.0.0.1:" + std::to_string(w.http.port) + "/";
    const auto dom = chromium.dom(url, tall);
    std::map<std::string, std::pair<std::string, std::string>> rows;
    std::regex row(R"re(data-task-id="([^"]*)" data-status="([^"]*)" data-progress="([^"]*)")re");
    for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator();
         ++it)
        rows[(*it)[1]] = {(*it)[2], (*it)[3]};
    for (const auto& t : listed_tasks(sim)) {
        if (string_of(t.at("dataset_id")) != dataset) continue;
        const auto id = string_of(t.at("task_id"));
        CAPTURE(id);
        REQUIRE(rows.count(id) == 1);
        CHECK(rows[id].first == string_of(t.at("status_name")));
        CHECK(std::stod(rows[id].second) ==
              doctest::Approx(t.at("progress").to_number<double>() / 100));
    }
    CHECK(dom.find("42.5%") != std::string::npos); // the bar's text
    CHECK(dom.find("inference failed") != std::string::npos);

    temp_dir shots("screenshot");
    const auto shot = shots.file("status.png");
    chromium.screenshot(url, tall, shot);
    CHECK(png_size(shot) == std::pair{1280u, 2000u});
    if (const char* keep = std::getenv("TASKWATCH_KEEP_SCREENSHOT"))
        std::filesystem::copy_file(shot, keep, std::filesystem::copy_options::overwrite_existing);
    CHECK(w.d.stop() == 0);
}

// The resident set of a process in KiB, from /proc/PID/status; 0 when unknown.
std::size_t rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
    return 0;
}

TEST_CASE_FIXTURE(
    served_two_tasks,
    "SIGHUP with the config symlink repointed to a FIFO or /dev/zero logs one line and "
    "keeps polling and serving with the running config") {
    namespace fs = std::filesystem;
    REQUIRE(w.get("/-/healthy").status == 200);

    // watch.yml becomes a symlink to the real file, as a deployment tool would make it, and is
    // then repointed atomically (rename over it).
    const auto config = w.d.config;
    fs::rename(config, sim.dir.file("watch.real.yml"));
    fs::create_symlink(sim.dir.file("watch.real.yml"), config);
    REQUIRE(::mkfifo(sim.dir.file("watch.fifo").c_str(), 0600) == 0);
    auto repoint = [&](const std::string& target) {
        fs::create_symlink(target, config + ".new");
        fs::rename(config + ".new", config);
    };
    auto still_working = [&] {
        CHECK(w.get("/-/healthy").status == 200);
        const auto polls = sim.requests_of_kind("get_task");
        CHECK(wait_until([&] { return sim.requests_of_kind("get_task") >= polls + 10; }, 5s));
    };

    repoint(sim.dir.file("watch.fifo"));
    w.d.proc->send_signal(SIGHUP);
    CHECK_MESSAGE(w.d.wait_for_stderr(config + ": cannot read: not a regular file (a FIFO)", 5s),
                  w.d.proc->stderr_text());
    still_working();
    auto lines_with = [&](const std::string& needle) {
        std::istringstream in(w.d.proc->stderr_text());
        std::size_t n = 0;
        for (std::string line; std::getline(in, line);)
            if (line.find(needle) != std::string::npos) ++n;
        return n;
    };
    CHECK(lines_with("configuration not reloaded") == 1);

    const auto rss_before = rss_kib(w.d.proc->pid());
    repoint("/dev/zero");
    w.d.proc->send_signal(SIGHUP);
    CHECK_MESSAGE(
        w.d.wait_for_stderr(config + ": cannot read: not a regular file (a character device)", 5s),
        w.d.proc->stderr_text());
    still_working();
    CHECK(lines_with("configuration not reloaded") == 2);
    MESSAGE("RSS " << rss_before << " KiB before, " << rss_kib(w.d.proc->pid()) << " KiB after");
    CHECK(rss_kib(w.d.proc->pid()) < rss_before + 50 * 1024);

    repoint(sim.dir.file("watch.real.yml"));
    w.d.proc->send_signal(SIGHUP);
    CHECK_MESSAGE(w.d.wait_for_stderr("configuration reloaded", 5s), w.d.proc->stderr_text());
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(
    served_two_tasks,
    "SIGHUP with a new listen address keeps serving on the old one and says a restart is "
    "needed") {
    REQUIRE(w.get("/-/healthy").status == 200);

    daemon_options changed;
    changed.listen = "127.0.0.1:" + std::to_string(free_port());
    sim.dir.write("watch.yml", daemon_config(sim, dataset, state.str(), changed));
    w.d.proc->send_signal(SIGHUP);
    CHECK_MESSAGE(w.d.wait_for_stderr("restart to apply", 10s), w.d.proc->stderr_text());
    CHECK(w.d.proc->stderr_text().find("listen changed from 127.0.0.1:0 to " + changed.listen) !=
          std::string::npos);
    CHECK(w.get("/-/healthy").status == 200);
    CHECK(w.d.stop() == 0);
}
