// The status page and the task page as HTML, without sockets: escaping, the SVG points drawn
// from a given history, the order of the rows, the filters, pagination, the 404 page, and the
// rules that keep them CSP-friendly (no inline script or style, no external asset).
#include "support/tasks.hpp"
#include "taskwatch/web/chart.hpp"
#include "taskwatch/web/routes.hpp"
#include "taskwatch/web/status_page.hpp"
#include "taskwatch/web/task_page.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <regex>
#include <string>
#include <vector>

using namespace taskwatch;
using modelarts::task_status;
namespace bhttp = boost::beast::http;

namespace {

task::time_point at_s(std::int64_t s) {
    return task::time_point(std::chrono::seconds(s));
}

constexpr std::int64_t t0 = 1'764'475'200; // 2025-11-30T04:00:00Z

poll::watched_task polled(const std::string& dataset, const std::string& id, std::string name,
                          task_status status, double progress) {
    return test::successfully_polled({"p", dataset, id}, std::move(name), "r", status, progress);
}

void add(poll::task_table& t, poll::watched_task tt) {
    auto key = tt.state.key;
    t.tasks.insert_or_assign(std::move(key), std::move(tt));
}

// Eight tasks, one of each kind the page ranks, named so that name order differs from rank.
poll::task_table ranked_tasks() {
    poll::task_table t;
    add(t, polled("d1", "t-succ", "a-succeeded", task_status::succeeded, 1));
    add(t, polled("d1", "t-run", "b-running", task_status::running, 0.5));
    add(t, polled("d2", "t-queue", "c-queuing", task_status::queuing, 0));
    add(t, polled("d2", "t-fail", "d-failed", task_status::failed, 0.3));
    auto stalled = polled("d1", "t-stall", "e-stalled", task_status::running, 0.2);
    stalled.state.stalled = true;
    add(t, std::move(stalled));
    auto failing = polled("d2", "t-poll", "f-polls-failing", task_status::running, 0.1);
    failing.state.up = false;
    failing.state.last_error = task::poll_error{"auth", "APIGW.0301", "bad token", "req-1"};
    add(t, std::move(failing));
    add(t, polled("d1", "t-stopped", "g-stopped", task_status::stopped, 0.7));
    auto other = polled("d3", "t-init", "h-init", task_status::initializing, 0);
    other.labels = poll::shared_labels({{"team", "audio"}, {"env", "prod"}});
    add(t, std::move(other));
    return t;
}

std::vector<std::string> row_ids(const std::string& html) {
    static const std::regex row(R"re(<tr id="task-[^"]*" [^>]*data-task-id="([^"]*)")re");
    std::vector<std::string> out;
    for (auto it = std::sregex_iterator(html.begin(), html.end(), row);
         it != std::sregex_iterator(); ++it)
        out.push_back((*it)[1]);
    return out;
}

web::page_summary summary_at(std::int64_t s) {
    web::page_summary sum;
    sum.now = at_s(s);
    sum.version = "1.2.3";
    return sum;
}

std::string page(const poll::task_table& t, std::string_view query, std::size_t per_page = 200) {
    web::page_options o;
    o.query = web::parse_page_query(query);
    o.per_page = per_page;
    return web::render_status_page(t, summary_at(t0), o);
}

// The rules that keep a page working under `Content-Security-Policy: default-src 'self'`.
void check_csp_friendly(const std::string& html) {
    CHECK(html.find("<style") == std::string::npos);
    // No style attribute, no inline handler such as onclick= (escaped text has no raw '<').
    CHECK_FALSE(std::regex_search(html, std::regex(R"(<[^>]* (style|on[a-z]+)=)")));
    static const std::regex script(R"(<script[^>]*>)");
    for (auto it = std::sregex_iterator(html.begin(), html.end(), script);
         it != std::sregex_iterator(); ++it)
        CHECK((*it)[0] == "<script defer src=\"" + web::page_script_path() + "\">");
    CHECK(html.find("http://") == std::string::npos);
    CHECK(html.find("https://") == std::string::npos);
}

