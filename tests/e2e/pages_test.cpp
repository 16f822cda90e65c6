// The status page and a task page as headless Chromium renders them from the real daemon
// watching a real modelarts-sim: one task driven through its lifecycle (queuing, initializing,
// running in steps, succeeded) shows its ETA, its sparkline and a chart whose points are the
// history GET /api/v1/tasks/{dataset_id}/{task_id} reports; screenshots of both pages, light
// and dark, desktop and phone, are left in the suite's artefacts (support/browser.hpp). Also: the
// pages' script under a strict Content-Security-Policy, and the search box typed into
// (support/browser_typing.py drives Chromium over the DevTools protocol).
#include "support/browser.hpp"
#include "support/daemon.hpp"
#include "support/receiver.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cmath>
#include <regex>
#include <set>
#include <vector>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;
namespace json = boost::json;

constexpr const char* lifecycle_id = "lifecycle0000000001";
// Everything an HTML page must escape, in the one field people type.
constexpr const char* hostile_name = "cats <script>alert(\"x\")</script> & 'dogs'";

/// The task `id` as GET /api/v1/tasks has it; null when it is not listed.
json::value api_task(served_daemon& w, const std::string& id) {
    const auto r = w.get("/api/v1/tasks");
    if (r.status != 200) return nullptr;
    const auto all = json::parse(r.body);
    for (const auto& t : all.as_array())
        if (string_of(t.at("task_id")) == id) return t;
    return nullptr;
}

/// (time, progress) of each history point that has a progress, as the API reports them.
std::vector<std::pair<std::string, double>> api_history(served_daemon& w,
                                                        const std::string& dataset) {
    const auto r = w.get("/api/v1/tasks/" + dataset + "/" + lifecycle_id);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    std::vector<std::pair<std::string, double>> out;
    const auto v = json::parse(r.body);
    for (const auto& p : v.at("history").as_array())
        if (!p.at("progress").is_null())
            out.emplace_back(string_of(p.at("time")), p.at("progress").to_number<double>());
    return out;
}

/// (data-time, data-progress) of each point of the task page's chart.
std::vector<std::pair<std::string, double>> chart_points(const std::string& dom) {
    static const std::regex pt(
        R"re(<circle class="pt"[^>]* data-time="([^"]+)" data-progress="([^"]+)")re");
    std::vector<std::pair<std::string, double>> out;
    for (auto it = std::sregex_iterator(dom.begin(), dom.end(), pt); it != std::sregex_iterator();
         ++it)
        out.emplace_back((*it)[1], std::stod((*it)[2]));
    return out;
}

/// The status page's row of the lifecycle task, from its <tr> to its </tr>.
std::string lifecycle_row(const std::string& dom) {
    const auto at = dom.find(std::string("data-task-id=\"") + lifecycle_id + "\"");
    if (at == std::string::npos) return {};
    const auto start = dom.rfind("<tr", at);
    return dom.substr(start, dom.find("</tr>", at) - start);
}

} // namespace

