// `taskwatchd status`: a compact table of the watched tasks (task, status, progress, ETA, last
// change), read from the running daemon's API or, when it cannot be reached, from the state
// database. The table and its two sources are plain functions (tested without a daemon);
// run_status (commands.hpp) picks the source.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/state/store.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::app {

/// One line of the table; texts are what is printed ("" prints as "-").
struct status_row {
    std::string task;   ///< "dataset_id/task_id"
    std::string status; ///< the metrics' name
    std::optional<double> progress;
    std::string eta;         ///< RFC 3339, seconds
    std::string last_change; ///< RFC 3339, seconds
    bool operator==(const status_row&) const = default;
};

/// The rows of a GET /api/v1/tasks body; the error says what is wrong with it.
expected<std::vector<status_row>, std::string> status_rows_from_api(std::string_view body);

/// The rows of the tasks stored in `s` (neither gone nor forgotten). A running task's ETA is
/// the estimator's (task/estimate.hpp) over its stored history, as of its last point.
std::vector<status_row> status_rows_from_store(state::store& s);

/// The table: a header line, then one line per row, columns aligned with spaces.
std::string format_status_table(const std::vector<status_row>& rows);

} // namespace taskwatch::app
