// What the watch engine publishes about the tasks it watches, read-only, for metrics and web:
// each task's identity, labels, last observation, up, last error, times and rate estimate.
// Nothing of its scheduling (due times, endpoints, API clients) is in it. Visiting costs no
// copy of the tasks.
#pragma once

#include "taskwatch/task/estimate.hpp"
#include "taskwatch/task/types.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace taskwatch::poll {

using label_map = std::map<std::string, std::string>;

/// One watched task as the engine last saw it.
struct watched_task {
    task::task_state state; ///< key, last observation, up, last error, times, flags
    /// The labels of the task's target in the settings it was last bound to (copied onto its
    /// series); null: none. Shared, so a view entry never outlives what it points to.
    std::shared_ptr<const label_map> labels;
    /// Rates and ETA from its successful polls since the daemon started (not stored).
    task::progress_estimator estimate;

    const label_map& target_labels() const noexcept { return labels ? *labels : no_labels; }
    static const label_map no_labels;
};

/// Labels held on their own, for a watched_task built by hand (tests, benchmarks).
inline std::shared_ptr<const label_map> shared_labels(label_map labels) {
    return std::make_shared<const label_map>(std::move(labels));
}

/// The tasks being watched: neither gone nor forgotten.
class task_view {
public:
    using visitor = std::function<bool(const watched_task&)>;
    /// Calls `f` for each watched task in key order, starting after `after` (nullptr: at the
    /// first), until `f` returns false. The engine may change between two calls, never during
    /// one: a reader that resumes from a key sees tasks added or removed meanwhile.
    virtual void visit(const task::task_key* after, const visitor& f) const = 0;
    /// How many tasks visit() would show.
    virtual std::size_t size() const = 0;

protected:
    ~task_view() = default;

    /// Whether visit() shows `t`.
    static bool shown(const watched_task& t) noexcept {
        return !(t.state.forgotten || t.state.gone);
    }
    /// visit() and size() over a key-ordered map of watched_task or of a type derived from it.
    template <class Map>
    static void visit_map(const Map& tasks, const task::task_key* after, const visitor& f) {
        for (auto it = after ? tasks.upper_bound(*after) : tasks.begin(); it != tasks.end(); ++it) {
            if (!shown(it->second)) continue;
            if (!f(it->second)) return;
        }
    }
    template <class Map> static std::size_t size_of_map(const Map& tasks) {
        std::size_t n = 0;
        for (const auto& entry : tasks)
            n += shown(entry.second);
        return n;
    }
};

/// A task_view over a map of its own: what tests and benchmarks fill by hand.
class task_table final : public task_view {
public:
    std::map<task::task_key, watched_task> tasks;
    void visit(const task::task_key* after, const visitor& f) const override;
    std::size_t size() const override;
};

} // namespace taskwatch::poll