TEST_CASE_FIXTURE(
    static_sim<6>,
    "headless Chromium: a task driven through its lifecycle shows its ETA and sparkline on the "
    "status page and a chart of its stored history on its page - screenshots light and dark, "
    "desktop and phone") {
    browser chromium;
    // Variety for the screenshots: one task running, one failed with its reason.
    sim.control(verb::patch, "/sim/tasks/" + string_of(tasks.at(0).at("task_id")),
                R"({"status":"running","progress":42.5,"total_sample_count":200,)"
                R"("annotated_sample_count":85})");
    sim.control(verb::patch, "/sim/tasks/" + string_of(tasks.at(1).at("task_id")),
                R"({"status":"failed","progress":63.1,"error_code":"ModelArts.4355",)"
                R"("error_msg":"inference failed"})");
    json::object spec{
        {"dataset_id", dataset},      {"task_id", lifecycle_id}, {"task_name", hostile_name},
        {"status", "queuing"},        {"progress", 0.0},         {"total_sample_count", 1000},
        {"annotated_sample_count", 0}};
    sim.control(verb::post, "/sim/tasks", json::serialize(spec));
    served_daemon w(sim, dataset, state.str());

    auto seen = [&](const std::string& status, double progress) {
        return wait_until(
            [&] {
                const auto t = api_task(w, lifecycle_id);
                return t.is_object() && t.at("status") == status.c_str() &&
                       t.at("progress").is_number() &&
                       std::abs(t.at("progress").to_number<double>() - progress) < 1e-9;
            },
            15s);
    };
    auto patch = [&](const std::string& body) {
        sim.control(verb::patch, std::string("/sim/tasks/") + lifecycle_id, body);
    };
    REQUIRE_MESSAGE(seen("queuing", 0), w.d.proc->stderr_text());
    patch(R"({"status":"initializing"})");
    REQUIRE(seen("initializing", 0));
    patch(R"({"status":"running","progress":2.0,"annotated_sample_count":20})");
    REQUIRE(seen("running", 0.02));

    // The task labels 5 % every 2 s until the daemon has an ETA for it (two intervals between
    // steps) and it is about half done (a line worth a screenshot): this is the task's pace,
    // not a wait for the daemon.
    double progress = 2;
    auto last_step = std::chrono::steady_clock::now();
    json::value with_eta;
    REQUIRE_MESSAGE(
        wait_until(
            [&] {
                with_eta = api_task(w, lifecycle_id);
                if (with_eta.is_object() && with_eta.at("eta").is_string() && progress >= 47 &&
                    with_eta.at("progress").to_number<double>() * 100 >= progress - 1e-6)
                    return true;
                if (std::chrono::steady_clock::now() - last_step >= 2s && progress < 90) {
                    progress += 5;
                    patch("{\"progress\":" + std::to_string(progress) +
                          ",\"annotated_sample_count\":" +
                          std::to_string(static_cast<int>(progress * 10)) + "}");
                    last_step = std::chrono::steady_clock::now();
                }
                return false;
            },
            100s, 200ms),
        "no ETA after " << progress << "%: " << json::serialize(with_eta));
    MESSAGE("ETA " << json::serialize(with_eta.at("eta")) << " at " << progress << "%");

    const auto base = "http://127.0.0.1:" + std::to_string(w.http.port);
    const auto task_url = base + "/tasks/" + dataset + "/" + lifecycle_id;

    // The status page: the row has its ETA and a sparkline; the name is text, not markup.
    const auto status_dom = chromium.dom(base + "/");
    const auto row = lifecycle_row(status_dom);
    INFO(row);
    REQUIRE_FALSE(row.empty());
    std::smatch m;
    // An RFC 3339 time (the estimate moves with each poll, so not the API's of a moment ago).
    CHECK(std::regex_search(row, m, std::regex(R"re(data-eta="\d{4}-\d\d-\d\dT[0-9:.]+Z")re")));
    CHECK(std::regex_search(row, std::regex(R"(<span class="eta"[^>]*>≈ [^<]+</span>)")));
    CHECK(row.find("<svg class=\"spark\"") != std::string::npos);
    CHECK(row.find("<polyline points=\"") != std::string::npos);
    CHECK(row.find("cats &lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; 'dogs'") !=
          std::string::npos);
    CHECK(row.find("href=\"/tasks/" + dataset + "/" + lifecycle_id + "\"") != std::string::npos);
    // Failed first, then running (the lifecycle task among them).
    const auto failed_at = status_dom.find("data-status=\"failed\"");
    const auto running_at = status_dom.find("data-status=\"running\"");
    CHECK(failed_at < running_at);

    // The script refreshes the page in place every 15 s with the same query: after 31 s of
    // Chromium's virtual time it has swapped the rows twice, and they are still the filtered
    // ones (the failed task is not among them, the lifecycle task is).
    const auto live = chromium.dom(base + "/?status=running", {}, 31s);
    CHECK(live.find("<html lang=\"en\" data-refreshes=\"2\">") != std::string::npos);
    CHECK_FALSE(lifecycle_row(live).empty());
    CHECK(live.find("data-status=\"failed\"") == std::string::npos);

    // The task page while it runs: the ETA and the chart.
    const auto running_dom = chromium.dom(task_url);
    CHECK(running_dom.find("<svg class=\"chart\"") != std::string::npos);
    CHECK(std::regex_search(running_dom, std::regex(R"(id="eta"[^>]*>≈ [^<]+</span>)")));
    // Only the page's own script: the task name did not become one.
    std::size_t scripts = 0;
    for (auto at = running_dom.find("<script"); at != std::string::npos;
         at = running_dom.find("<script", at + 1))
        ++scripts;
    CHECK(scripts == 1);

    // Screenshots of both pages while the task runs: light and dark, desktop and phone.
    const auto dir = screenshot_dir();
    MESSAGE("screenshots in " << dir);
    for (const viewport& v : {viewport{1280, 900, false}, viewport{1280, 900, true},
                              viewport{390, 844, false}, viewport{390, 844, true}}) {
        for (const auto& [page, url] :
             {std::pair<std::string, std::string>{"status", base + "/"}, {"task", task_url}}) {
            const auto file = dir + "/" + page + "-" + v.name() + ".png";
            chromium.screenshot(url, v, file);
            CHECK(png_size(file) ==
                  std::pair{static_cast<unsigned>(v.width), static_cast<unsigned>(v.height)});
        }
    }

    // It finishes; the chart's points are then the stored history, point for point. The
    // history is read before and after the page, so that a point added between is noticed.
    patch(R"({"status":"succeeded","progress":100.0,"annotated_sample_count":1000})");
    REQUIRE(seen("succeeded", 1));
    std::vector<std::pair<std::string, double>> before, drawn, after;
    CHECK(wait_until(
        [&] {
            before = api_history(w, dataset);
            drawn = chart_points(chromium.dom(task_url));
            after = api_history(w, dataset);
            return before == after;
        },
        30s, 0ms));
    INFO("history " << before.size() << " points, chart " << drawn.size());
    REQUIRE(before.size() >= 4); // queuing, initializing, running, ..., succeeded
    REQUIRE(drawn.size() == before.size());
    for (std::size_t i = 0; i < drawn.size(); ++i) {
        CAPTURE(i);
        CHECK(drawn[i].first == before[i].first);
        CHECK(drawn[i].second == doctest::Approx(before[i].second));
    }
    CHECK(before.back().second == doctest::Approx(1.0));

    // The raw answer of the poll that saw it finish: the simulator's body, pretty-printed.
    const std::regex finished_answer(
        R"re(<section id="raw-answer">[\s\S]*"progress": 100(\.0)?,)re");
    std::string answer_dom;
    CHECK(wait_until(
        [&] {
            answer_dom = chromium.dom(task_url);
            return std::regex_search(answer_dom, finished_answer);
        },
        15s, 0ms));
    const auto raw = answer_dom.find("<section id=\"raw-answer\">");
    REQUIRE(raw != std::string::npos);
    CHECK(answer_dom.find("\"task_id\": \"" + std::string(lifecycle_id) + "\"", raw) !=
          std::string::npos);
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(static_sim<3>,
                  "with Content-Security-Policy default-src 'self' from the web config the pages' "
                  "script still runs: the status page and a task page refresh in place") {
    browser chromium;
    daemon_options o;
    o.web_config_file =
        sim.dir.write("web.yml", "http_server_config:\n  headers:\n"
                                 "    Content-Security-Policy: \"default-src 'self'\"\n");
    served_daemon w(sim, dataset, state.str(), o);
    REQUIRE(wait_until([&] { return w.get("/-/ready").status == 200; }, 15s));
    const auto page = w.get("/");
    REQUIRE(page.status == 200);
    CHECK(page.header("Content-Security-Policy") == "default-src 'self'");

    const auto base = "http://127.0.0.1:" + std::to_string(w.http.port);
    const auto id = string_of(tasks.at(0).at("task_id"));
    for (const auto& url : {base + "/", base + "/tasks/" + dataset + "/" + id}) {
        CAPTURE(url);
        // A blocked script would leave the page as served: no refresh mark.
        const auto dom = chromium.dom(url, {}, 16s);
        CHECK(dom.find("<html lang=\"en\" data-refreshes=\"1\">") != std::string::npos);
        CHECK(dom.find("data-task-id=\"" + id + "\"") != std::string::npos);
    }
    CHECK(w.d.stop() == 0);
}

TEST_CASE_FIXTURE(static_sim<6>,
                  "typing in the status page's search box filters the rows in place and puts the "
                  "query in the address") {
    browser chromium; // fails first when Chromium is missing
    served_daemon w(sim, dataset, state.str());
    REQUIRE(wait_until([&] { return w.get("/-/ready").status == 200; }, 15s));
    const auto name = string_of(tasks.at(0).at("task_name"));
    std::set<std::string> want;
    for (const auto& t : tasks)
        if (string_of(t.at("task_name")).find(name) != std::string::npos)
            want.insert(string_of(t.at("task_id")));
    REQUIRE_FALSE(want.empty());
    REQUIRE(want.size() < tasks.size());

    temp_dir profile("typing");
    const auto r = run_command(
        "/usr/bin/python3",
        {support_file("browser_typing.py"), "/usr/bin/chromium", profile.str(),
         "http://127.0.0.1:" + std::to_string(w.http.port) + "/", "#filters input[name=q]", name},
        {}, 60s);
    REQUIRE_MESSAGE(r.status == 0, r.out << r.err);
    const auto typed = json::parse(r.out);
    INFO("typed " << name << ", address " << string_of(typed.at("url")));
    CHECK(string_of(typed.at("url")).ends_with("/?q=" + name));
    CHECK(typed.at("refreshes").to_number<int>() >= 1); // in place: no page load
    const auto dom = string_of(typed.at("dom"));
    std::set<std::string> shown;
    static const std::regex row(R"re(<tr id="task-[^"]*" [^>]*data-task-id="([^"]*)")re");
    for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator();
         ++it)
        shown.insert((*it)[1]);
    CHECK(shown == want);
    CHECK(w.d.stop() == 0);
}
