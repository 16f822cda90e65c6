// The commands of taskwatchd other than the long-running daemon.
#pragma once

#include "taskwatch/app/cli.hpp"

namespace taskwatch::app {

/// `taskwatchd get`: one authenticated GET of one task, printed as JSON on stdout.
/// Returns the exit status: 0 printed, 1 the request failed (one line on stderr naming the
/// class of failure, the API's error code and the request id).
int run_get(const cli_options& opts);

/// `taskwatchd outbox list`: the pending and dead-lettered deliveries of the config's state
/// database, one per line (tab-separated, a header first). 0, or 1 with one line on stderr.
int run_outbox_list(const cli_options& opts);

/// `taskwatchd outbox redeliver`: puts dead letters back in their webhook's queue (safe while
/// the daemon runs: it sends them within seconds). 0 when at least one was put back.
int run_outbox_redeliver(const cli_options& opts);

/// `taskwatchd status`: the table of app/status.hpp on stdout, from the daemon's API at the
/// config's `listen` (plain HTTP, within 3 s) or, when that cannot be used (down, port 0,
/// web_config_file set: its TLS and basic auth are not used here), from the state database;
/// one line on stderr names the source. 0, or 1 with one line on stderr (bad config, neither
/// source readable).
int run_status(const cli_options& opts);

/// `taskwatchd --check-config`: 0 valid (and a summary on stdout), 1 invalid (one line).
int run_check_config(const cli_options& opts);

} // namespace taskwatch::app
