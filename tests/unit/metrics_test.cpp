// The /metrics collector on a hand-made task map: exact exposition lines, escaping, the status
// state set, and what a task shows before its first successful poll.
#include "taskwatch/config/settings.hpp"
#include "taskwatch/metrics/collector.hpp"
#include "taskwatch/modelarts/api_error.hpp"

#include "support/environment.hpp"
#include "support/tasks.hpp"

#include <cstdio>
#include <deque>
#include <prometheus/client_metric.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace taskwatch;
using namespace std::chrono_literals;

namespace {

task::time_point at_ms(std::int64_t ms) {
    return task::time_point(std::chrono::milliseconds(ms));
}

// A task polled successfully: running at 42 %, in project p, dataset d.
poll::watched_task polled_task(const std::string& task_id,
                               modelarts::task_status status = modelarts::task_status::running,
                               double progress = 0.42) {
    auto tt = test::successfully_polled({"p", "d", task_id}, "name of " + task_id, "res-" + task_id,
                                        status, progress);
    tt.state.last->unconfirmed_sample_count = 5;
    return tt;
}

std::string scrape(const poll::task_table& tasks, const poll::watcher_stats& stats = {},
                   std::vector<metrics::webhook_figures> hooks = {}) {
    metrics::collector_sources src;
    src.tasks = [&]() -> const poll::task_view& { return tasks; };
    src.stats = [&]() -> const poll::watcher_stats& { return stats; };
    src.webhooks = [hooks] { return hooks; };
    src.version = "1.2.3";
    metrics::collector c(std::move(src));
    auto text = c.render();
    // The fast path and the MetricFamily path agree on every input the tests use.
    CHECK(text == metrics::serialize_with_prometheus_cpp(c.Collect()));
    // Served in small pieces, as /metrics sends it, the text is the same.
    auto next = c.stream(100);
    std::string streamed, piece;
    for (bool more = true; more;) {
        piece.clear();
        more = next(piece);
        streamed += piece;
    }
    CHECK(streamed == text);
    // Pieces appended to one string (how an HTTP/1.0 answer is made) add up the same.
    auto again = c.stream(100);
    std::string whole;
    while (again(whole)) {
    }
    CHECK(whole == text);
    return text;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

bool has_line(const std::string& text, const std::string& line) {
    auto lines = lines_of(text);
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::vector<std::string> starting_with(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& l : lines_of(text))
        if (l.starts_with(prefix)) out.push_back(l);
    return out;
}

} // namespace

TEST_CASE("a polled task exports every per-task series with its target's labels") {
    poll::task_table tasks;
    tasks.tasks.emplace(task::task_key{"p", "d", "t1"}, polled_task("t1"));
    auto text = scrape(tasks);
    INFO(text);
    const std::string base = R"(project_id="p",dataset_id="d",task_id="t1",team="vision")";
    CHECK(has_line(text,
                   "modelarts_task_info{" + base +
                       R"(,task_name="name of t1",resource_id="res-t1",algorithm_type="fast"} 1)"));
    CHECK(has_line(text, "modelarts_task_status{" + base + R"(,status="running"} 1)"));
    CHECK(has_line(text, "modelarts_task_status{" + base + R"(,status="queuing"} 0)"));
    CHECK(has_line(text, "modelarts_task_progress_ratio{" + base + "} 0.42"));
    CHECK(has_line(text, "modelarts_task_samples{" + base + R"(,kind="total"} 49)"));
    CHECK(has_line(text, "modelarts_task_samples{" + base + R"(,kind="annotated"} 30)"));
    CHECK(has_line(text, "modelarts_task_samples{" + base + R"(,kind="unconfirmed"} 5)"));
    CHECK(has_line(text, "modelarts_task_created_timestamp_seconds{" + base + "} 1700000000"));
    CHECK(has_line(text, "modelarts_task_last_change_timestamp_seconds{" + base + "} 1764475100"));
    CHECK(has_line(text, "modelarts_task_last_poll_timestamp_seconds{" + base + "} 1764475200.25"));
    CHECK(has_line(text, "modelarts_task_up{" + base + "} 1"));
    CHECK(has_line(text, "taskwatch_tasks 1"));
    CHECK(has_line(text, "# TYPE modelarts_task_status gauge"));
    CHECK(has_line(text, "# TYPE taskwatch_polls_total counter"));
    CHECK(has_line(text, "# TYPE taskwatch_poll_duration_seconds histogram"));
    CHECK(text.find("# HELP modelarts_task_progress_ratio ") != std::string::npos);
    CHECK(starting_with(text, "# HELP modelarts_task_progress_ratio ")
              .at(0)
              .find("own polling of ModelArts") != std::string::npos);
}

TEST_CASE("the status state set has one series per status and unknown, and exactly one of them is "
          "1") {
    poll::task_table tasks;
    const modelarts::task_status all[] = {
        modelarts::task_status::queuing,   modelarts::task_status::initializing,
        modelarts::task_status::running,   modelarts::task_status::failed,
        modelarts::task_status::succeeded, modelarts::task_status::stopping,
        modelarts::task_status::stopped};
    int n = 0;
    for (auto s : all) {
        auto id = "t" + std::to_string(n++);
        tasks.tasks.emplace(task::task_key{"p", "d", id}, polled_task(id, s));
    }
    auto text = scrape(tasks);
    n = 0;
    for (auto s : all) {
        auto id = "t" + std::to_string(n++);
        CAPTURE(id);
        auto series = starting_with(text, "modelarts_task_status{project_id=\"p\",dataset_id=\"d\","
                                          "task_id=\"" +
                                              id + "\",");
        REQUIRE(series.size() == 8); // the seven statuses and unknown
        int ones = 0;
        for (const auto& line : series) {
            if (line.ends_with(" 1")) {
                ++ones;
                CHECK(line.find("status=\"" + std::string(modelarts::to_string(s)) + "\"") !=
                      std::string::npos);
            } else {
                CHECK(line.ends_with(" 0"));
            }
        }
        CHECK(ones == 1);
    }
}

TEST_CASE("a task never polled successfully has no status: nothing before a poll, up 0 after a "
          "failed one") {
    poll::task_table tasks;
    poll::watched_task fresh;
    fresh.state.key = {"p", "d", "fresh"};
    tasks.tasks.emplace(fresh.state.key, std::move(fresh));
    poll::watched_task failing;
    failing.state.key = {"p", "d", "failing"};
    failing.state.last_error = task::poll_error{"auth", "APIGW.0301", "bad signature", "req-1"};
    tasks.tasks.emplace(failing.state.key, std::move(failing));

    auto text = scrape(tasks);
    INFO(text);
    CHECK(text.find("task_id=\"fresh\"") == std::string::npos);
    auto failing_lines = starting_with(text, "modelarts_task_");
    REQUIRE(failing_lines.size() == 1);
    CHECK(failing_lines[0] ==
          R"(modelarts_task_up{project_id="p",dataset_id="d",task_id="failing"} 0)");
    CHECK(text.find("modelarts_task_status{") == std::string::npos);
    CHECK(has_line(text, "taskwatch_tasks 2"));
}

TEST_CASE("forgotten and gone tasks have no series and are not counted as watched") {
    poll::task_table tasks;
    auto a = polled_task("a");
    auto b = polled_task("b");
    b.state.forgotten = true;
    auto c = polled_task("c");
    c.state.gone = true;
    tasks.tasks.emplace(task::task_key{"p", "d", "a"}, std::move(a));
    tasks.tasks.emplace(task::task_key{"p", "d", "b"}, std::move(b));
    tasks.tasks.emplace(task::task_key{"p", "d", "c"}, std::move(c));
    auto text = scrape(tasks);
    CHECK(text.find("task_id=\"a\"") != std::string::npos);
    CHECK(text.find("task_id=\"b\"") == std::string::npos);
    CHECK(text.find("task_id=\"c\"") == std::string::npos);
    CHECK(has_line(text, "taskwatch_tasks 1"));
}

TEST_CASE("label values with quotes, backslashes, newlines and UTF-8 are escaped as the text "
          "format requires") {
    poll::task_table tasks;
    auto tt = polled_task("t1");
    tt.labels = poll::shared_labels({{"team", "say \"hi\" \\ to\nthe 视觉 team ✓"}});
    tt.state.last->task_name = "line1\nline2 \"q\" \\";
    tasks.tasks.emplace(task::task_key{"p", "d", "t1"}, std::move(tt));
    auto text = scrape(tasks);
    INFO(text);
    CHECK(has_line(
        text,
        R"(modelarts_task_up{project_id="p",dataset_id="d",task_id="t1",team="say \"hi\" \\ to\nthe 视觉 team ✓"} 1)"));
    CHECK(text.find(R"(task_name="line1\nline2 \"q\" \\")") != std::string::npos);
    // A raw newline would split a sample: every line is a comment or a whole sample.
    const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [^ ]+$)");
    for (const auto& line : lines_of(text)) {
        CAPTURE(line);
        CHECK((line.starts_with("# ") || std::regex_match(line, sample)));
    }
}

TEST_CASE("the poll duration histogram has cumulative buckets ending with +Inf equal to the "
          "count") {
    poll::watcher_stats stats;
    stats.poll_duration.observe(0.003);
    stats.poll_duration.observe(0.02);
    stats.poll_duration.observe(0.02);
    stats.poll_duration.observe(40);
    stats.polls = 4;
    auto text = scrape({}, stats);
    INFO(text);
    CHECK(has_line(text, "taskwatch_poll_duration_seconds_count 4"));
    CHECK(has_line(text, "taskwatch_poll_duration_seconds_sum 40.043"));
    CHECK(has_line(text, R"(taskwatch_poll_duration_seconds_bucket{le="0.005"} 1)"));
    CHECK(has_line(text, R"(taskwatch_poll_duration_seconds_bucket{le="0.01"} 1)"));
    CHECK(has_line(text, R"(taskwatch_poll_duration_seconds_bucket{le="0.025"} 3)"));
    CHECK(has_line(text, R"(taskwatch_poll_duration_seconds_bucket{le="30"} 3)"));
    CHECK(has_line(text, R"(taskwatch_poll_duration_seconds_bucket{le="+Inf"} 4)"));
    CHECK(starting_with(text, "taskwatch_poll_duration_seconds_bucket").size() ==
          poll::latency_histogram::bounds.size() + 1);
    CHECK(has_line(text, "taskwatch_polls_total 4"));
}

TEST_CASE("every event type and poll failure reason is exported from zero") {
    poll::watcher_stats stats;
    stats.events_by_type["task.discovered"] = 3;
    stats.failures_by_reason["throttled"] = 2;
    stats.failures_by_reason["something_new"] = 1;
    auto text = scrape({}, stats);
    INFO(text);
    CHECK(has_line(text, R"(taskwatch_events_total{type="task.discovered"} 3)"));
    for (const auto& [type, name] : task::event_type_names)
        CHECK(starting_with(text, "taskwatch_events_total{type=\"" + std::string(name) + "\"}")
                  .size() == 1);
    CHECK(has_line(text, R"(taskwatch_poll_failures_total{reason="throttled"} 2)"));
    CHECK(has_line(text, R"(taskwatch_poll_failures_total{reason="auth"} 0)"));
    CHECK(has_line(text, R"(taskwatch_poll_failures_total{reason="timeout"} 0)"));
    CHECK(has_line(text, R"(taskwatch_poll_failures_total{reason="something_new"} 1)"));
    for (const auto& [kind, name] : modelarts::error_kind_names)
        CHECK(starting_with(text,
                            "taskwatch_poll_failures_total{reason=\"" + std::string(name) + "\"}")
                  .size() == 1);
}

TEST_CASE("each configured webhook has its delivery, queue and oldest-pending series") {
    std::vector<metrics::webhook_figures> hooks{
        {"ops", 3, at_ms(1'764'475'000'500), 1, 2, {{"timeout", 1}, {"http_5xx", 0}}},
        {"chat", 0, std::nullopt, 0, 0, {}},
    };
    auto text = scrape({}, {}, hooks);
    INFO(text);
    CHECK(has_line(text, R"(taskwatch_webhook_deliveries_total{webhook="ops"} 2)"));
    CHECK(has_line(text, R"(taskwatch_webhook_deliveries_total{webhook="chat"} 0)"));
    CHECK(has_line(
        text, R"(taskwatch_webhook_delivery_failures_total{webhook="ops",reason="timeout"} 1)"));
    CHECK(has_line(
        text, R"(taskwatch_webhook_delivery_failures_total{webhook="ops",reason="http_5xx"} 0)"));
    CHECK(has_line(text, R"(taskwatch_webhook_queue_length{webhook="ops"} 3)"));
    CHECK(has_line(text, R"(taskwatch_webhook_queue_length{webhook="chat"} 0)"));
    CHECK(has_line(
        text, R"(taskwatch_webhook_oldest_pending_timestamp_seconds{webhook="ops"} 1764475000.5)"));
    CHECK(
        has_line(text, R"(taskwatch_webhook_oldest_pending_timestamp_seconds{webhook="chat"} 0)"));
    CHECK(has_line(text, R"(taskwatch_webhook_dead_letters{webhook="ops"} 1)"));
}

TEST_CASE("build info carries the version") {
    auto text = scrape({});
    auto info = starting_with(text, "taskwatch_build_info{");
    REQUIRE(info.size() == 1);
    CHECK(info[0].starts_with(R"(taskwatch_build_info{version="1.2.3",boost_version="1.81.0",)"));
    CHECK(info[0].ends_with("} 1"));
}

TEST_CASE("process figures are read from /proc/<pid>/stat and /proc/stat") {
    // Fields after the comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime(14) stime(15) cutime cstime priority nice threads itrealvalue
    // starttime(22) vsize(23) rss(24) ...
    const std::string pid_stat =
        "4242 (task watch) d) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 1 0 "
        "12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    const std::string sys_stat = "cpu  1 2 3 4\nintr 5\nbtime 1764400000\nprocesses 77\n";
    auto p = metrics::parse_process_stat(pid_stat, sys_stat, 100, 4096);
    REQUIRE(p);
    CHECK(p->cpu_seconds == doctest::Approx(3.0));
    CHECK(p->start_time_seconds == doctest::Approx(1764400123.45));
    CHECK(p->virtual_memory_bytes == doctest::Approx(104857600));
    CHECK(p->resident_memory_bytes == doctest::Approx(2560.0 * 4096));
    CHECK_FALSE(metrics::parse_process_stat("garbage", sys_stat, 100, 4096));
    CHECK_FALSE(metrics::parse_process_stat(pid_stat, "cpu 1\n", 100, 4096));
}

TEST_CASE("process metrics come out when /proc is readable") {
    metrics::collector_sources src;
    src.process = [] { return metrics::read_process_stats(); };
    metrics::collector c(std::move(src));
    auto text = c.render();
    INFO(text);
    for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_virtual_memory_bytes", "process_start_time_seconds",
                             "process_open_fds", "process_max_fds"})
        CHECK(starting_with(text, std::string(name) + " ").size() == 1);
}

