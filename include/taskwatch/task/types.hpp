// What the watch engine knows about one task, what a poll brings, and the events it emits.
// Pure data: no clock, no socket. Shared by task/ (diff), state/ (SQLite) and notify/.
#pragma once

#include "taskwatch/detail/boxed.hpp"
#include "taskwatch/detail/compact_optional.hpp"
#include "taskwatch/detail/compact_string.hpp"
#include "taskwatch/detail/inline_string.hpp"
#include "taskwatch/detail/interned_string.hpp"
#include "taskwatch/detail/name_table.hpp"
#include "taskwatch/modelarts/model.hpp"

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace taskwatch::task {

using time_point = std::chrono::system_clock::time_point;

/// A task's identity across projects and regions. The project and dataset are the same for
/// many tasks, so every key holding one shares it (interned: 16 bytes for both, not ~180);
/// the task id is kept inside the key (48 bytes in all, not ~240 as three std::strings).
struct task_key {
    detail::interned_string project_id;
    detail::interned_string dataset_id;
    detail::inline_string task_id;
    auto operator<=>(const task_key&) const = default;
};

/// The label names taskwatch sets itself on a task's series: the key's, the info's (task_name,
/// resource_id, algorithm_type), `status` and the sample `kind`. A target's `labels` may not
/// use them (config rejects them), so the exported series never carry a label twice.
inline constexpr std::string_view reserved_label_names[] = {
    "project_id", "dataset_id", "task_id",     "status",
    "kind",       "task_name",  "resource_id", "algorithm_type"};

/// The parts of a successful GET the engine tracks (Table 2, reduced). A field the API did not
/// send is unknown: nullopt (or "" for the texts). Its optionals and texts are compact (8
/// bytes each): a watched task keeps its last one.
struct observation {
    /// As the last poll sent it; may be a code outside -1..5 (modelarts::is_known). nullopt: not
    /// sent, or not an integer.
    detail::compact_optional<modelarts::task_status> status;
    /// Ratio 0..1 (API percent / 100), clamped (never NaN); nullopt: not sent.
    detail::compact_optional<double> progress;
    /// The status and progress before a poll that left them out: what the next poll is compared
    /// with. Set by the diff, only while `status`/`progress` is nullopt; observe() never sets them.
    detail::compact_optional<modelarts::task_status> earlier_status;
    detail::compact_optional<double> earlier_progress;
    /// The last status and progress the API sent for the task (the diff's reference).
    std::optional<modelarts::task_status> known_status() const {
        return status ? status : earlier_status;
    }
    std::optional<double> known_progress() const { return progress ? progress : earlier_progress; }
    detail::compact_string task_name;
    detail::compact_string resource_id;
    // The few values most tasks share (an algorithm, ModelArts.XXXX codes) are interned; the
    // texts of one task are not.
    detail::interned_string algorithm_type; ///< config.algorithm_type
    detail::interned_string code;           ///< running status code
    detail::interned_string message;        ///< running status information
    detail::interned_string error_code;
    detail::compact_string error_msg;
    detail::compact_optional<std::int64_t> total_sample_count, annotated_sample_count,
        unconfirmed_sample_count;
    detail::optional_time create_time; ///< API "YYYY-MM-DD HH:MM:SS", read as UTC
    bool operator==(const observation&) const = default;
};

/// Turns an API task into an observation; nullopt when the body has no field that describes a
/// task (none of status, progress, task_id, task_name, resource_id, create_time, result, config):
/// `{}` or an error body answered with 200.
std::optional<observation> observe(const modelarts::task& t);
/// The same, moving the task's strings instead of copying them.
std::optional<observation> observe(modelarts::task&& t);

/// Why the last poll failed (the contract's `last_error`).
struct poll_error {
    std::string reason; ///< modelarts::error_kind name: auth, throttled, timeout, ...
    std::string error_code, error_msg, request_id;
    bool operator==(const poll_error&) const = default;
};

/// What one poll of one task brought.
struct poll_ok {
    observation seen;
};
struct poll_failed {
    poll_error error;
};
struct poll_gone { ///< 404 or ModelArts 400 4338/4612/4700 (and, for discovery, not listed)
    poll_error error;
};
using poll_outcome = std::variant<poll_ok, poll_failed, poll_gone>;

/// Everything the engine remembers about one task between polls and across restarts. Kept
/// small, a watched task's largest part (the engine holds one per task): times without an
/// optional's flag, the rare error on the heap, the flags together at the end, and a last
/// observation of compact optionals and texts.
struct task_state {
    task_key key;
    std::optional<observation> last;      ///< last successful observation; nullopt: never seen
    detail::optional_time last_poll;      ///< last successful poll
    detail::optional_time last_change;    ///< last status or progress change seen
    detail::optional_time progress_since; ///< when progress last changed (stall clock)
    detail::optional_time finished_at;    ///< first seen in a terminal status
    detail::optional_time failing_since;  ///< first failure of the current failing streak
    detail::boxed<poll_error> last_error; ///< null after a success
    std::uint64_t event_seq = 0;          ///< events emitted so far
    /// How many times the task went back: its status to an earlier stage of the lifecycle (or
    /// to or from a code outside -1..5), its progress down, or gone and back. Part of every
    /// event id, so that a transition seen again gets a new id (diff.hpp "Event ids").
    std::uint32_t cycle = 0;
    bool up = false;               ///< the last poll succeeded
    bool stalled = false;          ///< task.stalled sent, not yet re-armed by progress
    bool failing_reported = false; ///< task.poll_failing sent for this streak
    bool gone = false;             ///< task.gone sent; the engine drops the task
    /// Finished for longer than forget_finished_after: no longer polled or exported. Kept as a
    /// tombstone so that discovery does not announce it again; deleted when no longer listed.
    bool forgotten = false;
    bool operator==(const task_state&) const = default;
};

/// A status and progress pair as the events show them (CONTRACT "previous"/"current");
/// nullopt: the API has not sent it yet.
struct snapshot {
    std::optional<modelarts::task_status> status;
    std::optional<double> progress;
    std::string code, message, error_code, error_msg;
    std::optional<std::int64_t> total_sample_count, annotated_sample_count,
        unconfirmed_sample_count;
    bool operator==(const snapshot&) const = default;
};

/// The status and progress parts of an observation, as events carry them: the last status and
/// progress the API sent (known_status(), known_progress()).
snapshot to_snapshot(const observation& o);

enum class event_type {
    discovered,
    status_changed,
    progress,
    stalled,
    gone,
    poll_failing,
    poll_recovered,
};
/// The event types' names exactly as in CONTRACT.md, in its order: the webhook payload's `type`,
/// the config's `events`, the label of taskwatch_events_total.
inline constexpr detail::enum_name<event_type> event_type_names[] = {
    {event_type::discovered, "task.discovered"},
    {event_type::status_changed, "task.status_changed"},
    {event_type::progress, "task.progress"},
    {event_type::stalled, "task.stalled"},
    {event_type::gone, "task.gone"},
    {event_type::poll_failing, "task.poll_failing"},
    {event_type::poll_recovered, "task.poll_recovered"},
};
static_assert(detail::in_enum_order(event_type_names));
std::string_view to_string(event_type t);
std::optional<event_type> event_type_from_string(std::string_view s);

struct event {
    std::string id; ///< stable: a function of the task key, the type and the transition
    event_type type = event_type::discovered;
    time_point time;
    task_key key;
    std::string task_name;
    std::optional<snapshot> previous;
    std::optional<snapshot> current;
    std::optional<poll_error> error; ///< poll_failing, gone
    bool operator==(const event&) const = default;
};

/// "evt_" + 32 lowercase hex digits (the first 16 bytes) of SHA-256(project_id NUL dataset_id
/// NUL task_id NUL type NUL transition), `type` as event_type_names spells it. The diff makes
/// `transition` from what the API said (diff.hpp "Event ids"), so two replicas that see the
/// same change give it the same id, and a restart regenerates it unchanged.
std::string event_id(const task_key& key, event_type type, std::string_view transition);

} // namespace taskwatch::task
