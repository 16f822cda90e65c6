// The long-running daemon: its components in order, signals (stop, reload), and --demo.
#pragma once

#include "taskwatch/app/cli.hpp"

namespace taskwatch::app {

/// `taskwatchd --config FILE`: runs until SIGTERM/SIGINT; returns the exit status.
int run_daemon(const cli_options& opts);

/// `taskwatchd --demo`: starts modelarts-sim in-process on loopback with a few dozen lively
/// tasks, writes a config for it into a temporary folder and runs the daemon on it.
int run_demo(const cli_options& opts);

} // namespace taskwatch::app