TEST_CASE("the instance's shard is two gauges, index and count, and nothing without a source") {
    metrics::collector_sources src;
    src.shard = [] { return task::shard{2, 3}; };
    metrics::collector c(std::move(src));
    auto text = c.render();
    INFO(text);
    CHECK(starting_with(text, "taskwatch_shard_index ") ==
          std::vector<std::string>{"taskwatch_shard_index 2"});
    CHECK(starting_with(text, "taskwatch_shards ") ==
          std::vector<std::string>{"taskwatch_shards 3"});
    CHECK(starting_with(text, "# TYPE taskwatch_shards ").size() == 1);
    CHECK(starting_with(metrics::collector({}).render(), "taskwatch_shard").empty());
}

TEST_CASE("the label names taskwatch sets on task series are the reserved ones") {
    // A task with every field known, so that every per-task series is written.
    poll::task_table tasks;
    tasks.tasks.emplace(task::task_key{"p", "d", "t1"}, polled_task("t1"));
    auto text = scrape(tasks);
    INFO(text);
    std::set<std::string> seen;
    const std::regex name_eq(R"(([a-zA-Z_][a-zA-Z0-9_]*)=")");
    for (const auto& line : starting_with(text, "modelarts_task_")) {
        const auto open = line.find('{');
        if (open == std::string::npos) continue;
        const auto labels = line.substr(open, line.find('}') - open);
        for (std::sregex_iterator it(labels.begin(), labels.end(), name_eq), end; it != end; ++it)
            seen.insert((*it)[1].str());
    }
    seen.erase("team"); // the target's own label
    CHECK(seen == std::set<std::string>(std::begin(task::reserved_label_names),
                                        std::end(task::reserved_label_names)));
}

