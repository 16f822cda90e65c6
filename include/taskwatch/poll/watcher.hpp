// The watch engine's loop: polls every watched task on its own schedule, within the global
// request budget, discovers tasks of datasets without task_ids, turns each poll into events
// with task::diff and commits states and events to the store in batches.
// Lives on the daemon's one io_context; not thread-safe.
#pragma once

#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/modelarts/api_client.hpp"
#include "taskwatch/poll/pacing.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/task/diff.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace taskwatch::poll {

/// One watched task in memory.
struct tracked_task {
    task::task_state state;
    std::map<std::string, std::string> labels; ///< the target's labels
    std::string target_id;                     ///< "project/dataset" of its target
    bool listed = true;      ///< the last discovery listing showed it (or it is configured)
    bool configured = false; ///< named in a target's task_ids
    bool polling = false;    ///< a request is in flight
    unsigned failures = 0;   ///< consecutive failed polls
    std::uint64_t polls = 0;
    std::uint64_t loop_id = 0; ///< the poll loop that owns this task (a reload may replace it)
    std::unique_ptr<boost::asio::steady_timer> timer;

    /// The labels of the task's target (copied onto its series and events).
    const std::map<std::string, std::string>& target_labels() const noexcept { return labels; }
};

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
    std::uint64_t commit_failures = 0;
};

class watcher {
public:
    watcher(boost::asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
            state::store& store, http::client& client, auth::authorizer& auth);
    ~watcher();
    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;

    /// Loads the stored states, adds the configured tasks and starts polling: every task's
    /// first poll happens now, not an interval later.
    void start();
    /// Stops polling and discovery, waits for in-flight polls (bounded by the client's
    /// deadline) and commits what they produced.
    boost::asio::awaitable<void> async_stop();

    /// SIGHUP: swaps in a new, valid configuration at once. Tasks of targets that stay keep
    /// their state; new targets and task ids are polled now; removed ones stop being polled
    /// (their stored state stays). `auth` replaces the authorizer when credentials changed; the
    /// old one must outlive in-flight requests (the caller keeps it).
    void reload(std::shared_ptr<const config::settings> settings, auth::authorizer* auth = nullptr);

    const std::map<task::task_key, tracked_task>& tasks() const noexcept { return tasks_; }
    const watcher_stats& stats() const noexcept { return stats_; }
    /// True once every task known at start-up was polled once (the contract's /-/ready).
    bool first_round_done() const noexcept { return first_round_left_ == 0 && started_; }
    std::size_t failing_tasks() const;

private:
    struct endpoint_state;
    boost::asio::awaitable<void> async_task_loop(task::task_key key, std::uint64_t loop_id);
    boost::asio::awaitable<void> async_discovery_loop(std::string target_id);
    const config::target* find_target(const std::string& target_id) const;
    void start_discovery(const std::string& target_id);
    boost::asio::awaitable<void> async_commit_loop();
    boost::asio::awaitable<void> async_forget_loop();
    /// Forgets tasks finished for longer than forget_finished_after (state, series, polling).
    void forget_finished(task::time_point now);
    boost::asio::awaitable<void> async_sleep_until(boost::asio::steady_timer& timer,
                                                   clock::time_point when);

    tracked_task& track(const task::task_key& key, const config::target& t, bool configured);
    void spawn_task(const task::task_key& key);
    modelarts::api_client& api_for(const config::target& t);
    endpoint_state& endpoint_for(const modelarts::api_client& api);
    std::vector<std::string> route(const task::event& e) const;
    bool commit_pending();

    boost::asio::any_io_executor ex_;
    std::shared_ptr<const config::settings> settings_;
    state::store& store_;
    http::client& client_;
    auth::authorizer* auth_;
    task::diff_settings diff_settings_;

    std::map<task::task_key, tracked_task> tasks_;
    std::map<std::string, std::unique_ptr<modelarts::api_client>> apis_; ///< by "endpoint project"
    /// API clients replaced by a reload: in-flight polls may still use them.
    std::vector<std::unique_ptr<modelarts::api_client>> retired_apis_;
    std::set<std::string> discovering_;  ///< target ids with a running discovery loop
    std::set<task::task_key> forgotten_; ///< tombstones: finished long ago, not watched
    /// States of tasks that went away: if one reappears its event numbers go on (unique ids).
    std::map<task::task_key, task::task_state> gone_;
    std::map<std::string, std::unique_ptr<endpoint_state>> endpoints_; ///< by endpoint URL
    token_bucket bucket_;
    std::mt19937_64 rng_;
    std::vector<state::change> pending_;
    watcher_stats stats_;
    /// Timers of the discovery and commit loops, cancelled by async_stop().
    std::vector<std::shared_ptr<boost::asio::steady_timer>> loop_timers_;
    std::size_t first_round_left_ = 0;
    std::uint64_t next_loop_id_ = 0;
    std::size_t running_ = 0; ///< coroutines still running
    bool started_ = false;
    bool stopping_ = false;
};

} // namespace taskwatch::poll
