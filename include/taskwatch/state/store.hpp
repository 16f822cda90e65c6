// Durable state of the watch engine in SQLite: each task's last known state, its history
// (state/history.hpp) and the webhook outbox (CONTRACT "Events and the generic webhook": at
// least once, never silently dropped).
#pragma once

#include "taskwatch/state/history.hpp"
#include "taskwatch/task/types.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::state {

using time_point = task::time_point;

/// The state database cannot be opened or used. what() names the file and the problem.
class store_error : public std::runtime_error {
public:
    explicit store_error(const std::string& what, std::string reason = {})
        : std::runtime_error(what)
        , reason_(reason.empty() ? what : std::move(reason)) {}
    /// One line for people: the file and SQLite's words, e.g. ".../taskwatch.db: database or
    /// disk is full" (what() may add the statement that failed).
    const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

/// One task's new state and the events that produced it, committed together, with a point of
/// its history when the poll made one (history_due).
struct change {
    task::task_state next;
    std::vector<task::event> events;
    std::optional<history_point> point;
    /// The poll's raw answer, kept as the task's last (write_buffer); empty: none.
    std::string answer;
};

/// A history point with the task it belongs to.
struct keyed_point {
    task::task_key key;
    history_point point;
};

/// A task's API answer (the raw body of a GET) with the time of its poll: the last one that
/// changed what is stored of the task, as its page shows it.
struct keyed_answer {
    task::task_key key;
    time_point time;
    std::string body;
};

/// One webhook's delivery of an event, as the task page shows it.
struct delivery_state {
    std::string webhook;
    std::string state;          ///< pending, delivered or dead
    std::uint32_t attempts = 0; ///< failed attempts
    time_point next_attempt_at; ///< pending: when it is tried next
    std::string last_error;     ///< empty before the first failure; one line, no secret
    std::optional<time_point> delivered_at;
};

/// A stored event of one task and its delivery to each webhook routed to it.
struct event_record {
    task::event event;
    std::vector<delivery_state> deliveries; ///< by webhook name
};

/// Names of the webhooks that should receive an event (possibly none).
using event_router = std::function<std::vector<std::string>(const task::event&)>;

/// An event waiting for one webhook.
struct pending_delivery {
    task::event event;
    std::string webhook;
    std::uint32_t attempts = 0; ///< failed attempts so far
    time_point next_attempt_at;
    std::string last_error; ///< empty before the first failure
};

/// The outcome of one delivery attempt, written with others in one transaction (store::mark).
struct delivery_mark {
    enum outcome_t { delivered, failed, dead };
    std::string event_id;
    std::string webhook;
    outcome_t outcome = delivered;
    time_point at;              ///< when the attempt ended (delivered_at)
    time_point next_attempt_at; ///< failed: when to try again
    std::string error;          ///< failed, dead: one line, no secret
};

/// A pending or dead-lettered delivery, as `taskwatchd outbox list` shows it.
struct delivery_row {
    std::string event_id;
    std::string webhook;
    bool dead = false;
    std::string type; ///< the event type's name
    task::task_key key;
    time_point event_time;
    std::uint32_t attempts = 0;
    time_point next_attempt_at;
    std::string last_error;
};

/// How long an event stays in the outbox once every webhook received it (or none was routed
/// it): as long as finished tasks are remembered (forget_finished_after), at least a day, so
/// that a task's page and `outbox list` show what happened overnight.
inline std::chrono::milliseconds outbox_retention(std::chrono::milliseconds forget_finished_after) {
    return std::max<std::chrono::milliseconds>(forget_finished_after, std::chrono::hours(24));
}

/// The SQLite file `<state_dir>/taskwatch.db`. Single-threaded: every call runs on the caller's
/// thread (the daemon's loop, one batch per tick). Times are stored as integer milliseconds
/// since the epoch, so sub-millisecond precision is dropped (floored).
/// Methods throw store_error when SQLite fails (disk full, I/O error, locked by another
/// process longer than the busy timeout); a failed commit changes nothing.
class store {
public:
    /// `PRAGMA application_id` of a taskwatch state database ("TWCH").
    static constexpr std::int32_t application_id = 0x54574348;
    /// `PRAGMA user_version` this build writes; older files are migrated, newer refused.
    static constexpr int schema_version = 5;
    static constexpr std::string_view file_name = "taskwatch.db";

    /// Creates `state_dir` and the database if missing. Throws store_error for a file that is
    /// not SQLite, is corrupt, belongs to another application or has a newer schema; such a
    /// file is never written to.
    explicit store(const std::filesystem::path& state_dir);
    ~store();
    store(store&&) noexcept;
    store& operator=(store&&) noexcept;
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    const std::filesystem::path& path() const noexcept;

    // --- task states

    /// Every stored task state, ordered by key.
    std::vector<task::task_state> load_tasks();