struct request {
    http::server_request message;
    http::request_context ctx{message, {}, true, false, 1, 1};
    explicit request(std::string target)
        : message(bhttp::verb::get, target, 11) {}
};

http::reply get(const web::site& s, const std::string& target) {
    request r(target);
    return web::respond(s, r.ctx);
}

// Feeds the task's estimator a steady run: initializing at t0 - 360 s, running from t0 - 300 s,
// 10 % and 100 samples more each minute up to t0 (50 %): 1/600 progress per second, so an ETA
// 300 s after t0 and 100 samples a minute.
void run_steadily(poll::watched_task& tt) {
    tt.estimate.observe(at_s(t0 - 360), task_status::initializing, 0.0, 0);
    for (int i = 0; i <= 5; ++i)
        tt.estimate.observe(at_s(t0 - 300 + 60 * i), task_status::running, 0.1 * i, 100 * i);
}

std::vector<web::history_point> lifecycle() {
    using hp = web::history_point;
    return {hp{at_s(t0), task_status::queuing, 0.0, 0},
            hp{at_s(t0 + 60), task_status::running, 0.1, 5},
            hp{at_s(t0 + 120), task_status::running, std::nullopt, std::nullopt},
            hp{at_s(t0 + 180), task_status::running, 0.55, 27},
            hp{at_s(t0 + 240), task_status::succeeded, 1.0, 49}};
}

} // namespace

TEST_CASE("the page query reads form encoding, several label pairs and ignores a bad page") {
    auto q = web::parse_page_query("q=cat+dog%21&status=running&dataset=d1&label=team%3Dvision"
                                   "%2C+env&label=x%3D1&page=3&other=1");
    CHECK(q.text == "cat dog!");
    CHECK(q.status == "running");
    CHECK(q.dataset == "d1");
    CHECK(q.labels == std::vector<std::pair<std::string, std::string>>{
                          {"team", "vision"}, {"env", ""}, {"x", "1"}});
    CHECK(q.page == 3);
    CHECK(web::parse_page_query("page=0").page == 1);
    CHECK(web::parse_page_query("page=2x").page == 1);
    CHECK(web::parse_page_query("page=-1").page == 1);
    CHECK(web::parse_page_query("q=%zz").text == "%zz"); // malformed: taken as typed
    CHECK(web::parse_page_query("") == web::page_query{});
}

TEST_CASE("the status page puts failed, poll-failing and stalled tasks first, then running, "
          "initializing, queuing, stopped, succeeded") {
    const auto html = page(ranked_tasks(), "");
    INFO(html);
    CHECK(row_ids(html) == std::vector<std::string>{"t-fail", "t-stall", "t-poll", "t-run",
                                                    "t-init", "t-queue", "t-stopped", "t-succ"});
}

TEST_CASE("the status page header counts every status, whatever the filters show") {
    const auto html = page(ranked_tasks(), "status=succeeded");
    INFO(html);
    auto count = [&](const std::string& status) {
        std::smatch m;
        const std::regex re("data-status-count=\"" + status + "\" href=\"[^\"]*\"><b>(\\d+)</b>");
        REQUIRE_MESSAGE(std::regex_search(html, m, re), status);
        return std::stoi(m[1]);
    };
    CHECK(count("attention") == 3);
    CHECK(count("running") == 3);
    CHECK(count("failed") == 1);
    CHECK(count("succeeded") == 1);
    CHECK(count("queuing") == 1);
    CHECK(count("failing") == 1);
    CHECK(count("stalled") == 1);
    CHECK(count("unknown") == 0);
    CHECK(row_ids(html) == std::vector<std::string>{"t-succ"});
    // The succeeded figure is on; its link clears the filter.
    CHECK(html.find("class=\"stat good on\" data-status-count=\"succeeded\" href=\"/\"") !=
          std::string::npos);
}

