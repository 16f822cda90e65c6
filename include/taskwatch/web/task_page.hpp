// GET /tasks/{dataset_id}/{task_id}: one task for people. Its progress over time as a chart
// drawn on the server (chart.hpp), the status timeline, the events with each webhook's
// delivery state, the last error and the last known state as the API answered it (pretty JSON,
// escaped; it holds no secret: only what GET /api/v1/tasks shows). Same frame, style sheet and
// script as the status page; a 404 page for a task that is not watched.
#pragma once

#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/web/chart.hpp"
#include "taskwatch/web/status_page.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::web {

/// What the task page shows besides the task's published state (and its estimate).
struct task_page_input {
    std::vector<history_point> history;      ///< oldest first
    std::vector<state::event_record> events; ///< oldest first
    bool history_kept = false;               ///< false: the daemon keeps none; the page says so
    std::string store_problem;               ///< why history and events could not be read
    /// The task's last stored API answer (the raw body, secrets none: ModelArts sends none in
    /// a task); nullopt: none stored yet.
    std::optional<state::keyed_answer> answer;
};

std::string render_task_page(const poll::watched_task& tt, const task_page_input& in,
                             const page_summary& s);

/// The 404 page: `what` (escaped) could not be found; a link back to the status page.
std::string render_not_found_page(std::string_view what, std::string_view version);

/// The key parts of `/tasks/{dataset_id}/{task_id}` (percent-decoded), or nullopt when `path`
/// does not have that shape.
std::optional<std::pair<std::string, std::string>> parse_task_path(std::string_view path);

} // namespace taskwatch::web
