// The daemon's HTTP routes: /metrics, /api/v1/tasks, /api/v1/tasks/{dataset_id}/{task_id},
// /api/v1/deliveries, /-/healthy, /-/ready, / (the status page), /tasks/{dataset_id}/{task_id}
// (a task's page) and the pages' style sheet and script under /static/. 404 for other paths,
// 405 with Allow for methods other than GET and HEAD (the server answers HEAD with the GET's
// headers and no body).
//
// make_handler returns a plain http::handler so that a request guard (web_config_file: basic
// auth) can wrap it without the routes knowing.
#pragma once

#include "taskwatch/http/server.hpp"
#include "taskwatch/metrics/collector.hpp"
#include "taskwatch/notify/notifier.hpp"
#include "taskwatch/web/task_page.hpp"

#include <functional>
#include <optional>
#include <string>

namespace taskwatch::web {

/// One webhook as GET /api/v1/deliveries shows it: its queue in the outbox and what its
/// deliveries did since start.
struct webhook_deliveries {
    notify::webhook_status status;
    std::size_t queue_length = 0;
    std::optional<task::time_point> oldest_pending;
    std::size_t dead_letters = 0;
};

/// What the routes read at request time, on the io_context's thread.
struct site {
    /// The text served at /metrics (metrics::collector::render); empty: /metrics answers 404.
    std::function<std::string()> metrics;
    /// When set, /metrics is sent in pieces from this (metrics::collector::stream) instead.
    std::function<http::body_stream()> metrics_stream;
    std::function<const poll::task_view&()> tasks;
    std::function<const poll::watcher_stats&()> stats; ///< empty: zeros on the status page
    /// GET /api/v1/deliveries; empty: [] (no notifier).
    std::function<std::vector<webhook_deliveries>()> deliveries;
    /// GET /api/v1/tasks/{dataset_id}/{task_id} and the pages: the task's stored history points
    /// and its events with their deliveries (state::store::history, task_events); empty: none.
    /// May throw state::store_error (the API answers 503 with one line, the task page says so,
    /// the status page leaves its sparklines out).
    std::function<std::vector<state::history_point>(const task::task_key&)> history;
    /// The status page's sparklines: the task's points since a time (the last day), so that a
    /// row costs the same for a task watched for weeks; empty: `history` is used.
    std::function<std::vector<state::history_point>(const task::task_key&, task::time_point)>
        recent_history;
    std::function<std::vector<state::event_record>(const task::task_key&)> events;
    /// The task page's last API answer (state::store::last_answer); empty: none shown.
    std::function<std::optional<state::keyed_answer>(const task::task_key&)> answer;
    /// /-/ready: true once the configuration is loaded and the first poll round finished.
    std::function<bool()> ready;
    std::function<task::time_point()> now = [] { return std::chrono::system_clock::now(); };
    std::string version = TASKWATCH_VERSION;
};

/// The answer to one request (synchronous; what the handler returns).
http::reply respond(const site& s, const http::request_context& request);

/// The routes as an http::handler for http::server.
http::handler make_handler(site s);

} // namespace taskwatch::web
