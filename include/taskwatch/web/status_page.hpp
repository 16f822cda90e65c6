// GET /: a status page for people. Server-rendered HTML with inline CSS, no scripts, no
// external assets; it reloads itself every 15 s. Every task row carries data-project-id,
// data-dataset-id, data-task-id, data-status and data-progress (ratio 0..1, "" when unknown),
// so that tools can read it too.
#pragma once

#include "taskwatch/poll/task_view.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace taskwatch::web {

/// The daemon-wide figures at the top of the page.
struct page_summary {
    std::uint64_t polls = 0;
    std::uint64_t poll_failures = 0;
    bool ready = false;
    /// Why the state database cannot be written (a banner at the top); empty: it can.
    std::string store_problem;
    std::string version;
    task::time_point now; ///< "3 min ago" is counted from here
};

std::string render_status_page(const poll::task_view& tasks, const page_summary& s);

/// Escapes & < > " ' for text and attribute values.
std::string html_escape(std::string_view text);

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago".
std::string format_relative(task::time_point then, task::time_point now);

} // namespace taskwatch::web
