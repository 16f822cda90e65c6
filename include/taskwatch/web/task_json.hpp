// GET /api/v1/tasks: every watched task's last known state as JSON (CONTRACT "HTTP API").
// Pure functions of the task map; no secret is ever part of a task's state.
#pragma once

#include "taskwatch/poll/task_view.hpp"

#include <string>

namespace taskwatch::web {

/// RFC 3339 in UTC with milliseconds: "2026-11-30T04:00:00.250Z".
std::string format_rfc3339(task::time_point t);

/// Appends one task as a JSON object: project_id, dataset_id, task_id, task_name, labels,
/// status, status_code, progress, up, stalled, created, last_change, last_poll, eta, rate,
/// last_error, result, resource_id, algorithm_type, code, message, error_code, error_msg. Before
/// the first successful poll, everything the poll would have told is null. `eta` (RFC 3339) and
/// `rate` ({"progress_per_second", "samples_per_second"}) are null until the estimator has
/// enough data, and again once the task stops running.
void append_task_json(std::string& out, const poll::watched_task& tt);

/// The body of GET /api/v1/tasks: a JSON array ordered by project, dataset and task id, with
/// forgotten and gone tasks left out.
std::string tasks_json(const poll::task_view& tasks);

} // namespace taskwatch::web
