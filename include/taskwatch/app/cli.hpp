// The command line of taskwatchd (CONTRACT.md "taskwatchd").
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/task/shard.hpp"

#include <optional>
#include <string>
#include <vector>

namespace taskwatch::app {

struct cli_options {
    enum class mode {
        run,
        check_config,
        demo,
        get,
        outbox_list,
        outbox_redeliver,
        status,
        version,
        help
    } what = mode::help;
    std::string config_path;
    std::optional<std::string> listen;  ///< --listen for --demo
    std::string dataset_id;             ///< get
    std::string task_id;                ///< get
    std::optional<std::string> webhook; ///< outbox: --webhook NAME
    bool dead = false;                  ///< outbox list --dead
    bool all_dead = false;              ///< outbox redeliver --all-dead
    std::vector<std::string> event_ids; ///< outbox redeliver ID...
    /// --shard I/N (run, --check-config): overrides the config's `shard:`, also on reload.
    std::optional<task::shard> shard;
};

/// Parses argv; the error is a usage message (exit status 2).
expected<cli_options, std::string> parse_cli(const std::vector<std::string>& args);

std::string usage();

} // namespace taskwatch::app
