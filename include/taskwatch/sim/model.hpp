// The simulator's world: synthetic ModelArts auto-labeling tasks and their lifecycles.
// Pure: no sockets, no clock of its own; every function that moves time takes `now`.
// Single-threaded like the rest of the simulator.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace taskwatch::sim {

using sim_clock = std::chrono::system_clock;
using time_point = sim_clock::time_point;

/// ModelArts task status codes (seed, Table 2 `status`).
enum class task_status : int {
    queuing = -1,
    initializing = 0,
    running = 1,
    failed = 2,
    succeeded = 3,
    stopping = 4,
    stopped = 5,
};
bool is_terminal(task_status s) noexcept;
/// The bit of `s` in sim_task::served_statuses.
constexpr std::uint8_t status_bit(task_status s) noexcept {
    return static_cast<std::uint8_t>(1u << (static_cast<int>(s) + 1));
}
std::string_view to_string(task_status s) noexcept; ///< "queuing", "running", ...
/// Accepts a name ("running") or the API's number ("1").
std::optional<task_status> parse_task_status(std::string_view s) noexcept;

/// The list API's `type` values.
enum class task_type { auto_label, pre_label, auto_grouping };
std::string_view to_string(task_type t) noexcept; ///< "auto-label", "pre-label", "auto-grouping"
std::optional<task_type> parse_task_type(std::string_view s) noexcept;

/// How a generated task's life ends.
enum class task_fate { succeed, fail, stop };

/// What the API shows of a task at one moment.
struct task_state {
    task_status status = task_status::queuing;
    double progress = 0;          ///< percent, 0..100
    bool progress_hidden = false; ///< set through the control API: GET leaves `progress` out
    std::string code;             ///< e.g. "ModelArts.4902" while exporting
    std::string message;
    std::string error_code; ///< set when failed, and sometimes transiently while running
    std::string error_msg;
    std::int64_t elapsed_time = 0; ///< seconds since the task left the queue
    std::uint64_t total_sample_count = 0;
    std::uint64_t annotated_sample_count = 0;
    std::uint64_t unconfirmed_sample_count = 0;
    bool operator==(const task_state&) const = default;
};

/// One planned change of a task, relative to its create_time.
struct lifecycle_step {
    std::chrono::milliseconds at{0};
    task_status status = task_status::queuing;
    double progress = 0;
    std::uint8_t message = 0; ///< index into the message table (see model.cpp)
};

struct sim_task {
    std::string dataset_id;
    std::string task_id;
    std::string task_name;
    std::string resource_id;
    std::string export_task_id; ///< quoted in the "exporting annotations" message
    task_type type = task_type::auto_label;
    time_point create_time;
    int export_type = 0;
    std::string algorithm_type = "fast";
    std::uint32_t n_clusters = 0; ///< auto-grouping only

    // The plan: samples and steps, fixed at creation.
    task_fate fate = task_fate::succeed;
    std::uint64_t initially_annotated = 0;
    double annotated_share = 0.5;    ///< of auto-labeled samples, the part counted as annotated
    std::string fail_code, fail_msg; ///< used when fate == fail
    std::string transient_code, transient_msg; ///< shown while running in mid-range, if set
    std::vector<lifecycle_step> steps;

    // Live state.
    task_state state;
    bool frozen = false;       ///< set by the control API: no longer moves on its own
    std::size_t step = 0;      ///< index of the step in force
    time_point next_change;    ///< refresh() does nothing before this
    std::uint64_t version = 1; ///< bumped on every visible change
    /// Statuses shown intact in a GET of this task (bit status + 1): what a client could see.
    std::uint8_t served_statuses = 0;

    // The serialized GET body, valid while cached_version == version (see json.hpp).
    std::string cached_body;
    std::uint64_t cached_version = 0;
};