TEST_CASE("every label name taskwatch sets on task series is refused as a target label") {
    const auto env = test::fake_env({{"HUAWEICLOUD_SDK_AK", "AK"}, {"HUAWEICLOUD_SDK_SK", "SK"}});
    for (auto name : task::reserved_label_names) {
        CAPTURE(name);
        const std::string yaml = "modelarts:\n  endpoint: https://modelarts.cn-north-4."
                                 "myhuaweicloud.com\n  project_id: p1\ntargets:\n"
                                 "  - dataset_id: d1\n    labels: {" +
                                 std::string(name) + ": x}\n";
        CHECK_THROWS_AS(config::parse_settings(yaml, "/c.yml", env), config::config_error);
    }
}

TEST_CASE("serialize writes byte for byte what prometheus::TextSerializer writes") {
    using prometheus::ClientMetric;
    using prometheus::MetricFamily;
    using prometheus::MetricType;
    std::vector<MetricFamily> fams;
    auto fam = [&](std::string name, MetricType type, std::string help = "help text") {
        MetricFamily f;
        f.name = std::move(name);
        f.type = type;
        f.help = std::move(help);
        fams.push_back(std::move(f));
        return &fams.back();
    };
    const double values[] = {0,
                             -0.0,
                             1,
                             -1,
                             0.1,
                             0.42,
                             1.0 / 3,
                             1e20,
                             1e-7,
                             123456789012345678.0,
                             1764475200.25,
                             std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::denorm_min()};
    std::mt19937_64 rng(42);
    std::vector<double> all(std::begin(values), std::end(values));
    for (int i = 0; i < 2000; ++i)
        all.push_back(std::ldexp(std::uniform_real_distribution<double>(-1, 1)(rng),
                                 std::uniform_int_distribution<int>(-60, 80)(rng)));

    for (auto type : {MetricType::Counter, MetricType::Gauge, MetricType::Untyped}) {
        auto* f = fam("m_" + std::to_string(static_cast<int>(type)), type);
        for (double v : all) {
            ClientMetric m;
            m.label = {{"a", "x"}, {"b", "q\"uo\\te\nnl 视觉 ✓"}};
            m.counter.value = m.gauge.value = m.untyped.value = v;
            f->metric.push_back(m);
        }
        ClientMetric bare;
        bare.timestamp_ms = 1'764'475'200'250;
        f->metric.push_back(bare);
    }
    auto* h = fam("h_seconds", MetricType::Histogram, "");
    for (bool inf_bucket : {false, true}) {
        ClientMetric m;
        if (inf_bucket) m.label = {{"x", "y"}};
        m.histogram.sample_count = 7;
        m.histogram.sample_sum = 2.5;
        m.histogram.bucket = {{1, 0.005}, {3, 0.1}, {5, 2.5}};
        if (inf_bucket) m.histogram.bucket.push_back({7, std::numeric_limits<double>::infinity()});
        h->metric.push_back(m);
    }
    auto* s = fam("s", MetricType::Summary);
    ClientMetric sm;
    sm.summary.sample_count = 3;
    sm.summary.sample_sum = 0.3;
    sm.summary.quantile = {{0.5, 0.1}, {0.99, 0.25}};
    s->metric.push_back(sm);
    fam("empty_family", MetricType::Gauge);

    CHECK(metrics::serialize(fams) == metrics::serialize_with_prometheus_cpp(fams));

    // And on the collector's real families.
    poll::task_table tasks;
    auto tt = polled_task("t1");
    tt.labels = poll::shared_labels({{"team", "say \"hi\" \\ to\nthe 视觉 team ✓"}});
    tasks.tasks.emplace(task::task_key{"p", "d", "t1"}, std::move(tt));
    tasks.tasks.emplace(task::task_key{"p", "d", "t2"}, polled_task("t2"));
    poll::watcher_stats stats;
    stats.poll_duration.observe(0.02);
    metrics::collector_sources src;
    src.tasks = [&]() -> const poll::task_view& { return tasks; };
    src.stats = [&]() -> const poll::watcher_stats& { return stats; };
    src.process = [] { return metrics::read_process_stats(); };
    metrics::collector c(std::move(src));
    auto families = c.Collect();
    CHECK(metrics::serialize(families) == metrics::serialize_with_prometheus_cpp(families));
    // render() may differ only in the process_* values read a moment later.
    auto cut = [](const std::string& t) { return t.substr(0, t.find("# HELP process_")); };
    CHECK(cut(c.render()) == cut(metrics::serialize(families)));
}

