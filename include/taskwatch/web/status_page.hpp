// GET /: a status page for people who keep it open. Server-rendered HTML; its style sheet and
// script come from /static/ (html.hpp), and without the script it still works: the filters are
// a plain GET form, a <noscript> refresh reloads it every 15 s. With the script, it refreshes
// its counts and rows in place (no flicker, scroll kept) and applies the filters as they are
// typed. Tasks that need someone (failed, polls failing, stalled) come first, then running,
// initializing, queuing, stopping, unknown, stopped, succeeded; beyond `per_page` rows it is
// paginated. A running task shows its ETA (the estimator's, task/estimate.hpp) and, when the
// history is given, a sparkline of its progress. Every task row carries data-project-id,
// data-dataset-id, data-task-id, data-status, data-progress (ratio 0..1, "" when unknown),
// data-up and data-eta (RFC 3339, "" when there is no estimate), so that tools can read it
// too, and links to the task's page.
#pragma once

#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/web/chart.hpp"
#include "taskwatch/web/html.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::web {

/// The daemon-wide figures at the top of the page.
struct page_summary {
    std::uint64_t polls = 0;
    std::uint64_t poll_failures = 0;
    bool ready = false;
    /// Why the state database cannot be written (a banner at the top); empty: it can.
    std::string store_problem;
    /// Discovered targets whose last listing failed, one line each ("dataset D (project P):
    /// error"): a banner, since their new tasks are not watched meanwhile.
    std::vector<std::string> discovery_problems;
    std::string version;
    task::time_point now; ///< "3 min ago" is counted from here
};

/// What the page's query string asks for (`?q=&status=&dataset=&label=&page=`).
struct page_query {
    /// Part of a task's name, id, dataset id or of a label value, in any ASCII case.
    std::string text;
    /// A status name, or `attention` (failed, polls failing or stalled), `failing` (polls
    /// failing), `stalled`; empty: every status.
    std::string status;
    std::string dataset; ///< the exact dataset id; empty: every dataset
    /// `name=value` (that value) or `name` (any value); every one must hold.
    std::vector<std::pair<std::string, std::string>> labels;
    std::size_t page = 1; ///< 1-based
    bool operator==(const page_query&) const = default;
};

/// Reads a query string (the part after `?`, percent- and form-encoded: `+` is a space). Unknown
/// parameters and a page that is not a positive number are ignored; `label` may repeat and may
/// hold several pairs separated by commas.
page_query parse_page_query(std::string_view query);

/// The sort rank of a task on the page: 0 for the ones that need someone, 7 for succeeded.
int attention_rank(const poll::watched_task& tt);

/// Whether `tt` passes the filters of `q` (all but `page`).
bool matches(const poll::watched_task& tt, const page_query& q);

/// What the page shows besides the task view.
struct page_options {
    page_query query;
    std::size_t per_page = 200;
    /// A task's history for its sparkline; empty, or an empty answer: no sparkline.
    std::function<std::vector<history_point>(const task::task_key&)> history;
};

std::string render_status_page(const poll::task_view& tasks, const page_summary& s,
                               const page_options& o = {});

} // namespace taskwatch::web