struct world_options {
    /// Datasets are dealt to these projects in turn; a task is found only under its project.
    std::vector<std::string> project_ids{"0123456789abcdef0123456789abcdef"};
    std::size_t tasks = 20;
    std::size_t datasets = 3;
    std::uint64_t seed = 1;
    /// The unit of lifecycle durations: queueing ~0.3-1.5 of it, running ~3-8 of it.
    std::chrono::milliseconds phase{10'000};
    /// Status transitions kept for GET /sim/transitions; the oldest go first beyond this.
    std::size_t transition_log_capacity = 100'000;
};

/// One status change the world made: a lifecycle step (at its planned time) or a patch.
struct status_transition {
    std::uint64_t seq = 0; ///< 1, 2, ... in the order the world made them
    std::string task_id;
    task_status from = task_status::queuing;
    task_status to = task_status::queuing;
    time_point at; ///< when it took effect (planned step time, or the patch's `now`)
};

/// The world's status transitions, oldest first, at most `capacity` of them: ground truth for
/// soak tests ("every transition the simulator made is reported exactly once").
class transition_log {
public:
    explicit transition_log(std::size_t capacity)
        : capacity_(capacity) {}
    void record(std::string_view task_id, task_status from, task_status to, time_point at);
    const std::deque<status_transition>& entries() const noexcept { return entries_; }
    std::uint64_t recorded() const noexcept { return next_seq_ - 1; } ///< ever, dropped included
    std::uint64_t dropped() const noexcept { return dropped_; } ///< forgotten for lack of room
    std::size_t capacity() const noexcept { return capacity_; }
    /// Forgets every entry (sequence numbers go on).
    void clear() noexcept;

private:
    std::size_t capacity_;
    std::deque<status_transition> entries_;
    std::uint64_t next_seq_ = 1;
    std::uint64_t dropped_ = 0;
};

/// Fields the control API may set; unset ones keep their value.
struct task_patch {
    std::optional<task_status> status; ///< any integer: a code outside -1..5 is served as it is
    std::optional<double> progress;
    bool hide_progress = false; ///< "progress": null: GET leaves the field out until set again
    std::optional<std::string> code, message, error_code, error_msg, task_name;
    std::optional<std::int64_t> elapsed_time;
    std::optional<std::uint64_t> total_sample_count, annotated_sample_count,
        unconfirmed_sample_count;
    std::optional<bool> frozen; ///< default after a patch: true
};

/// Identity and starting point of a task added through the control API.
struct task_spec {
    std::string dataset_id;        ///< empty: a random existing dataset
    std::string project_id;        ///< for a new dataset; empty: the first project
    std::string task_id;           ///< empty: generated
    std::string task_name;         ///< empty: generated
    std::optional<task_type> type; ///< empty: drawn like generated tasks
    std::optional<task_fate> fate; ///< empty: drawn
};

class world {
public:
    /// Generates `opts.tasks` tasks over `opts.datasets` datasets, deterministically from
    /// `opts.seed`, with create times spread before `now` so that they are in every phase.
    world(world_options opts, time_point now);

    const world_options& options() const noexcept { return opts_; }
    const std::vector<std::string>& datasets() const noexcept { return datasets_; }
    bool has_dataset(std::string_view id) const;
    /// The project a dataset belongs to ("" when the dataset is unknown).
    std::string_view project_of(std::string_view dataset_id) const;

    /// The task, or nullptr. Task ids are unique across datasets.
    sim_task* find(std::string_view task_id);
    sim_task* find(std::string_view dataset_id, std::string_view task_id);

    /// Applies every planned step due by `now`; returns true if the state changed. Each status
    /// change, also of a step skipped over because no one asked in between, goes into
    /// transitions() with the step's planned time.
    bool refresh(sim_task& t, time_point now);

    /// A new generated task created at `now`, starting in the queue. Throws std::invalid_argument
    /// when spec names a task id already in use.
    sim_task& add(const task_spec& spec, time_point now);
    sim_task& add_generated(time_point now) { return add(task_spec{}, now); }
    bool remove(std::string_view dataset_id, std::string_view task_id);

    /// Sets fields; the task stops moving on its own unless patch.frozen == false. A status
    /// change goes into transitions() at `now`.
    void apply(sim_task& t, const task_patch& patch, time_point now);

    const transition_log& transitions() const noexcept { return transitions_; }
    transition_log& transitions() noexcept { return transitions_; }

    /// A dataset's tasks, newest first (create_time, then task_id), filtered.
    std::vector<sim_task*> list(std::string_view dataset_id, const std::vector<task_type>& types,
                                std::string_view name_contains = {}) const;
    /// Every task, dataset by dataset, newest first.
    std::vector<sim_task*> all() const;
    std::size_t size() const noexcept { return by_id_.size(); }

private:
    sim_task& insert(std::unique_ptr<sim_task> t);
    std::unique_ptr<sim_task> generate(std::uint64_t index, const task_spec& spec,
                                       time_point create_time);

    world_options opts_;
    std::vector<std::string> datasets_;
    /// Keyed by a view of the task's own task_id, which never changes once inserted.
    std::unordered_map<std::string_view, std::unique_ptr<sim_task>> by_id_;
    std::map<std::string, std::vector<sim_task*>, std::less<>> by_dataset_; ///< newest first
    std::map<std::string, std::string, std::less<>> dataset_project_;
    std::uint64_t next_index_ = 0;
    transition_log transitions_;
};

/// Deterministic 64-bit generator (splitmix64): the same seed gives the same world.
class rng {
public:
    explicit rng(std::uint64_t seed) noexcept
        : s_(seed) {}
    std::uint64_t next() noexcept;
    double uniform() noexcept;                     ///< [0, 1)
    double uniform(double lo, double hi) noexcept; ///< [lo, hi)
    std::uint64_t below(std::uint64_t n) noexcept; ///< [0, n)
    std::string id(std::size_t length);            ///< ModelArts-like alphanumeric id

private:
    std::uint64_t s_;
};

/// "YYYY-MM-DD HH:MM:SS" in UTC, the API's create_time format.
std::string format_create_time(time_point t);

} // namespace taskwatch::sim