TEST_CASE("a streamed scrape survives tasks coming and going between its pieces") {
    poll::task_table tasks;
    for (int i = 0; i < 40; ++i) {
        char buf[16]; // ("t" + std::to_string trips GCC 12's -Wstringop-overflow at -O3)
        std::snprintf(buf, sizeof buf, "t%d", 100 + i);
        const std::string id = buf;
        tasks.tasks.emplace(task::task_key{"p", "d", id},
                            polled_task(id, modelarts::task_status::running, 0.5));
    }
    metrics::collector_sources src;
    src.tasks = [&]() -> const poll::task_view& { return tasks; };
    metrics::collector c(std::move(src));
    auto next = c.stream(500);
    std::string text, piece;
    int pieces = 0;
    for (bool more = true; more; ++pieces) {
        piece.clear();
        more = next(piece);
        text += piece;
        // Between pieces the engine forgets one task and finds another.
        if (pieces == 3) tasks.tasks.erase(tasks.tasks.begin());
        if (pieces == 5)
            tasks.tasks.emplace(task::task_key{"p", "d", "t999"},
                                polled_task("t999", modelarts::task_status::queuing, 0));
    }
    CHECK(pieces > 10);
    // Every family is announced once, and every task in the status family has its whole set.
    auto lines = lines_of(text);
    CHECK(std::count(lines.begin(), lines.end(), "# TYPE modelarts_task_status gauge") == 1);
    std::map<std::string, int> states, ones;
    for (const auto& l : lines) {
        if (!l.starts_with("modelarts_task_status{")) continue;
        std::string_view v(l);
        v.remove_prefix(v.find("task_id=\"") + 9);
        std::string id(v.substr(0, v.find('"')));
        ++states[id];
        if (l.ends_with(" 1")) ++ones[id];
    }
    CHECK(states.size() >= 39);
    for (const auto& state : states) { // no structured binding: clang 14 cannot capture one
        const std::string& id = state.first;
        CHECK_MESSAGE(state.second == 8, id);
        CHECK_MESSAGE(ones[id] == 1, id);
    }
}