TEST_CASE("the status page filters by status, dataset, labels and text, and keeps them in the "
          "form") {
    const auto t = ranked_tasks();
    CHECK(row_ids(page(t, "status=attention")) ==
          std::vector<std::string>{"t-fail", "t-stall", "t-poll"});
    CHECK(row_ids(page(t, "status=failing")) == std::vector<std::string>{"t-poll"});
    CHECK(row_ids(page(t, "status=stalled")) == std::vector<std::string>{"t-stall"});
    CHECK(row_ids(page(t, "status=running")) ==
          std::vector<std::string>{"t-stall", "t-poll", "t-run"});
    CHECK(row_ids(page(t, "dataset=d2")) ==
          std::vector<std::string>{"t-fail", "t-poll", "t-queue"});
    CHECK(row_ids(page(t, "label=team%3Daudio")) == std::vector<std::string>{"t-init"});
    CHECK(row_ids(page(t, "label=env")) == std::vector<std::string>{"t-init"});
    CHECK(row_ids(page(t, "label=team%3Dvision&dataset=d1&status=running")) ==
          std::vector<std::string>{"t-stall", "t-run"});
    CHECK(row_ids(page(t, "q=RUNNING")) == std::vector<std::string>{"t-run"}); // name, any case
    CHECK(row_ids(page(t, "q=t-que")) == std::vector<std::string>{"t-queue"}); // task id
    CHECK(row_ids(page(t, "q=d3")) == std::vector<std::string>{"t-init"});     // dataset id
    CHECK(row_ids(page(t, "q=aud")) == std::vector<std::string>{"t-init"});    // label value

    const auto none = page(t, "q=%3Cnothing%3E&dataset=d9");
    CHECK(row_ids(none).empty());
    CHECK(none.find("No task matches these filters.") != std::string::npos);
    CHECK(none.find("value=\"&lt;nothing&gt;\"") != std::string::npos);
    CHECK(none.find("<option value=\"d9\" selected>d9</option>") != std::string::npos);
    const auto some = page(t, "status=running&label=team%3Dvision");
    CHECK(some.find("<option value=\"running\" selected>") != std::string::npos);
    CHECK(some.find("name=\"label\" list=\"label-pairs\" placeholder=\"label=value\" "
                    "aria-label=\"labels\" value=\"team=vision\"") != std::string::npos);
}

TEST_CASE("beyond per_page rows the status page is paginated, and the links keep the filters") {
    const auto t = ranked_tasks();
    const auto p1 = page(t, "status=running", 2);
    CHECK(row_ids(p1) == std::vector<std::string>{"t-stall", "t-poll"});
    CHECK(p1.find("1–2 of 3 matching (8 watched)") != std::string::npos);
    CHECK(p1.find("rel=\"next\" href=\"/?status=running&amp;page=2\"") != std::string::npos);
    CHECK(p1.find("rel=\"prev\"") == std::string::npos);
    const auto p2 = page(t, "status=running&page=2", 2);
    CHECK(row_ids(p2) == std::vector<std::string>{"t-run"});
    CHECK(p2.find("rel=\"prev\" href=\"/?status=running\"") != std::string::npos);
    CHECK(p2.find("rel=\"next\"") == std::string::npos);
    // A page past the end shows the last one.
    CHECK(row_ids(page(t, "page=99", 3)) == std::vector<std::string>{"t-stopped", "t-succ"});
}

TEST_CASE("each status page row links to its task page and shows its ETA and sparkline") {
    poll::task_table t;
    auto tt = polled("d/1", "t 1", "name", task_status::running, 0.5);
    run_steadily(tt);
    REQUIRE(tt.estimate.current().eta == at_s(t0 + 300));
    add(t, std::move(tt));
    add(t, polled("d/1", "t 2", "other", task_status::running, 0.5)); // no estimate yet
    web::page_options o;
    o.history = [](const task::task_key&) { return lifecycle(); };
    const auto html = web::render_status_page(t, summary_at(t0 + 60), o);
    INFO(html);
    CHECK(html.find("<a href=\"/tasks/d%2F1/t%201\">name</a>") != std::string::npos);
    CHECK(html.find("data-eta=\"2025-11-30T04:05:00.000Z\"") != std::string::npos);
    CHECK(html.find("<span class=\"eta\" title=\"estimated completion 2025-11-30T04:05:00.000Z\">"
                    "≈ 4 min left</span>") != std::string::npos);
    CHECK(html.find("data-task-id=\"t 2\" data-status=\"running\" data-progress=\"0.5\" "
                    "data-up=\"1\" data-eta=\"\"") != std::string::npos);
    CHECK(html.find("<svg class=\"spark\"") != std::string::npos);
    CHECK(html.find("data-points=\"4\"") != std::string::npos);
    check_csp_friendly(html);
}

