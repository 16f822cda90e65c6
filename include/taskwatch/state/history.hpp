// A task's stored history: what one point holds, and which polls become points (the
// downsampling rule, pure: no clock, no SQLite). The store keeps the points (store.hpp).
//
// Bound: a point when the status changes; while progress or the annotated count moves, at most
// one a minute (`min_spacing`: a change within it waits for the next poll a minute on) unless
// progress moved by `big_step` or more since the last point (at most 1 / big_step = 20 such
// points a run); while nothing moves and the task has not finished, one per `heartbeat`;
// nothing while finished and unchanged. Points older than `coarse_after` are thinned to the
// last of each status per `coarse_bucket` (store::thin_history). Per task: at most 1,440
// points a day for its first day, at most 96 a day after that, plus one per status change and
// 20 per run.
#pragma once

#include "taskwatch/detail/compact_optional.hpp"
#include "taskwatch/modelarts/model.hpp"
#include "taskwatch/task/types.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace taskwatch::state {

/// One point of a task's history: what a successful poll saw.
struct history_point {
    task::time_point time;
    detail::compact_optional<modelarts::task_status> status; ///< nullopt: the API has sent none
    detail::compact_optional<double> progress;               ///< 0..1
    detail::compact_optional<std::int64_t> annotated;        ///< annotated_sample_count
    bool operator==(const history_point&) const = default;
};

} // namespace taskwatch::state

namespace taskwatch::detail {
/// A point's time is a clock reading, never min(): compact_optional<history_point> is 32 bytes.
template <> struct empty_value<state::history_point> {
    static constexpr state::history_point value() noexcept {
        return {task::time_point::min(), {}, {}, {}};
    }
    static constexpr bool is(const state::history_point& p) noexcept {
        return p.time == task::time_point::min();
    }
};
} // namespace taskwatch::detail

namespace taskwatch::state {

struct history_policy {
    /// Two points while progress moves are at least this far apart.
    static constexpr std::chrono::minutes min_spacing{1};
    /// A progress change this large is stored at once, however soon after the last point.
    static constexpr double big_step = 0.05;
    /// A point at least this often while an unfinished task does not move.
    static constexpr std::chrono::minutes heartbeat{30};
    /// Points older than this are thinned to coarse_bucket.
    static constexpr std::chrono::hours coarse_after{24};
    static constexpr std::chrono::minutes coarse_bucket{15};
};

/// The point a successful poll's observation makes at `t`.
history_point point_of(const task::observation& o, task::time_point t);

/// Whether `next` is stored, given the last point stored for the task (nullopt: none since
/// the daemon started, so `next` is).
bool history_due(const std::optional<history_point>& last, const history_point& next);

} // namespace taskwatch::state
