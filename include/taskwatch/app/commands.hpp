// The commands of taskwatchd other than the long-running daemon.
#pragma once

#include "taskwatch/app/cli.hpp"

namespace taskwatch::app {

/// `taskwatchd get`: one authenticated GET of one task, printed as JSON on stdout.
/// Returns the exit status: 0 printed, 1 the request failed (one line on stderr naming the
/// class of failure, the API's error code and the request id).
int run_get(const cli_options& opts);

/// `taskwatchd --check-config`: 0 valid (and a summary on stdout), 1 invalid (one line).
int run_check_config(const cli_options& opts);

} // namespace taskwatch::app