    /// One transaction for the whole batch: every `next` state is upserted and every event is
    /// added to the outbox with one pending delivery per webhook `route` names for it. An event
    /// whose id is already stored is ignored, deliveries included (regenerated after a restart).
    /// On failure nothing of the batch is kept.
    void commit(const std::vector<change>& changes, const event_router& route);
    /// The same for states and events held apart (state::write_buffer): every event is added
    /// to the outbox in order, every state upserted, in one transaction.
    /// History points are added in the same transaction.
    /// So are the answers (one per task: the newest replaces the stored one).
    void commit(const std::vector<task::task_state>& states, const std::vector<task::event>& events,
                const event_router& route, std::span<const keyed_point> points = {},
                std::span<const keyed_answer> answers = {});

    /// `f` runs after every commit that queued at least one delivery (the notifier wakes).
    void on_deliveries_queued(std::function<void()> f);

    /// Whether the file at path() is still the one open (same device and inode). When it was
    /// deleted (its directory too) or replaced, opens the path afresh, creating the directory
    /// and an empty database if need be, and returns true: whatever the old file held is gone
    /// from disk, so the caller must write every state it knows again. Throws store_error when
    /// the path cannot be opened (the old connection stays). Every commit checks this first.
    bool reopen_if_replaced();

    /// Deletes a task's state and history (its outbox events stay until delivered). True if
    /// the state existed. Writing a state with `forgotten` set deletes the history too.
    bool forget(const task::task_key& key);
    /// Deletes the state and history of every task whose finished_at is before `before`;
    /// returns their keys.
    std::vector<task::task_key> forget_finished_before(time_point before);

    // --- history and events of one task (the task page)

    /// The task's history points, oldest first; empty for an unknown task.
    std::vector<history_point> history(const task::task_key& key);
    /// The task's last stored API answer; nullopt: none (not polled since schema 5, forgotten).
    std::optional<keyed_answer> last_answer(const task::task_key& key);
    /// Its points at or after `since`, oldest first (one seek into the task's points).
    std::vector<history_point> history(const task::task_key& key, time_point since);
    /// Every task's points at or after `since`, ordered by task key then time: one query for
    /// a page of many tasks (sparklines). Tasks without such points are absent.
    std::vector<keyed_point> history_since(time_point since);
    /// Thins the points with times in [from, to): of each task, in each `bucket` (aligned to
    /// the epoch), only the last point of each status stays. Returns how many were deleted.
    std::size_t thin_history(time_point from, time_point to, std::chrono::milliseconds bucket);
    /// The task's newest `limit` events still in the outbox (delivered ones are pruned after
    /// a while: prune_delivered), oldest first, each with its deliveries.
    std::vector<event_record> task_events(const task::task_key& key, std::size_t limit);

    // --- outbox, one queue per webhook

    /// Pending deliveries to `webhook` whose next attempt is at or before `now`, oldest
    /// enqueued first, at most `limit`; of each task only the oldest pending one (a later event
    /// of a task waits until the earlier one was delivered or dead-lettered).
    std::vector<pending_delivery> due(const std::string& webhook, time_point now,
                                      std::size_t limit);
    /// The receiver accepted the event: it leaves this webhook's queue.
    void mark_delivered(std::string_view event_id, std::string_view webhook, time_point now);
    /// An attempt failed: counts it and schedules the next one, or dead-letters the delivery
    /// (`dead`) so that it is kept and counted but no longer due.
    void mark_failed(std::string_view event_id, std::string_view webhook, time_point now,
                     time_point next_attempt_at, std::string_view error, bool dead);

    /// Many marks in one transaction: the notifier's bookkeeping costs one commit per batch.
    void mark(std::span<const delivery_mark> marks);
    /// When the first task's next delivery to `webhook` is due; nullopt when none is pending.
    std::optional<time_point> next_due(const std::string& webhook);
    /// Pending and dead-lettered deliveries (only dead ones with `dead_only`), of `webhook` or
    /// of all, in enqueue order.
    std::vector<delivery_row> list_deliveries(bool dead_only,
                                              const std::optional<std::string>& webhook);
    /// Puts the dead letters of these events (to `webhook`, or to every webhook) back in their
    /// queue, due at `now` with no attempt counted; returns how many. Safe while a daemon runs
    /// on the same file: it picks them up within seconds.
    std::size_t redeliver(std::span<const std::string> event_ids,
                          const std::optional<std::string>& webhook, time_point now);
    /// The same for every dead letter (of `webhook`, or of all).
    std::size_t redeliver_all_dead(const std::optional<std::string>& webhook, time_point now);

    /// Pending deliveries to `webhook` (due or backing off).
    std::size_t queue_length(const std::string& webhook);
    /// Time of the oldest event still pending for `webhook`; nullopt when its queue is empty.
    std::optional<time_point> oldest_pending(const std::string& webhook);
    /// Deliveries to `webhook` given up after max_attempts.
    std::size_t dead_letters(const std::string& webhook);
    /// Deletes events every delivery of which succeeded before `before` (and events nobody
    /// was routed to, older than `before`). Dead letters are kept. Returns the events removed.
    /// The daemon calls it hourly with now - outbox_retention().
    std::size_t prune_delivered(time_point before);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace taskwatch::state