TEST_CASE("the state database's write failures, pending writes and held polls are exported from "
          "zero") {
    poll::watcher_stats stats;
    auto text = scrape({}, stats);
    INFO(text);
    CHECK(has_line(text, "# TYPE taskwatch_state_write_failures_total counter"));
    CHECK(has_line(text, "taskwatch_state_write_failures_total 0"));
    CHECK(has_line(text, "# TYPE taskwatch_state_pending_writes gauge"));
    CHECK(has_line(text, "taskwatch_state_pending_writes 0"));
    CHECK(has_line(text, "# TYPE taskwatch_state_held_polls_total counter"));
    CHECK(has_line(text, "taskwatch_state_held_polls_total 0"));

    stats.commit_failures = 12;
    stats.pending_writes = 340;
    stats.held_polls = 5;
    text = scrape({}, stats);
    CHECK(has_line(text, "taskwatch_state_write_failures_total 12"));
    CHECK(has_line(text, "taskwatch_state_pending_writes 340"));
    CHECK(has_line(text, "taskwatch_state_held_polls_total 5"));
}

TEST_CASE("discovery's listings, their failures by reason (from zero) and each discovered "
          "target's up are exported") {
    poll::watcher_stats stats;
    auto text = scrape({}, stats);
    INFO(text);
    CHECK(has_line(text, "# TYPE taskwatch_listings_total counter"));
    CHECK(has_line(text, "taskwatch_listings_total 0"));
    CHECK(has_line(text, "# TYPE taskwatch_listing_failures_total counter"));
    for (const auto& [kind, name] : modelarts::error_kind_names)
        CHECK(has_line(text,
                       "taskwatch_listing_failures_total{reason=\"" + std::string(name) + "\"} 0"));
    // No discovered target: no series, and no TYPE line without samples.
    CHECK(text.find("taskwatch_discovery_up") == std::string::npos);

    stats.listings = 9;
    stats.listing_failures_by_reason["proxy"] = 2;
    stats.discovery[{"p1", "d1"}] = "";
    stats.discovery[{"p1", "d2"}] = "proxy: 401 Unauthorized";
    text = scrape({}, stats);
    CHECK(has_line(text, "taskwatch_listings_total 9"));
    CHECK(has_line(text, "taskwatch_listing_failures_total{reason=\"proxy\"} 2"));
    CHECK(has_line(text, "taskwatch_listing_failures_total{reason=\"auth\"} 0"));
    CHECK(has_line(text, "# TYPE taskwatch_discovery_up gauge"));
    CHECK(has_line(text, "taskwatch_discovery_up{project_id=\"p1\",dataset_id=\"d1\"} 1"));
    CHECK(has_line(text, "taskwatch_discovery_up{project_id=\"p1\",dataset_id=\"d2\"} 0"));
}