TEST_CASE("sparkline and chart points are computed from the history's times and progress") {
    const auto h = lifecycle();
    // x: seconds since the first sample over the span (240 s) times the width; y: 1 - progress.
    const auto pts = web::plot_progress(h, 240, 100);
    const std::vector<web::plot_point> want{{0, 100}, {60, 90}, {180, 45}, {240, 0}};
    REQUIRE(pts.size() == want.size());
    for (std::size_t i = 0; i < pts.size(); ++i) {
        CHECK(pts[i].x == doctest::Approx(want[i].x));
        CHECK(pts[i].y == doctest::Approx(want[i].y));
    }
    // One sample, or samples at one time, sit in the middle.
    CHECK(web::plot_progress(std::span(h).first(1), 240, 100) ==
          std::vector<web::plot_point>{{120, 100}});
    CHECK(web::plot_progress({}, 10, 10).empty());
    // Progress outside 0..1 is clamped.
    std::vector<web::history_point> wild{{at_s(0), {}, -0.5, {}}, {at_s(10), {}, 1.5, {}}};
    CHECK(web::plot_progress(wild, 10, 10) == std::vector<web::plot_point>{{0, 10}, {10, 0}});

    // The sparkline: 120 x 22 plot, one unit down from the top.
    CHECK(web::sparkline_svg(h).find("<polyline points=\"0,23 30,20.8 90,10.9 120,1\"/>") !=
          std::string::npos);
    CHECK(web::sparkline_svg({}).empty());
    CHECK(web::sparkline_svg(std::span(h).first(1)).find("<circle cx=\"119\" cy=\"23\"") !=
          std::string::npos);

    // A long history: at most a point per unit of width in the line, all counted.
    std::vector<web::history_point> many;
    for (int i = 0; i < 5000; ++i)
        many.push_back({at_s(t0 + 60 * i), task_status::running, i / 5000.0, std::nullopt});
    const auto spark = web::sparkline_svg(many);
    CHECK(spark.find("data-points=\"5000\"") != std::string::npos);
    const auto line = spark.substr(spark.find("points=\"0,"));
    const auto drawn = std::count(line.begin(), line.begin() + line.find("\"/>"), ',');
    CHECK(drawn >= 100);
    CHECK(drawn <= 122); // the first, and the last of each unit 0..120
}

TEST_CASE("the chart has one point per sample with a progress, carrying its time and value") {
    const auto h = lifecycle();
    const auto svg = web::progress_chart_svg(h, at_s(t0 + 600));
    INFO(svg);
    static const std::regex pt(
        R"re(<circle class="pt" cx="([^"]+)" cy="([^"]+)" r="2.5" data-time="([^"]+)" data-progress="([^"]+)">)re");
    std::vector<std::pair<std::string, std::string>> got;
    std::vector<double> xs;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), pt); it != std::sregex_iterator();
         ++it) {
        got.emplace_back((*it)[3], (*it)[4]);
        xs.push_back(std::stod((*it)[1]));
    }
    CHECK(got ==
          std::vector<std::pair<std::string, std::string>>{{"2025-11-30T04:00:00.000Z", "0"},
                                                           {"2025-11-30T04:01:00.000Z", "0.1"},
                                                           {"2025-11-30T04:03:00.000Z", "0.55"},
                                                           {"2025-11-30T04:04:00.000Z", "1"}});
    // Succeeded: time runs to the last sample, not to now. Plot 668 units wide from x = 40.
    CHECK(xs == std::vector<double>{40, 207, 541, 708});
    CHECK(svg.find("data-points=\"4\"") != std::string::npos);
    CHECK(svg.find("<rect class=\"seg fill st-queuing\" x=\"40\"") != std::string::npos);
    CHECK(svg.find("<rect class=\"seg fill st-running\" x=\"207\"") != std::string::npos);
    CHECK(svg.find("<rect class=\"seg fill st-succeeded\" x=\"708\"") != std::string::npos);
    CHECK(web::progress_chart_svg({}, at_s(0)).find("no progress recorded yet") !=
          std::string::npos);
    CHECK(svg.find(">04:00:00</text>") != std::string::npos); // a span of minutes: seconds
    CHECK(svg.find(">04:04:00 UTC</text>") != std::string::npos);
    // A finished task has no tail to now.
    CHECK(web::progress_chart_svg(h, at_s(t0 + 600), 1.0).find("class=\"tail\"") ==
          std::string::npos);
}

