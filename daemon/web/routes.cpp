#include "taskwatch/web/routes.hpp"

#include "taskwatch/detail/percent.hpp"

#include "taskwatch/web/status_page.hpp"
#include "taskwatch/web/task_json.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <memory>

namespace taskwatch::web {
namespace bhttp = boost::beast::http;

namespace {

http::reply answer(bhttp::status status, std::string_view content_type, std::string body) {
    http::server_response res{status, 11};
    res.set(bhttp::field::content_type, content_type);
    // Everything here describes the moment of the request.
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = std::move(body);
    return http::reply::respond(std::move(res));
}

http::reply text(bhttp::status status, std::string body) {
    return answer(status, "text/plain; charset=utf-8", std::move(body));
}

// Line breaks (an SQLite message may hold one) would break the one-line answer.
std::string one_line(std::string s) {
    for (auto& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

// [{"webhook","format","urls","queue_length","oldest_pending","dead_letters","delivered",
//   "failures":{reason:n},"last_success","last_failure","last_error","disabled","in_flight"}]
std::string deliveries_json(const std::vector<webhook_deliveries>& hooks) {
    boost::json::array out;
    for (const auto& h : hooks) {
        boost::json::object o;
        o["webhook"] = h.status.name;
        o["format"] = h.status.format;
        boost::json::array urls;
        for (const auto& u : h.status.urls)
            urls.emplace_back(u);
        o["urls"] = std::move(urls);
        o["queue_length"] = h.queue_length;
        o["oldest_pending"] = h.oldest_pending
                                  ? boost::json::value(format_rfc3339(*h.oldest_pending))
                                  : boost::json::value(nullptr);
        o["dead_letters"] = h.dead_letters;
        o["delivered"] = h.status.delivered;
        boost::json::object failures;
        for (const auto& [reason, n] : h.status.failures)
            failures[reason] = n;
        o["failures"] = std::move(failures);
        auto when = [](const std::optional<task::time_point>& t) {
            return t ? boost::json::value(format_rfc3339(*t)) : boost::json::value(nullptr);
        };
        o["last_success"] = when(h.status.last_success);
        o["last_failure"] = when(h.status.last_failure);
        o["last_error"] = h.status.last_error.empty() ? boost::json::value(nullptr)
                                                      : boost::json::value(h.status.last_error);
        o["disabled"] = h.status.disabled;
        o["in_flight"] = h.status.in_flight;
        out.push_back(std::move(o));
    }
    return boost::json::serialize(out) + "\n";
}

constexpr std::string_view static_css = "/static/taskwatch.css";
constexpr std::string_view static_js = "/static/taskwatch.js";

// GET /api/v1/tasks/{dataset_id}/{task_id} (`rest`: the part after /api/v1/tasks/, each id
// percent-encoded): 404 for a task not watched, 503 when the store cannot be read.
http::reply task_answer(const site& s, const poll::task_view& tasks, std::string_view rest) {
    const auto slash = rest.find('/');
    const auto not_found = [] {
        return text(bhttp::status::not_found,
                    "404 no such task: use /api/v1/tasks/{dataset_id}/{task_id} of a watched "
                    "task\n");
    };
    if (slash == std::string_view::npos) return not_found();
    const auto dataset_id = detail::percent_decode(rest.substr(0, slash));
    const auto task_id = detail::percent_decode(rest.substr(slash + 1));
    if (!dataset_id || !task_id || dataset_id->empty() || task_id->empty() ||
        task_id->find('/') != std::string::npos)
        return not_found();
    const auto* task = find_task(tasks, *dataset_id, *task_id);
    if (!task) return not_found();
    try {
        auto history = s.history ? s.history(task->state.key) : std::vector<state::history_point>{};
        auto events = s.events ? s.events(task->state.key) : std::vector<state::event_record>{};
        return answer(bhttp::status::ok, "application/json",
                      task_detail_json(*task, history, events));
    } catch (const state::store_error& e) {
        return text(bhttp::status::service_unavailable,
                    "cannot read the state database: " + one_line(e.reason()) + "\n");
    }
}

boost::asio::awaitable<http::reply> async_ready(http::reply r) {
    co_return r;
}

} // namespace

http::reply respond(const site& s, const http::request_context& request) {
    auto path = request.target();
    std::string_view query;
    if (auto q = path.find_first_of("?#"); q != std::string_view::npos) {
        if (path[q] == '?') query = path.substr(q + 1, path.find('#', q) - q - 1);
        path = path.substr(0, q);
    }

    constexpr std::string_view task_prefix = "/api/v1/tasks/";
    const bool one_task = path.starts_with(task_prefix);
    const bool task_page = path.starts_with("/tasks/");
    const bool known = path == "/" || path == "/metrics" || path == "/api/v1/tasks" ||
                       path == "/api/v1/deliveries" || path == "/-/healthy" || path == "/-/ready" ||
                       path == static_css || path == static_js || one_task || task_page;
    if (!known || (path == "/metrics" && !s.metrics))
        return text(bhttp::status::not_found, "404 page not found\n");
    const auto method = request.method();
    if (method != bhttp::verb::get && method != bhttp::verb::head) {
        auto r =
            text(bhttp::status::method_not_allowed, "405 method not allowed: use GET or HEAD\n");
        r.response.set(bhttp::field::allow, "GET, HEAD");
        return r;
    }

    if (path == "/-/healthy") return text(bhttp::status::ok, "taskwatchd is healthy.\n");
    if (path == "/-/ready") {
        // A state database that cannot be written comes first: events wait in memory only.
        if (s.stats && !s.stats().store_problem.empty())
            return text(bhttp::status::service_unavailable,
                        "taskwatchd is not ready: cannot write the state database: " +
                            one_line(s.stats().store_problem) + "\n");
        if (s.ready && s.ready()) return text(bhttp::status::ok, "taskwatchd is ready.\n");
        return text(bhttp::status::service_unavailable,
                    "taskwatchd is not ready: the first poll round has not finished.\n");
    }
    if (path == "/metrics") {
        if (s.metrics_stream) {
            auto r = answer(bhttp::status::ok, metrics::content_type, {});
            r.stream = s.metrics_stream();
            return r;
        }
        return answer(bhttp::status::ok, metrics::content_type, s.metrics());
    }

    if (path == static_css || path == static_js) {
        // The pages ask for them with a hash of their content (?h=): a day of caching is safe.
        auto r = answer(bhttp::status::ok,
                        path == static_css ? "text/css; charset=utf-8"
                                           : "text/javascript; charset=utf-8",
                        std::string(path == static_css ? style_sheet() : page_script()));
        r.response.set(bhttp::field::cache_control, "max-age=86400");
        return r;
    }

    static const poll::task_table no_tasks;
    const auto& tasks = s.tasks ? s.tasks() : no_tasks;
    if (path == "/api/v1/deliveries")
        return answer(
            bhttp::status::ok, "application/json",
            deliveries_json(s.deliveries ? s.deliveries() : std::vector<webhook_deliveries>{}));
    if (path == "/api/v1/tasks")
        return answer(bhttp::status::ok, "application/json", tasks_json(tasks));
    if (one_task) return task_answer(s, tasks, path.substr(task_prefix.size()));

    page_summary sum;
    sum.version = s.version;
    sum.now = s.now ? s.now() : std::chrono::system_clock::now();
    if (task_page) {
        const auto ids = parse_task_path(path);
        const auto* found = ids ? find_task(tasks, ids->first, ids->second) : nullptr;
        if (!found)
            return answer(
                bhttp::status::not_found, "text/html; charset=utf-8",
                render_not_found_page(
                    ids ? "No watched task " + ids->second + " in dataset " + ids->first + "."
                        : std::string("A task's page is /tasks/DATASET_ID/TASK_ID."),
                    s.version));
        task_page_input in;
        in.history_kept = static_cast<bool>(s.history);
        try {
            if (s.history) in.history = s.history(found->state.key);
            if (s.events) in.events = s.events(found->state.key);
            if (s.answer) in.answer = s.answer(found->state.key);
        } catch (const state::store_error& e) {
            in.store_problem = one_line(e.reason());
        }
        return answer(bhttp::status::ok, "text/html; charset=utf-8",
                      render_task_page(*found, in, sum));
    }
    if (s.stats) {
        sum.polls = s.stats().polls;
        sum.poll_failures = s.stats().poll_failures;
    }
    sum.ready = s.ready && s.ready();
    if (s.stats) {
        sum.store_problem = s.stats().store_problem;
        for (const auto& [target, error] : s.stats().discovery)
            if (!error.empty())
                sum.discovery_problems.push_back("dataset " + target.second + " (project " +
                                                 target.first + "): " + one_line(error));
    }
    page_options opt;
    opt.query = parse_page_query(query);
    if (s.history || s.recent_history) {
        // A store that cannot be read costs the sparklines, not the page (nor one failing
        // read per row). A sparkline shows the last day.
        const auto since = std::chrono::system_clock::now() - std::chrono::hours(24);
        opt.history = [&s, since, failed = false](const task::task_key& key) mutable {
            if (failed) return std::vector<history_point>{};
            try {
                return s.recent_history ? s.recent_history(key, since) : s.history(key);
            } catch (const state::store_error&) {
                failed = true;
                return std::vector<history_point>{};
            }
        };
    }
    return answer(bhttp::status::ok, "text/html; charset=utf-8",
                  render_status_page(tasks, sum, opt));
}

http::handler make_handler(site s) {
    auto shared = std::make_shared<const site>(std::move(s));
    return [shared](const http::request_context& request) {
        return async_ready(respond(*shared, request));
    };
}

} // namespace taskwatch::web
