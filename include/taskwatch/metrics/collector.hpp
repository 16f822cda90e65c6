// What GET /metrics shows: every series of CONTRACT.md "Metrics", built at scrape time from the
// watch engine's published task view, its counters and the outbox. Nothing is registered or removed
// per poll, so a task the engine forgets simply stops appearing.
//
// Thread-compatible: Collect() reads its sources on the caller's thread, which must be the
// thread that owns them (the daemon's io_context thread).
#pragma once

#include "taskwatch/metrics/process.hpp"
#include "taskwatch/poll/stats.hpp"
#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/task/shard.hpp"
#include "taskwatch/task/types.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::metrics {

/// "text/plain; version=0.0.4; charset=utf-8": the Prometheus text exposition format.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// The outbox as one configured webhook sees it.
struct webhook_figures {
    std::string name;
    std::size_t queue_length = 0;                   ///< pending deliveries (due or backing off)
    std::optional<task::time_point> oldest_pending; ///< nullopt: the queue is empty
    std::size_t dead_letters = 0;                   ///< given up after max_attempts
    std::uint64_t delivered = 0;                    ///< events the receiver accepted
    std::map<std::string, std::uint64_t> failures;  ///< failed attempts by reason
};

/// Where the collector reads from. Every function is called during Collect() only; an empty
/// function leaves its metrics out (tests), never fails the scrape.
struct collector_sources {
    std::function<const poll::task_view&()> tasks;
    std::function<const poll::watcher_stats&()> stats;
    /// One entry per configured webhook, in configuration order.
    std::function<std::vector<webhook_figures>()> webhooks;
    /// nullopt when /proc cannot be read: the process_* series are left out.
    std::function<std::optional<process_stats>()> process;
    /// The instance's shard: taskwatch_shard_index and taskwatch_shards.
    std::function<task::shard()> shard;
    std::string version = TASKWATCH_VERSION;
};

/// Per-task series of a task never polled successfully: only modelarts_task_up (0) once a poll
/// has failed; before any poll, nothing. Its status is unknown, so no state-set series at all.
class collector final : public prometheus::Collectable {
public:
    explicit collector(collector_sources s);
    std::vector<prometheus::MetricFamily> Collect() const override;
    /// serialize(Collect()), byte for byte, written straight from the sources: at 10,000 tasks
    /// building the MetricFamily objects costs more than the text itself. What /metrics serves.
    std::string render() const;
    /// render()'s text in pieces of about `piece_bytes` (http::body_stream): what /metrics
    /// serves. Memory stays at one piece (a whole scrape of 10,000 tasks is ~25 MB), and the
    /// event loop polls between pieces. Each piece reads the task map afresh, resuming after
    /// the last task written, so tasks may come and go in between; with no change in between
    /// the pieces add up to render() exactly. The collector must outlive the function.
    std::function<bool(std::string&)> stream(std::size_t piece_bytes = 256u << 10) const;

private:
    /// taskwatch_* and process_* (taskwatch_tasks only when the watched count is known).
    std::vector<prometheus::MetricFamily> daemon_families(std::optional<std::size_t> watched) const;
    collector_sources sources_;
};

/// The families in text format 0.0.4, byte for byte what prometheus::TextSerializer writes
/// (escaping, NaN and ±Inf, histogram buckets), about ten times faster.
std::string serialize(const std::vector<prometheus::MetricFamily>& families);
/// The same through prometheus::TextSerializer itself: the reference serialize() is tested
/// against.
std::string serialize_with_prometheus_cpp(const std::vector<prometheus::MetricFamily>& families);

} // namespace taskwatch::metrics
