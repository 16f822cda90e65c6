// Estimates how fast a running task labels and when it will finish, from the progress and
// annotated counts its polls report. Pure: no clock (every observation brings its time), and a
// few numbers per task, no series (10,000 tasks are watched at once).
//
// How: the API reports progress in coarse steps (whole percents, counted samples), so a rate
// measured from one poll to the next is 0 most of the time and huge at a step. Rates are
// measured between *change points* instead — polls at which progress or the annotated count
// moved — as the progress (and samples) gained over the time since the previous change point.
// The intervals are combined with a time-based exponential decay (half-life `half_life`):
// rate = sum(w_i * gained_i) / sum(w_i * seconds_i), where an interval's weight halves with
// every half_life of newer intervals. Steady progress gives its exact rate whatever the step
// size; bursts are averaged over their time.
//
// While no step comes for longer than the longest recent interval between steps (a stall),
// the rate is scaled by longest / wait, so that it falls and the ETA moves later as the wait
// grows; waits no longer than those already seen (bursts with pauses) leave it alone. The
// longest interval decays like the sums (the longest of the last hour or so counts).
//
// A restart starts afresh: progress or the annotated count going back, or the status leaving
// `running` (a task that runs again later is a new run). The first change point is the first
// poll whose values differ from the first running poll seen — unless the task was seen before
// it ran (queuing, initializing), when the switch to running is the first change point: the
// first poll of a task already running is in the middle of a step, not at its start.
//
// Enough data for an ETA: at least `min_intervals` intervals between change points (three
// change points: one interval could be a fluke), and a progress rate above zero. No minimum
// time: the intervals are what the task did, however fast.
// ETA = the last change point + remaining progress / the rate (never before the last poll).
#pragma once

#include "taskwatch/detail/boxed.hpp"
#include "taskwatch/modelarts/model.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace taskwatch::task {

/// What the estimator says about a task at its last observation; every field nullopt when it
/// cannot say (not running, or not enough data).
struct rate_estimate {
    std::optional<double> progress_per_second; ///< progress ratio (0..1) gained per second
    std::optional<double> samples_per_second;  ///< annotated samples per second
    std::optional<std::chrono::system_clock::time_point> eta; ///< estimated completion
    bool operator==(const rate_estimate&) const = default;
};

class progress_estimator {
public:
    using time_point = std::chrono::system_clock::time_point;

    /// Older intervals' weight halves with every this much time of newer intervals.
    static constexpr std::chrono::seconds half_life{600};
    /// Intervals between change points needed before an ETA is given.
    static constexpr unsigned min_intervals = 2;

    /// One successful poll at `t`: the task's status, progress (0..1) and annotated sample
    /// count as the API last sent them (nullopt: never sent). An observation older than the
    /// previous one is ignored.
    void observe(time_point t, std::optional<modelarts::task_status> status,
                 std::optional<double> progress, std::optional<std::int64_t> annotated);

    /// The rates and ETA as of the last observation.
    rate_estimate current() const;

    bool operator==(const progress_estimator&) const = default;

private:
    /// What a running task's estimate keeps. Null while the task is not running (queuing,
    /// finished: most watched tasks), which then cost one pointer, not these 72 bytes.
    struct run {
        // Decayed sums over the intervals between change points, and their decayed longest.
        double progress_sum = 0, samples_sum = 0, seconds_sum = 0, longest_gap = 0;
        double anchor_progress = 0;       ///< progress at the anchor (or the baseline)
        std::int64_t anchor_samples = -1; ///< annotated count there; -1: unknown
        std::int64_t anchor_ms = 0;       ///< the last change point, ms since the epoch
        std::int64_t last_ms = 0;         ///< the last observation
        std::uint16_t intervals = 0;      ///< intervals measured in this run (saturating)
        /// At least one change point seen: the anchor is the last one. Before it, the run
        /// was first seen mid-step and waits for its first change point (the baseline).
        bool anchored = false;
        bool samples_known = true; ///< every interval of this run had annotated at both ends
        bool operator==(const run&) const = default;
        void anchor_at(std::int64_t ms, double progress, std::optional<std::int64_t> annotated);
    };
    detail::boxed<run> run_;
    bool seen_before_running_ = false; ///< the last status seen was queuing or initializing
};

} // namespace taskwatch::task