TEST_CASE("a running task's chart goes on to now at the progress the last poll saw") {
    auto h = lifecycle();
    h.pop_back(); // running at 55 % since t0 + 180 s
    // Now t0 + 360 s: the plot spans 360 s over 668 units; the last point at 180 s is x 374.
    const auto svg = web::progress_chart_svg(h, at_s(t0 + 360), 0.7);
    INFO(svg);
    CHECK(svg.find("<line class=\"tail\" x1=\"374\" y1=\"91\" x2=\"708\" y2=\"64\"/>") !=
          std::string::npos);
    CHECK(svg.find("data-points=\"3\"") != std::string::npos);
    CHECK(web::progress_chart_svg(h, at_s(t0 + 360)).find("class=\"tail\"") == std::string::npos);
}

TEST_CASE("status spells join equal statuses and end at now") {
    auto h = lifecycle();
    const auto spells = web::status_spells(h, at_s(t0 + 600));
    CHECK(spells ==
          std::vector<web::status_spell>{{task_status::queuing, at_s(t0), at_s(t0 + 60)},
                                         {task_status::running, at_s(t0 + 60), at_s(t0 + 240)},
                                         {task_status::succeeded, at_s(t0 + 240), at_s(t0 + 600)}});
    h.push_back({at_s(t0 + 300), std::nullopt, 1.0, 49}); // no status: the spell goes on
    CHECK(web::status_spells(h, at_s(t0 + 200)).back() ==
          web::status_spell{task_status::succeeded, at_s(t0 + 240), at_s(t0 + 240)});
}

TEST_CASE("the ETA reads as time left, rounded to minutes") {
    const auto now = at_s(t0);
    CHECK(web::format_eta(now + std::chrono::seconds(3), now) == "≈ any moment");
    CHECK(web::format_eta(now - std::chrono::minutes(3), now) == "≈ any moment");
    CHECK(web::format_eta(now + std::chrono::seconds(40), now) == "≈ 40 s left");
    CHECK(web::format_eta(now + std::chrono::seconds(90), now) == "≈ 2 min left");
    CHECK(web::format_eta(now + std::chrono::minutes(12), now) == "≈ 12 min left");
    CHECK(web::format_eta(now + std::chrono::minutes(185), now) == "≈ 3 h 5 min left");
    CHECK(web::format_eta(now + std::chrono::hours(2), now) == "≈ 2 h left");
    CHECK(web::format_eta(now + std::chrono::hours(60), now) == "≈ 3 days left");
}

