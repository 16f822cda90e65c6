// modelarts-sim's command line.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/sim/faults.hpp"
#include "taskwatch/sim/gateway.hpp"
#include "taskwatch/sim/model.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::sim {

/// How the list API reads `offset` (the documents say "start page"; an SDK pages by 1).
enum class offset_mode { items, pages };

struct sim_options {
    std::string listen = "127.0.0.1:0";
    std::optional<std::string> cert_file, key_file; ///< PEM certificate chain and key
    std::optional<std::string> self_signed_dir;     ///< generate CA + server certificate here
    bool plain = false;                             ///< HTTP without TLS
    world_options world;
    bool static_world = false; ///< tasks do not move on their own
    double spawn_rate = 0;     ///< new tasks per second
    std::vector<access_key> keys;
    std::optional<iam_user> iam;
    std::chrono::seconds token_ttl{std::chrono::hours(24)};
    bool no_auth = false; ///< accept unsigned requests
    offset_mode list_offset = offset_mode::items;
    std::vector<fault_rule> faults;
    std::uint64_t fault_seed = 0; ///< 0: derived from world.seed
    std::size_t max_connections = 1024;
    std::chrono::milliseconds request_timeout{30'000};
    std::size_t body_limit = 1u << 20;
    /// API answers go out as two writes, head then body (a chunked body), not one.
    bool split_writes = false;
};

struct command_line {
    sim_options options;
    bool help = false;
    bool version = false;
};

struct command_line_error {
    int exit_code; ///< 2: usage; 1: a file named on the command line could not be used
    std::string message;
};

/// Parses the arguments after argv[0]; reads the secret files they name.
expected<command_line, command_line_error>
parse_command_line(const std::vector<std::string_view>& args);

/// --help text: flags, control endpoints and fault kinds.
std::string_view help_text() noexcept;

/// Prometheus-style durations: "500ms", "15s", "10m", "24h", "1h30m", "1.5s".
expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s);

} // namespace taskwatch::sim
