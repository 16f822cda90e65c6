// Task states, events and history points produced by polls and not yet committed to the
// store, bounded: the newest state per task (an older pending state is superseded: only the
// newest matters after a restart), every event in emission order (they are the outbox: a lost
// event is a lost notification), at most max_events of them, and history points, at most
// max_events too (beyond, new points are dropped: a gap in a chart, not a lost notification),
// and the newest raw API answer per task.
#pragma once

#include "taskwatch/state/store.hpp"

#include <cstddef>
#include <map>
#include <vector>

namespace taskwatch::state {

class write_buffer {
public:
    /// Events held in memory while the store cannot be written: about 1 KiB each, so ~100 MiB
    /// at most. Polls that would emit more are held back by the watcher (nothing is dropped).
    static constexpr std::size_t default_max_events = 100'000;

    explicit write_buffer(std::size_t max_events = default_max_events)
        : max_events_(max_events) {}

    /// Adds a task's newest state and the events that produced it: the state (and its answer,
    /// if it has one) replaces any pending one of the same task, the events are appended. Always
    /// accepted: a caller that checks full() first exceeds max_events by at most one change's
    /// events.
    void add(change c);

    /// max_events events are held: add no change with events until a commit succeeds.
    bool full() const noexcept { return events_.size() >= max_events_; }
    bool empty() const noexcept { return states_.empty() && events_.empty() && points_.empty(); }
    std::size_t states() const noexcept { return states_.size(); }
    std::size_t events() const noexcept { return events_.size(); }
    std::size_t points() const noexcept { return points_.size(); }
    /// Rows waiting to be written: states plus events (taskwatch_state_pending_writes).
    std::size_t size() const noexcept { return states_.size() + events_.size(); }
    std::size_t max_events() const noexcept { return max_events_; }

    /// Writes everything in one store transaction; on success the buffer is empty, on failure
    /// (store_error) it is unchanged.
    void commit_to(store& s, const event_router& route);

    /// Empties the buffer. Storage a burst left (under a quarter of it used by the batch that
    /// ends, or an empty buffer's) is given back; a steady load keeps what it uses.
    void clear() noexcept;
    /// Entries the buffer has storage for, all lists together (tests, memory figures).
    std::size_t reserved() const noexcept;

private:
    std::size_t max_events_;
    std::vector<task::task_state> states_;               ///< one per task, first-added order
    std::map<task::task_key, std::size_t> state_index_;  ///< key -> position in states_
    std::vector<task::event> events_;                    ///< emission order
    std::vector<keyed_point> points_;                    ///< history, poll order
    std::vector<keyed_answer> answers_;                  ///< one per task, first-added order
    std::map<task::task_key, std::size_t> answer_index_; ///< key -> position in answers_
};

} // namespace taskwatch::state