TEST_CASE("the task page escapes a name with a script tag and quotes, labels and errors") {
    auto tt = polled("d\"1", "t<1>", "<script>alert('x')</script> \"q\"", task_status::failed, 0.5);
    tt.state.last->error_msg = "<img src=x onerror=alert(1)>";
    tt.state.last->message = "a & b";
    tt.labels = poll::shared_labels({{"team", "\"><b>bold</b>"}});
    web::task_page_input in;
    in.history_kept = true;
    in.history = lifecycle();
    task::event e;
    e.id = "evt_1";
    e.type = task::event_type::status_changed;
    e.time = at_s(t0 + 240);
    e.key = tt.state.key;
    e.previous.emplace();
    e.previous->status = task_status::running;
    e.previous->progress = 0.55;
    e.current.emplace();
    e.current->status = task_status::failed;
    e.current->progress = 0.5;
    in.events.push_back({e,
                         {{"ops<1>", "dead", 12, at_s(t0 + 900), "http_5xx <b>", std::nullopt},
                          {"am", "delivered", 0, at_s(t0 + 241), "", at_s(t0 + 241)}}});
    in.answer = state::keyed_answer{
        tt.state.key, at_s(t0 + 999),
        R"({"task_id":"t<1>","task_name":"<script>alert('x')</script>","progress":50})"};
    const auto html = web::render_task_page(tt, in, summary_at(t0 + 1000));
    INFO(html);
    CHECK(html.find("<script>") == std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    CHECK(html.find("<b>bold</b>") == std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;q&quot;") !=
          std::string::npos);
    CHECK(html.find("<title>&lt;script&gt;") != std::string::npos);
    CHECK(html.find("a &amp; b") != std::string::npos);
    // The JSON of the last known state is escaped too.
    CHECK(html.find("&quot;task_name&quot;: &quot;&lt;script&gt;") != std::string::npos);
    CHECK(html.find("data-dataset-id=\"d&quot;1\" data-task-id=\"t&lt;1&gt;\"") !=
          std::string::npos);
    CHECK(html.find("data-webhook=\"ops&lt;1&gt;\" data-state=\"dead\"") != std::string::npos);
    CHECK(html.find("ops&lt;1&gt;: dead (12 failed attempts)") != std::string::npos);
    CHECK(html.find("last error: http_5xx &lt;b&gt;") != std::string::npos);
    CHECK(html.find("title=\"delivered 2025-11-30T04:04:01.000Z\">am: delivered</span>") !=
          std::string::npos);
    CHECK(html.find("running 55% → failed 50%") != std::string::npos);
    // The raw answer, pretty-printed and escaped, with the time of its poll.
    const auto raw = html.find("<section id=\"raw-answer\">");
    REQUIRE(raw != std::string::npos);
    CHECK(html.find("GET of 2025-11-30T04:16:39", raw) != std::string::npos);
    CHECK(html.find("&quot;progress&quot;: 50", raw) != std::string::npos);
    CHECK(html.find("&quot;task_id&quot;: &quot;t&lt;1&gt;&quot;", raw) != std::string::npos);
    check_csp_friendly(html);

    SUBCASE("a body that is not JSON is shown as it came, escaped") {
        in.answer->body = "not json <b>";
        const auto odd = web::render_task_page(tt, in, summary_at(t0 + 1000));
        CHECK(odd.find("not json &lt;b&gt;</pre>") != std::string::npos);
    }
}

TEST_CASE("the task page shows the chart, the status timeline, the last error and the ETA") {
    auto tt = polled("d1", "t1", "cats", task_status::running, 0.5);
    tt.state.last_error = task::poll_error{"timeout", "", "", ""};
    tt.state.up = false;
    run_steadily(tt);
    web::task_page_input in;
    in.history_kept = true;
    in.history = lifecycle();
    in.history.pop_back(); // still running
    const auto html = web::render_task_page(tt, in, summary_at(t0 + 300));
    INFO(html);
    CHECK(html.find("<svg class=\"chart\"") != std::string::npos);
    CHECK(html.find("data-points=\"3\"") != std::string::npos);
    CHECK(html.find("data-eta=\"2025-11-30T04:05:00.000Z\"") != std::string::npos);
    CHECK(html.find(">≈ any moment</span>") != std::string::npos); // now is the ETA
    CHECK(html.find("100.0 samples/min") != std::string::npos);
    CHECK(html.find("<b>poll: timeout</b>") != std::string::npos);
    // Newest spell first, with how long it has lasted so far.
    const auto running = html.find("<li data-status=\"running\" data-from=\"2025-11-30T04:01:00");
    const auto queuing = html.find("<li data-status=\"queuing\" data-from=\"2025-11-30T04:00:00");
    REQUIRE(running != std::string::npos);
    REQUIRE(queuing != std::string::npos);
    CHECK(running < queuing);
    CHECK(html.find("for 4 min so far") != std::string::npos);

    web::task_page_input none;
    const auto bare = web::render_task_page(tt, none, summary_at(t0));
    CHECK(bare.find("keeps no history") != std::string::npos);
    CHECK(bare.find("No event recorded.") != std::string::npos);
    CHECK(bare.find("none stored yet") != std::string::npos);
}

TEST_CASE("routes: a task page for a watched task, a 404 page for others, the static files") {
    auto tasks = ranked_tasks();
    add(tasks, polled("d 1/x", "t%1", "odd ids", task_status::running, 0.5));
    web::site s;
    s.version = "1.2.3";
    s.tasks = [&]() -> const poll::task_view& { return tasks; };
    s.history = [](const task::task_key&) { return lifecycle(); };

    auto r = get(s, "/tasks/d1/t-run");
    CHECK(r.response.result_int() == 200);
    CHECK(r.response[bhttp::field::content_type] == "text/html; charset=utf-8");
    CHECK(r.response.body().find("<h1 id=\"task-name\">b-running</h1>") != std::string::npos);
    CHECK(r.response.body().find("<svg class=\"chart\"") != std::string::npos);

    // The status page's link for the odd ids leads to their page.
    const auto status = get(s, "/?q=odd").response.body();
    std::smatch m;
    REQUIRE(std::regex_search(status, m, std::regex("<a href=\"(/tasks/[^\"]+)\">odd ids</a>")));
    CHECK(m[1] == "/tasks/d%201%2Fx/t%251");
    CHECK(get(s, m[1]).response.body().find(">odd ids</h1>") != std::string::npos);

    for (const char* bad : {"/tasks/d1/nope", "/tasks/nope/t-run", "/tasks/d1", "/tasks/",
                            "/tasks/d1/t-run/x", "/tasks/d1/%zz", "/tasks//t-run"}) {
        CAPTURE(bad);
        auto nf = get(s, bad);
        CHECK(nf.response.result_int() == 404);
        CHECK(nf.response[bhttp::field::content_type] == "text/html; charset=utf-8");
        CHECK(nf.response.body().find("<a href=\"/\">Back to every task</a>") != std::string::npos);
    }
    CHECK(get(s, "/tasks/d1/%3Cscript%3E")
              .response.body()
              .find("No watched task &lt;script&gt; "
                    "in dataset d1.") != std::string::npos);

    auto css = get(s, "/static/taskwatch.css?v=1.2.3");
    CHECK(css.response.result_int() == 200);
    CHECK(css.response[bhttp::field::content_type] == "text/css; charset=utf-8");
    CHECK(css.response.body().find("prefers-color-scheme:dark") != std::string::npos);
    CHECK(css.response.body().find("@media (max-width:720px)") != std::string::npos);
    auto js = get(s, "/static/taskwatch.js");
    CHECK(js.response.result_int() == 200);
    CHECK(js.response[bhttp::field::content_type] == "text/javascript; charset=utf-8");
    CHECK(js.response[bhttp::field::cache_control] == "max-age=86400");
    CHECK(get(s, "/static/other.js").response.result_int() == 404);

    const auto home = get(s, "/").response.body();
    check_csp_friendly(home);
    CHECK(home.find("<link rel=\"stylesheet\" href=\"" + web::style_sheet_path() + "\">") !=
          std::string::npos);
    CHECK(std::regex_match(web::style_sheet_path(),
                           std::regex(R"(/static/taskwatch\.css\?h=[0-9a-f]{16})")));
    CHECK(web::style_sheet_path() != web::page_script_path());
    CHECK(home.find("<noscript><meta http-equiv=\"refresh\" content=\"15\"></noscript>") !=
          std::string::npos);
    CHECK(home.find("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">") !=
          std::string::npos);
}
