// The watch engine's core: (what we knew about a task, what one poll brought) -> (what we know
// now, the events to send). Pure: no clock (the caller passes `now`), no I/O, no globals, so a
// restart that re-runs a diff from the same stored state regenerates byte-identical events.
//
// Rules (CONTRACT.md "Events and the generic webhook"):
// - poll_ok, task never seen (or seen, gone, and back: treated as a new task, stall and failing
//   state reset): task.discovered with `current`; no status_changed/progress for a first sight.
// - poll_ok, status differs from the last seen one: one task.status_changed last -> new
//   (states skipped between two polls are not invented). A code outside -1..5 ("unknown") is a
//   status like the others: 1 -> 9 and 9 -> 1 are changes, and so is a status sent for the
//   first time after a discovery without one (previous status null).
// - A status or progress the poll did not send is unknown, not changed: no event, last_change
//   and the stall clock stay, and the last value sent stays the reference for the next poll
//   (observation::earlier_status/earlier_progress); the task's other fields still update.
// - poll_ok, progress rose across a multiple of any of `progress_steps` (or reached 1.0):
//   one task.progress per poll (only between two progress values the API sent). Any progress
//   change (also backwards, also the first value after discovery without one) sets last_change and
//   progress_since and re-arms the stall.
// - running with no progress change for `stall_after` (since progress_since, which also restarts
//   on entering running): task.stalled once; re-armed by a progress change or leaving running.
//   A poll that fails tells nothing about progress: only successful polls can report a stall.
// - finished_at: set when first seen terminal (failed/succeeded/stopped), cleared on leaving.
// - poll_failed: up=false, last_error, failing_since starts the streak; task.poll_failing once
//   the streak lasts `stall_after`/3; the next success after that sends task.poll_recovered.
// - poll_gone: task.gone (with error) once if the task was seen, gone=true either way; up=false,
//   last_error=the error; the failing streak is left as it is.
// Event order within one diff: discovered, status_changed, progress, stalled, poll_recovered,
// poll_failing, gone. Each event's time is `now`, its task_name the observation's (or the last
// one's); event_seq counts them.
//
// Event ids: event_id(key, type, CYCLE "|" TRANSITION), from what the API said rather than when
// or in which order this instance saw it, so that two replicas watching the same task give the
// same change the same id (HA receivers de-duplicate on webhook-id), and a restart the same:
// - TRANSITION: discovered and gone "created=" create_time (Unix ms, "-" if not sent);
//   status_changed "FROM>TO" (status codes, "-" for none); progress "FROM>TO" (ratios, %.17g);
//   stalled "STATUS@PROGRESS"; poll_failing and poll_recovered "since=" the start of the failing
//   streak (Unix ms: this instance's own view; replicas do not share these ids).
// - CYCLE (task_state::cycle) goes up, before the poll's events, when the status goes back (to
//   an earlier or the same stage of queuing < initializing < running < stopping < ended, or to
//   or from an unknown code), the progress goes down, or a gone task is back. Within a cycle the
//   statuses only move forward and progress only up, so no transition repeats: ids are unique
//   per task. Replicas agree on the cycle when both saw the same steps back (usually none).
//
// Cost: when nothing changes no event, string or vector is built; the rvalue overload and
// advance() also avoid copying the state.
#pragma once

#include "taskwatch/task/types.hpp"

#include <chrono>
#include <vector>

namespace taskwatch::task {

struct diff_settings {
    std::chrono::milliseconds stall_after{std::chrono::minutes{30}};
    /// Union of the webhooks' progress_step values (ratios, e.g. 0.25); empty: no task.progress.
    /// Values that are not finite and > 0 are ignored.
    std::vector<double> progress_steps;
};

struct diff_result {
    task_state next;
    std::vector<event> events;
};

/// True when progress rose from `prev` to `cur` across a multiple of one of `steps`, or reached
/// 1.0 (with at least one valid step). Multiples are matched with a 1e-9 tolerance: 0.3 is a
/// multiple of 0.1.
bool crosses_progress_step(double prev, double cur, const std::vector<double>& steps) noexcept;

diff_result diff(const task_state& prev, const poll_outcome& outcome, const diff_settings& s,
                 time_point now);
/// Same, reusing `prev`'s and `outcome`'s storage.
diff_result diff(task_state&& prev, poll_outcome&& outcome, const diff_settings& s, time_point now);

/// In place: turns `state` into the next state and appends the events to `events` (not
/// cleared). diff() is this applied to a copy.
void advance(task_state& state, const poll_outcome& outcome, const diff_settings& s, time_point now,
             std::vector<event>& events);

} // namespace taskwatch::task
