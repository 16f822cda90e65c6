// The HTTP routes without sockets: /api/v1/tasks JSON, the status page's HTML, and routing
// (404, 405 with Allow, /-/ready) answered by web::respond on hand-made requests.
#include "support/tasks.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/metrics/collector.hpp"
#include "taskwatch/web/routes.hpp"
#include "taskwatch/web/status_page.hpp"
#include "taskwatch/web/task_json.hpp"

#include <deque>
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <regex>
#include <string>

using namespace taskwatch;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

task::time_point at_ms(std::int64_t ms) {
    return task::time_point(std::chrono::milliseconds(ms));
}

poll::watched_task polled(const std::string& dataset, const std::string& id, double progress,
                          modelarts::task_status status = modelarts::task_status::running) {
    return test::successfully_polled({"p", dataset, id}, "task " + id, "r1", status, progress);
}

poll::task_table sample_tasks() {
    poll::task_table m;
    m.tasks.emplace(task::task_key{"p", "d1", "t1"}, polled("d1", "t1", 0.42));
    m.tasks.emplace(task::task_key{"p", "d1", "t2"},
                    polled("d1", "t2", 1.0, modelarts::task_status::succeeded));
    poll::watched_task never;
    never.state.key = {"p", "d2", "t3"};
    never.state.last_error = task::poll_error{"auth", "APIGW.0301",
                                              "Incorrect IAM authentication "
                                              "information",
                                              "req-9"};
    m.tasks.emplace(never.state.key, std::move(never));
    return m;
}

struct request {
    http::server_request message;
    http::request_context ctx{message, {}, true, false, 1, 1};
    request(bhttp::verb v, std::string target)
        : message(v, target, 11) {}
};

http::reply get(const web::site& s, const std::string& target, bhttp::verb v = bhttp::verb::get) {
    request r(v, target);
    return web::respond(s, r.ctx);
}

std::string header(const http::reply& r, bhttp::field f) {
    auto it = r.response.find(f);
    return it == r.response.end() ? std::string() : std::string(it->value());
}

} // namespace

