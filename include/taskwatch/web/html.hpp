// What the status page and the task page share: escaping, the style sheet and the script served
// beside them (/static/: no inline code, so a `Content-Security-Policy: default-src 'self'` in
// the web config leaves them working), status badges, times, the page frame.
#pragma once

#include "taskwatch/poll/task_view.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::web {

/// Escapes & < > " ' for text and attribute values.
std::string html_escape(std::string_view text);
/// html_escape(text) appended to `out`.
void append_escaped(std::string& out, std::string_view text);

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago".
std::string format_relative(task::time_point then, task::time_point now);

/// "≈ 12 min left", "≈ 40 s left", "≈ 3 h 5 min left", "≈ 2 days left"; "≈ any moment" once
/// `eta` has passed.
std::string format_eta(task::time_point eta, task::time_point now);

/// The CSS at /static/taskwatch.css and the script at /static/taskwatch.js.
std::string_view style_sheet();
std::string_view page_script();
/// Paths of the two, with a hash of their content as the query: a browser may cache them, and
/// fetches them anew once they change.
std::string style_sheet_path();
std::string page_script_path();

/// The status name a page shows for a task: the metrics' name, "unknown" when not seen yet or
/// a code outside -1..5.
std::string status_name(const poll::watched_task& tt);

/// The data attributes both pages put on a task, which the page script and the tests read:
/// ` data-project-id="…" data-dataset-id="…" data-task-id="…" data-status="…"
/// data-progress="…"` (a leading space, values escaped, progress empty while unknown).
void append_task_data(std::string& out, const poll::watched_task& tt);

/// `/tasks/{dataset_id}/{task_id}`, each part percent-encoded.
std::string task_page_path(const task::task_key& key);

/// Numbers for SVG and data attributes: shortest round-trip form ("0.42", "1").
std::string number_text(double v);
/// `v` with `decimals` digits after the point ("42.50").
std::string fixed_text(double v, int decimals);
/// "42%", "42.5%" for a ratio 0..1.
std::string percent_text(double ratio);

/// `<span class="badge st-running">running</span>`; a code outside -1..5 shows itself:
/// "unknown (7)".
void append_badge(std::string& out, const std::optional<modelarts::task_status>& status);

/// A `<time>` with the relative text and the UTC time under it; "—" when `t` is empty.
void append_time(std::string& out, const std::optional<task::time_point>& t, task::time_point now);

/// `<!doctype html>` up to `<body>`: charset, viewport, title, the style sheet, the script
/// (deferred) and, for browsers without scripts, a refresh every `refresh_seconds`.
void append_head(std::string& out, std::string_view title, int refresh_seconds);

} // namespace taskwatch::web
