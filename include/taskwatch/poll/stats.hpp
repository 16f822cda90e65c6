// The watch engine's counters, read by metrics and the status page.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace taskwatch::poll {

/// Poll latency in the buckets of taskwatch_poll_duration_seconds: a ModelArts GET takes from a
/// few milliseconds to the 10 s default timeout.
struct latency_histogram {
    static constexpr std::array<double, 12> bounds{0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                   0.5,   1.0,  2.5,   5.0,  10.0, 30.0};
    std::array<std::uint64_t, bounds.size() + 1>
        counts{};   ///< per bucket, not cumulative; last: +Inf
    double sum = 0; ///< seconds
    std::uint64_t count = 0;
    void observe(double seconds) noexcept {
        std::size_t i = 0;
        while (i < bounds.size() && seconds > bounds[i])
            ++i;
        ++counts[i];
        sum += seconds;
        ++count;
    }
};

struct watcher_stats {
    std::uint64_t polls = 0;
    std::uint64_t poll_failures = 0;
    std::map<std::string, std::uint64_t> failures_by_reason;
    latency_histogram poll_duration; ///< every poll, failed ones included
    std::map<std::string, std::uint64_t> events_by_type;
    std::uint64_t commits = 0;
    std::uint64_t commit_failures = 0; ///< taskwatch_state_write_failures_total
    /// States and events not yet in the state database, as of the last commit attempt (every
    /// 200 ms): taskwatch_state_pending_writes.
    std::size_t pending_writes = 0;
    /// Polls not applied because max_events events wait to be written
    /// (taskwatch_state_held_polls_total).
    std::uint64_t held_polls = 0;
    /// Discovery's list requests, one per target and task type each round, failed ones
    /// included (taskwatch_listings_total), and those that failed, by reason.
    std::uint64_t listings = 0;
    std::map<std::string, std::uint64_t> listing_failures_by_reason;
    /// Per discovered target (project_id, dataset_id): why its last round failed to list a task
    /// type, as the log has it (no secret), or "" when it listed every one
    /// (taskwatch_discovery_up, the status page's banner). A target leaves it when its
    /// discovery stops.
    std::map<std::pair<std::string, std::string>, std::string> discovery;
    /// Why the state database cannot be written now, one line naming the file; empty while it
    /// can. Set by a failed commit, cleared by the next one that succeeds.
    std::string store_problem;
};

} // namespace taskwatch::poll
