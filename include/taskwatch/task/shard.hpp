// Sharding: which of N instances watches a task, decided by a stable hash of the task's key
// alone, so that N instances split a fleet with no coordination (docs/scaling.md "Shards").
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/task/types.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace taskwatch::task {

/// Prometheus' relabel action `hashmod`: the MD5 of `text`, its last 8 bytes read as a
/// big-endian unsigned 64-bit integer, modulo `modulus` (> 0). The same text always gives the
/// same shard, on every machine and in every version.
std::uint64_t hashmod(std::string_view text, std::uint64_t modulus);

/// "project_id/dataset_id/task_id": the string a task's shard is computed from.
std::string shard_key(const task_key& key);

/// `shard: {index, count}` in the config, `--shard I/N` on the command line: this instance
/// watches the tasks with hashmod(shard_key(key), count) == index. {0, 1} watches every task.
struct shard {
    std::uint64_t index = 0;
    std::uint64_t count = 1; ///< >= 1; index < count
    bool owns(const task_key& key) const;
    bool operator==(const shard&) const = default;
};

/// "I/N", as --shard spells it and logs show it.
std::string to_string(const shard& s);
/// Reads "I/N": decimal integers with I < N and N >= 1. The error is one line saying what is
/// wrong with `text`.
expected<shard, std::string> parse_shard(std::string_view text);

} // namespace taskwatch::task