TEST_CASE("a status code outside -1..5 is the state set's unknown series - a progress the API did "
          "not send has no sample") {
    poll::task_table tasks;
    test::add_polled_from_body(tasks, {"p", "d", "future"}, R"({"status": 9, "progress": 30.0})");
    test::add_polled_from_body(tasks, {"p", "d", "noprogress"},
                               R"({"status": 1, "task_name": "x"})");
    auto text = scrape(tasks);
    INFO(text);
    const std::string future = R"(project_id="p",dataset_id="d",task_id="future",team="vision")";
    const std::string noprog =
        R"(project_id="p",dataset_id="d",task_id="noprogress",team="vision")";
    CHECK(has_line(text, "modelarts_task_status{" + future + R"(,status="unknown"} 1)"));
    for (const char* s :
         {"queuing", "initializing", "running", "failed", "succeeded", "stopping", "stopped"})
        CHECK(has_line(text, "modelarts_task_status{" + future + ",status=\"" + s + "\"} 0"));
    CHECK(has_line(text, "modelarts_task_progress_ratio{" + future + "} 0.3"));
    CHECK(has_line(text, "modelarts_task_up{" + future + "} 1"));

    CHECK(has_line(text, "modelarts_task_status{" + noprog + R"(,status="running"} 1)"));
    CHECK(has_line(text, "modelarts_task_status{" + noprog + R"(,status="unknown"} 0)"));
    CHECK(starting_with(text, "modelarts_task_progress_ratio{" + noprog).empty());
    CHECK(has_line(text, "modelarts_task_up{" + noprog + "} 1"));
    CHECK(starting_with(text, "modelarts_task_samples{" + noprog).empty()); // no counts sent
}

