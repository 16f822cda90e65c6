// GET /api/v1/tasks: every watched task's last known state as JSON (CONTRACT "HTTP API"), and
// GET /api/v1/tasks/{dataset_id}/{task_id}: one task with its history and events.
// Pure functions of the task map and what the store read; no secret is ever part of them.
#pragma once

#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/state/store.hpp"

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

/// The body of GET /api/v1/tasks/{dataset_id}/{task_id}: the task's object as in tasks_json
/// with two more members:
///  "history": [{"time": RFC 3339, "status": name|null, "progress": 0..1|null,
///               "annotated": n|null}, ...] oldest first,
///  "events": [{"id", "type", "time", "previous": snapshot|null, "current": snapshot|null,
///              "error": {reason, error_code, error_msg, request_id}|null,
///              "deliveries": [{"webhook", "state": "pending"|"delivered"|"dead", "attempts",
///                              "next_attempt_at": RFC 3339|null (pending only),
///                              "delivered_at": RFC 3339|null, "last_error": text|null}]}]
/// oldest first (a snapshot as in the webhook body: status, status_code, progress, code, ...).
std::string task_detail_json(const poll::watched_task& task,
                             const std::vector<state::history_point>& history,
                             const std::vector<state::event_record>& events);

/// The watched task of `dataset_id` and `task_id` (the first in key order if two projects
/// share them); nullptr when there is none.
const poll::watched_task* find_task(const poll::task_view& tasks, std::string_view dataset_id,
                                    std::string_view task_id);

} // namespace taskwatch::web