TEST_CASE("times are RFC 3339 UTC with milliseconds") {
    CHECK(web::format_rfc3339(at_ms(1'764'475'200'250)) == "2025-11-30T04:00:00.250Z");
    CHECK(web::format_rfc3339(at_ms(0)) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("relative times read like a person would say them") {
    const auto now = at_ms(1'000'000'000'000);
    CHECK(web::format_relative(now, now) == "just now");
    CHECK(web::format_relative(now - std::chrono::seconds(42), now) == "42 s ago");
    CHECK(web::format_relative(now - std::chrono::minutes(5), now) == "5 min ago");
    CHECK(web::format_relative(now - std::chrono::hours(3), now) == "3 h ago");
    CHECK(web::format_relative(now - std::chrono::hours(72), now) == "3 days ago");
    CHECK(web::format_relative(now + std::chrono::minutes(1), now) == "just now");
}

TEST_CASE("the task API shows every field of the contract, and nulls before the first poll") {
    auto tasks = sample_tasks();
    auto body = web::tasks_json(tasks);
    CHECK(body.find("\"progress\":0.42") != std::string::npos); // not Boost's 4.2E-1
    auto arr = json::parse(body).as_array();
    REQUIRE(arr.size() == 3);
    const auto& t1 = arr[0].as_object();
    CHECK(t1.at("project_id") == "p");
    CHECK(t1.at("dataset_id") == "d1");
    CHECK(t1.at("task_id") == "t1");
    CHECK(t1.at("task_name") == "task t1");
    CHECK(t1.at("labels") == json::object{{"team", "vision"}});
    CHECK(t1.at("status") == "running");
    CHECK(t1.at("status_code") == 1);
    CHECK(t1.at("progress").as_double() == doctest::Approx(0.42));
    CHECK(t1.at("up") == true);
    CHECK(t1.at("last_change") == "2025-11-30T03:58:20.000Z");
    CHECK(t1.at("last_poll") == "2025-11-30T04:00:00.250Z");
    CHECK(t1.at("created") == "2023-11-14T22:13:20.000Z");
    CHECK(t1.at("last_error").is_null());
    CHECK(t1.at("result") == json::object{{"total_sample_count", 49},
                                          {"annotated_sample_count", 30},
                                          {"unconfirmed_sample_count", nullptr}});
    CHECK(arr[1].at("status") == "succeeded");
    CHECK(arr[1].at("status_code") == 3);

    const auto& t3 = arr[2].as_object();
    CHECK(t3.at("task_id") == "t3");
    CHECK(t3.at("status").is_null());
    CHECK(t3.at("status_code").is_null());
    CHECK(t3.at("progress").is_null());
    CHECK(t3.at("result").is_null());
    CHECK(t3.at("up") == false);
    CHECK(t3.at("last_poll").is_null());
    CHECK(t3.at("last_error") == json::object{{"reason", "auth"},
                                              {"error_code", "APIGW.0301"},
                                              {"error_msg", "Incorrect IAM authentication "
                                                            "information"},
                                              {"request_id", "req-9"}});
}

TEST_CASE("the task API keeps quotes, newlines and UTF-8 of names and labels intact") {
    poll::task_table tasks;
    auto tt = polled("d", "t", 0.5);
    tt.state.last->task_name = "a \"quoted\" \\ name\nwith 视觉 ✓";
    tt.labels = poll::shared_labels({{"team", "</script><b>x</b>"}});
    tasks.tasks.emplace(task::task_key{"p", "d", "t"}, std::move(tt));
    auto arr = json::parse(web::tasks_json(tasks)).as_array();
    CHECK(arr.at(0).at("task_name") == "a \"quoted\" \\ name\nwith 视觉 ✓");
    CHECK(arr.at(0).at("labels").at("team") == "</script><b>x</b>");
}

TEST_CASE("HTML escaping covers text and attribute values") {
    CHECK(web::html_escape(R"(<a href="x">'&'</a>)") ==
          "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST_CASE("the status page has one row per task with its progress and dataset") {
    auto tasks = sample_tasks();
    web::page_summary sum;
    sum.polls = 17;
    sum.ready = true;
    sum.version = "1.2.3";
    sum.now = at_ms(1'764'475'260'000);
    auto html = web::render_status_page(tasks, sum);
    INFO(html);
    CHECK(html.starts_with("<!doctype html>"));
    // Without scripts the page reloads itself; with them it refreshes in place.
    CHECK(html.find("<noscript><meta http-equiv=\"refresh\" content=\"15\"></noscript>") !=
          std::string::npos);
    CHECK(html.find("<script defer src=\"" + web::page_script_path() + "\"></script>") !=
          std::string::npos);
    CHECK(html.find("http://") == std::string::npos); // no external assets
    CHECK(html.find("https://") == std::string::npos);

    std::regex row(
        R"re(<tr id="task-([^"]+)" data-project-id="([^"]*)" data-dataset-id="([^"]*)" data-task-id="([^"]*)" data-status="([^"]*)" data-progress="([^"]*)")re");
    std::map<std::string, std::pair<std::string, std::string>> rows; // task -> (status, progress)
    for (auto it = std::sregex_iterator(html.begin(), html.end(), row);
         it != std::sregex_iterator(); ++it)
        rows[(*it)[4]] = {(*it)[5], (*it)[6]};
    REQUIRE(rows.size() == 3);
    CHECK(rows["t1"] == std::pair<std::string, std::string>{"running", "0.42"});
    CHECK(rows["t2"] == std::pair<std::string, std::string>{"succeeded", "1"});
    CHECK(rows["t3"] == std::pair<std::string, std::string>{"unknown", ""});
    CHECK(html.find("<em>42%</em>") != std::string::npos);
    CHECK(html.find("<span class=\"tag\" title=\"dataset\">d1</span>") != std::string::npos);
    CHECK(html.find("<span class=\"tag\" title=\"dataset\">d2</span>") != std::string::npos);
    CHECK(html.find("Incorrect IAM authentication information") != std::string::npos);
    CHECK(html.find("2 min ago") != std::string::npos); // last change 160 s before now
}

TEST_CASE("the status page escapes task names, labels and errors") {
    poll::task_table tasks;
    auto tt = polled("d\"x", "t<1>", 0.5);
    tt.state.last->task_name = "<script>alert('x')</script>";
    tt.state.last->error_msg = "<img src=x onerror=alert(1)>";
    tt.labels = poll::shared_labels({{"team", "\"><b>bold</b>"}});
    tasks.tasks.emplace(task::task_key{"p", "d\"x", "t<1>"}, std::move(tt));
    auto html = web::render_status_page(tasks, {});
    INFO(html);
    CHECK(html.find("<script>") == std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") != std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    CHECK(html.find("<b>bold</b>") == std::string::npos);
    CHECK(html.find("data-task-id=\"t&lt;1&gt;\"") != std::string::npos);
    CHECK(html.find("data-dataset-id=\"d&quot;x\"") != std::string::npos);
    CHECK(html.find("id=\"task-d_x-t_1_\"") != std::string::npos);
}

TEST_CASE("routes: each endpoint answers GET with its content type") {
    auto tasks = sample_tasks();
    metrics::collector_sources src;
    src.tasks = [&]() -> const poll::task_view& { return tasks; };
    metrics::collector coll(std::move(src));
    web::site s;
    s.metrics = [&] { return coll.render(); };
    s.tasks = [&]() -> const poll::task_view& { return tasks; };
    s.ready = [] { return true; };

    auto m = get(s, "/metrics");
    CHECK(m.response.result_int() == 200);
    CHECK(header(m, bhttp::field::content_type) == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(m.response.body().find("modelarts_task_progress_ratio{") != std::string::npos);
    CHECK(get(s, "/metrics?name[]=x").response.result_int() == 200);

    auto a = get(s, "/api/v1/tasks");
    CHECK(a.response.result_int() == 200);
    CHECK(header(a, bhttp::field::content_type) == "application/json");
    CHECK(json::parse(a.response.body()).as_array().size() == 3);

    auto page = get(s, "/");
    CHECK(page.response.result_int() == 200);
    CHECK(header(page, bhttp::field::content_type) == "text/html; charset=utf-8");

    CHECK(get(s, "/-/healthy").response.result_int() == 200);
    CHECK(get(s, "/-/ready").response.result_int() == 200);
    // HEAD is answered like GET; the server drops the body and keeps Content-Length.
    CHECK(get(s, "/metrics", bhttp::verb::head).response.result_int() == 200);
}

TEST_CASE("routes: /-/ready is 503 until the first round is done") {
    bool ready = false;
    web::site s;
    s.ready = [&] { return ready; };
    CHECK(get(s, "/-/ready").response.result_int() == 503);
    CHECK(get(s, "/-/healthy").response.result_int() == 200);
    ready = true;
    CHECK(get(s, "/-/ready").response.result_int() == 200);
}

TEST_CASE("routes: unknown paths are 404, other methods 405 with Allow") {
    web::site s;
    CHECK(get(s, "/nope").response.result_int() == 404);
    CHECK(get(s, "/metrics/").response.result_int() == 404);
    CHECK(get(s, "/metrics").response.result_int() == 404); // no collector given
    for (auto v : {bhttp::verb::post, bhttp::verb::put, bhttp::verb::delete_, bhttp::verb::patch,
                   bhttp::verb::options}) {
        auto r = get(s, "/api/v1/tasks", v);
        CHECK(r.response.result_int() == 405);
        CHECK(header(r, bhttp::field::allow) == "GET, HEAD");
    }
    CHECK(get(s, "/nope", bhttp::verb::post).response.result_int() == 404);
}

TEST_CASE("compact JSON escapes strings as Boost.JSON does and spells doubles in decimal") {
    json::value v =
        json::object{{"s", "quote \" backslash \\ nl \n tab \t bell \x07 del \x7f 视觉 ✓"},
                     {"i", -42},
                     {"u", std::uint64_t{18446744073709551615u}},
                     {"b", true},
                     {"n", nullptr},
                     {"a", json::array{1, "x", json::object{}}},
                     {"d", 0.42},
                     {"w", 1.0}};
    const auto text = compact_json(v);
    CHECK(json::parse(text) == v);
    // Without doubles, byte for byte what boost::json::serialize writes.
    v.as_object().erase("d");
    v.as_object().erase("w");
    CHECK(compact_json(v) == json::serialize(v));
    CHECK(text.find("\"d\":0.42") != std::string::npos);
    CHECK(text.find("\"w\":1.0") != std::string::npos);
}

TEST_CASE("routes: /-/ready is 503 with one line naming the file while the state database cannot "
          "be written, and the status page says so") {
    poll::watcher_stats stats;
    web::site s;
    s.ready = [] { return true; };
    s.stats = [&]() -> const poll::watcher_stats& { return stats; };
    CHECK(get(s, "/-/ready").response.result_int() == 200);
    CHECK(get(s, "/").response.body().find("store-problem") == std::string::npos);

    stats.store_problem = "/var/lib/taskwatch/taskwatch.db: database or disk is full";
    auto r = get(s, "/-/ready");
    CHECK(r.response.result_int() == 503);
    CHECK(r.response.body() == "taskwatchd is not ready: cannot write the state database: "
                               "/var/lib/taskwatch/taskwatch.db: database or disk is full\n");
    auto page = get(s, "/").response.body();
    CHECK(page.find("<div class=\"alert\" role=\"alert\" id=\"store-problem\">Cannot write the "
                    "state database: /var/lib/taskwatch/taskwatch.db: database or disk is full.") !=
          std::string::npos);

    stats.store_problem = "a\nb<i>";
    CHECK(get(s, "/-/ready").response.body() ==
          "taskwatchd is not ready: cannot write the state database: a b<i>\n");
    CHECK(get(s, "/").response.body().find("a\nb&lt;i&gt;") != std::string::npos);

    stats.store_problem.clear();
    CHECK(get(s, "/-/ready").response.result_int() == 200);
}

TEST_CASE("routes: the status page names each dataset that cannot be listed, and why, escaped") {
    poll::watcher_stats stats;
    web::site s;
    s.ready = [] { return true; };
    s.stats = [&]() -> const poll::watcher_stats& { return stats; };
    CHECK(get(s, "/").response.body().find("discovery-problem") == std::string::npos);
    // The banners' element is there even without a problem, for the in-place refresh to fill.
    CHECK(get(s, "/").response.body().find("<div id=\"problems\" data-live></div>") !=
          std::string::npos);

    stats.discovery[{"p1", "d0"}] = ""; // listed: no banner line
    stats.discovery[{"p1", "d1"}] =
        "proxy: proxy 10.0.0.1:3128 refused CONNECT to modelarts.example:443: 401 Unauthorized";
    stats.discovery[{"p1", "d<2>"}] = "auth: HTTP 403\nModelArts.0203";
    const auto page = get(s, "/").response.body();
    CHECK(page.find("<div class=\"alert\" role=\"alert\" id=\"discovery-problem\">Cannot list "
                    "the tasks of dataset d1 (project p1): proxy: proxy 10.0.0.1:3128 refused "
                    "CONNECT to modelarts.example:443: 401 Unauthorized; dataset d&lt;2&gt; "
                    "(project p1): auth: HTTP 403 ModelArts.0203. New tasks there") !=
          std::string::npos);
    // Listing problems are not the state database's: /-/ready stays 200.
    CHECK(get(s, "/-/ready").response.result_int() == 200);

    stats.discovery[{"p1", "d1"}] = "";
    stats.discovery[{"p1", "d<2>"}] = "";
    CHECK(get(s, "/").response.body().find("discovery-problem") == std::string::npos);
}

TEST_CASE("the task API and the page show an unknown status with its code and null for what the "
          "API did not send") {
    poll::task_table tasks;
    test::add_polled_from_body(tasks, {"p", "d1", "t1"},
                               R"({"status": 7, "progress": 25.0, "task_name": "a"})");
    test::add_polled_from_body(tasks, {"p", "d1", "t2"}, R"({"status": 1, "task_name": "b"})");
    auto arr = json::parse(web::tasks_json(tasks)).as_array();
    REQUIRE(arr.size() == 2);
    const auto& t1 = arr[0].as_object();
    CHECK(t1.at("status") == "unknown");
    CHECK(t1.at("status_code") == 7);
    CHECK(t1.at("progress").as_double() == doctest::Approx(0.25));
    CHECK(t1.at("up") == true);
    const auto& t2 = arr[1].as_object();
    CHECK(t2.at("status") == "running");
    CHECK(t2.at("status_code") == 1);
    CHECK(t2.at("progress").is_null());
    CHECK(t2.at("task_name") == "b");

    web::page_summary sum;
    sum.now = at_ms(1'764'475'260'000);
    const auto page = web::render_status_page(tasks, sum);
    INFO(page);
    CHECK(page.find(">unknown (7)</span>") != std::string::npos);
    CHECK(page.find("data-status=\"unknown\" data-progress=\"0.25\"") != std::string::npos);
    CHECK(page.find("data-status=\"running\" data-progress=\"\"") != std::string::npos);
}

TEST_CASE("the task API shows eta and rate once the estimator has enough data, null before") {
    using namespace std::chrono_literals;
    poll::task_table tasks;
    auto tt = polled("d1", "t1", 0.2);
    const auto start = at_ms(1'764'475'000'000); // 2025-11-30T03:56:40Z
    tt.estimate.observe(start - 10s, modelarts::task_status::initializing, 0.0, 0);
    tt.estimate.observe(start, modelarts::task_status::running, 0.0, 0);
    tt.estimate.observe(start + 100s, modelarts::task_status::running, 0.1, 10);
    auto one_interval = tt;
    tt.estimate.observe(start + 200s, modelarts::task_status::running, 0.2, 20);
    tasks.tasks.emplace(task::task_key{"p", "d1", "t1"}, tt);
    tasks.tasks.emplace(task::task_key{"p", "d1", "t2"}, polled("d1", "t2", 0.5));
    one_interval.state.key.task_id = "t3";
    tasks.tasks.emplace(task::task_key{"p", "d1", "t3"}, one_interval);

    auto arr = json::parse(web::tasks_json(tasks)).as_array();
    REQUIRE(arr.size() == 3);
    // 0.001 progress and 0.1 samples per second; 80 % left from start + 200 s: + 800 s.
    CHECK(arr[0].at("eta") == "2025-11-30T04:13:20.000Z");
    const auto& rate = arr[0].at("rate").as_object();
    CHECK(rate.at("progress_per_second").to_number<double>() ==
          doctest::Approx(0.001).epsilon(1e-9));
    CHECK(rate.at("samples_per_second").to_number<double>() == doctest::Approx(0.1).epsilon(1e-9));
    CHECK(arr[1].at("eta").is_null()); // never observed by the estimator
    CHECK(arr[1].at("rate").is_null());
    CHECK(arr[2].at("eta").is_null()); // one interval: a rate, not yet an ETA
    CHECK(arr[2].at("rate").at("progress_per_second").to_number<double>() ==
          doctest::Approx(0.001).epsilon(1e-9));
}

TEST_CASE("routes: one task's page of the API has its history and events, 404 for others") {
    auto tasks = sample_tasks();
    web::site s;
    s.tasks = [&]() -> const poll::task_view& { return tasks; };
    std::vector<task::task_key> asked;
    s.history = [&](const task::task_key& key) {
        asked.push_back(key);
        return std::vector<state::history_point>{
            {at_ms(1'764'475'000'000), modelarts::task_status::running, 0.25, 12},
            {at_ms(1'764'475'060'000), std::nullopt, std::nullopt, std::nullopt}};
    };
    s.events = [&](const task::task_key& key) {
        task::event e;
        e.id = "evt_1";
        e.type = task::event_type::status_changed;
        e.time = at_ms(1'764'475'000'000);
        e.key = key;
        task::snapshot cur;
        cur.status = modelarts::task_status::running;
        cur.progress = 0.25;
        e.current = cur;
        state::delivery_state ok{"chat", "delivered", 0, at_ms(0), "", at_ms(1'764'475'001'000)};
        state::delivery_state retry{"ops", "pending", 2, at_ms(1'764'475'030'000), "HTTP 503", {}};
        return std::vector<state::event_record>{{e, {ok, retry}}};
    };

    auto r = get(s, "/api/v1/tasks/d1/t1");
    REQUIRE(r.response.result() == bhttp::status::ok);
    CHECK(header(r, bhttp::field::content_type) == "application/json");
    REQUIRE(asked.size() == 1);
    CHECK(asked[0] == task::task_key{"p", "d1", "t1"});
    auto o = json::parse(r.response.body()).as_object();
    CHECK(o.at("task_id") == "t1");
    CHECK(o.at("status") == "running");
    CHECK(o.at("eta").is_null());
    CHECK(o.at("history") ==
          json::parse(R"([{"time":"2025-11-30T03:56:40.000Z","status":"running","progress":0.25,)"
                      R"("annotated":12},{"time":"2025-11-30T03:57:40.000Z","status":null,)"
                      R"("progress":null,"annotated":null}])"));
    const auto& events = o.at("events").as_array();
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("id") == "evt_1");
    CHECK(events[0].at("type") == "task.status_changed");
    CHECK(events[0].at("time") == "2025-11-30T03:56:40.000Z");
    CHECK(events[0].at("previous").is_null());
    CHECK(events[0].at("current").at("status") == "running");
    CHECK(events[0].at("deliveries") ==
          json::parse(R"([{"webhook":"chat","state":"delivered","attempts":0,)"
                      R"("next_attempt_at":null,"delivered_at":"2025-11-30T03:56:41.000Z",)"
                      R"("last_error":null},{"webhook":"ops","state":"pending","attempts":2,)"
                      R"("next_attempt_at":"2025-11-30T03:57:10.000Z","delivered_at":null,)"
                      R"("last_error":"HTTP 503"}])"));

    CHECK(get(s, "/api/v1/tasks/d1/nope").response.result() == bhttp::status::not_found);
    CHECK(get(s, "/api/v1/tasks/d2/t1").response.result() == bhttp::status::not_found);
    CHECK(get(s, "/api/v1/tasks/d1").response.result() == bhttp::status::not_found);
    CHECK(get(s, "/api/v1/tasks/d1/t1/x").response.result() == bhttp::status::not_found);
    CHECK(get(s, "/api/v1/tasks/d1/t1%2").response.result() == bhttp::status::not_found);
    CHECK(get(s, "/api/v1/tasks/%64%31/t%31").response.result() == bhttp::status::ok);
    CHECK(get(s, "/api/v1/tasks/d1/t1", bhttp::verb::post).response.result() ==
          bhttp::status::method_not_allowed);

    s.history = [](const task::task_key&) -> std::vector<state::history_point> {
        throw state::store_error("/x/taskwatch.db: disk I/O error (in SELECT)",
                                 "/x/taskwatch.db: disk I/O error");
    };
    auto down = get(s, "/api/v1/tasks/d1/t1");
    CHECK(down.response.result() == bhttp::status::service_unavailable);
    CHECK(down.response.body() == "cannot read the state database: /x/taskwatch.db: disk I/O "
                                  "error\n");
}