namespace {

// The value of the one sample whose line starts with `series` + " "; NaN when there is none.
double value_of(const std::string& text, const std::string& series) {
    auto found = starting_with(text, series + " ");
    return found.size() == 1 ? std::stod(found[0].substr(series.size() + 1)) : std::nan("");
}

} // namespace

TEST_CASE("a running task with an estimate exports its ETA and annotation rate, a finished one "
          "neither") {
    poll::task_table tasks;
    auto tt = polled_task("t1");
    const auto start = at_ms(1'764'475'000'000);
    // Queued, then 10 % and 10 samples per 100 s: 0.001 progress/s, 0.1 samples/s; at 20 % the
    // ETA is the last step + 80 % / 0.001 per second = start + 200 s + 800 s.
    tt.estimate.observe(start - 10s, modelarts::task_status::queuing, 0.0, 0);
    tt.estimate.observe(start, modelarts::task_status::running, 0.0, 0);
    tt.estimate.observe(start + 100s, modelarts::task_status::running, 0.1, 10);
    tt.estimate.observe(start + 200s, modelarts::task_status::running, 0.2, 20);
    tasks.tasks.emplace(task::task_key{"p", "d", "t1"}, tt);
    auto done = polled_task("t2", modelarts::task_status::succeeded, 1.0);
    done.estimate = tt.estimate;
    done.estimate.observe(start + 300s, modelarts::task_status::succeeded, 1.0, 100);
    tasks.tasks.emplace(task::task_key{"p", "d", "t2"}, done);

    auto text = scrape(tasks);
    INFO(text);
    const std::string base = R"({project_id="p",dataset_id="d",task_id="t1",team="vision"})";
    CHECK(value_of(text, "modelarts_task_estimated_completion_timestamp_seconds" + base) ==
          doctest::Approx(1'764'476'000.0).epsilon(1e-12));
    CHECK(value_of(text, "modelarts_task_annotation_rate" + base) ==
          doctest::Approx(0.1).epsilon(1e-9));
    CHECK(has_line(text, "# TYPE modelarts_task_estimated_completion_timestamp_seconds gauge"));
    CHECK(has_line(text, "# TYPE modelarts_task_annotation_rate gauge"));
    CHECK(starting_with(text, "modelarts_task_estimated_completion_timestamp_seconds{").size() ==
          1);
    CHECK(starting_with(text, "modelarts_task_annotation_rate{").size() == 1);
}
