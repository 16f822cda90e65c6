// The watch engine behind poll::watcher (private to poll): its tasks with their scheduling
// state, the due-time heap, the poll workers, discovery and the commit batcher.
// Lives on the daemon's one io_context; not thread-safe.
#pragma once

#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/modelarts/api_client.hpp"
#include "taskwatch/poll/due_heap.hpp"
#include "taskwatch/poll/pacing.hpp"
#include "taskwatch/poll/stats.hpp"
#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/poll/watcher.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/state/write_buffer.hpp"
#include "taskwatch/task/diff.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <memory_resource>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace taskwatch::poll {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

/// Throttling and credentials of one ModelArts endpoint.
struct endpoint_state {
    std::string url;
    endpoint_throttle throttle;  ///< 429 and the throttling codes
    credential_gate credentials; ///< 401s: the gateway locks a key after 5 bad signatures
    /// Tasks that found the credentials' probe in flight: scheduled again at its answer.
    std::vector<task::task_key> parked;
    /// Discovery loops waiting for the same, woken by cancelling their timer.
    std::vector<boost::asio::steady_timer*> waiting;
};

/// "project/dataset": how log lines and the discovery loops name a target.
inline std::string target_id_of(const std::string& project, const std::string& dataset) {
    return project + "/" + dataset;
}
/// The project and dataset of a target_id_of (a project id holds no '/').
inline std::pair<std::string, std::string> target_of(std::string_view target_id) {
    const auto slash = target_id.find('/');
    return {std::string(target_id.substr(0, slash)), std::string(target_id.substr(slash + 1))};
}

/// How the tasks of one endpoint and project reach the API: its client (with the authorizer
/// it was built with) and the endpoint's state. One for all those tasks; built afresh after a
/// reload, which binds every task again.
struct api_binding {
    std::shared_ptr<modelarts::api_client> api; ///< a poll holds its own copy
    endpoint_state* endpoint;
};

/// One watched task in memory: what is published about it, and its scheduling. Kept small
/// (344 bytes, a map node of 384 with its key; task_state is 248 of them): 10,000 of them
/// must fit in a few MiB.
struct tracked_task : watched_task {
    /// Its endpoint and project in the current settings (the engine binds it again on reload).
    const api_binding* binding = nullptr;
    std::uint64_t poll_id = 0; ///< the current poll (a poll whose task was replaced is void)
    unsigned failures = 0;     ///< consecutive failed polls
    /// Where its entry is in the engine's due-time heap (which alone writes it).
    std::uint32_t heap_index = not_in_heap;
    bool listed = true;           ///< the last discovery listing showed it (or it is configured)
    bool configured = false;      ///< named in a target's task_ids
    bool polling = false;         ///< a request is in flight
    bool first_poll_owed = false; ///< counted in the first round (/-/ready) and not polled yet
    bool parked = false;          ///< waits for its endpoint's credentials probe to answer
    /// The last point of its history stored (or queued) since start: the next is compared with it.
    detail::compact_optional<state::history_point> last_point;
};

/// A tracked task's key in the engine's map: the address of the key its tracked_task holds,
/// so the map keeps no copy of the ids (8 bytes a task, not 48 of views or 96 of strings). A
/// map node never moves, and a state replaced in place keeps its key object and its value.
struct task_key_ref {
    const task::task_key* key;
};

/// Orders task_key_ref and task::task_key alike, as task_key's own operator<.
struct task_key_less {
    using is_transparent = void;
    template <class A, class B> bool operator()(const A& a, const B& b) const noexcept {
        return ids_of(a) < ids_of(b);
    }

private:
    using ids = std::tuple<std::string_view, std::string_view, std::string_view>;
    static ids ids_of(const task::task_key& k) noexcept {
        return {k.project_id, k.dataset_id, k.task_id};
    }
    static ids ids_of(const task_key_ref& r) noexcept { return ids_of(*r.key); }
};

using task_map = std::map<task_key_ref, tracked_task, task_key_less>;

class engine final : public task_view {
public:
    engine(boost::asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
           event_routing routing, state::store& store, http::client& client,
           std::shared_ptr<auth::authorizer> auth);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

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
    void reload(std::shared_ptr<const config::settings> settings, event_routing routing,
                std::shared_ptr<auth::authorizer> auth = nullptr);

    void visit(const task::task_key* after, const visitor& f) const override;
    std::size_t size() const override;
    const watcher_stats& stats() const noexcept { return stats_; }
    /// True once every task known at start-up, and every task the first listing of each
    /// discovered target found, was polled once (the contract's /-/ready).
    bool first_round_done() const noexcept { return first_round_left_ == 0 && started_; }
    std::size_t failing_tasks() const;

private:
    // Scheduling: one heap of due times, one dispatcher that hands due tasks to polls within
    // max_connections and the request budget. No coroutine or timer per task.
    void schedule(tracked_task& tt, clock::time_point due);
    void unschedule(tracked_task& tt);
    void wake_dispatcher(clock::time_point due);
    static bool scheduled(const tracked_task& tt) noexcept { return due_heap_t::contains(tt); }
    void untrack(task_map::iterator it);
    /// Replaces a tracked task's state (the same key): its key strings are new, so views of
    /// them taken before are stale (keys_moved_ moves).
    void replace_state(tracked_task& tt, task::task_state&& state);
    boost::asio::awaitable<void> async_dispatch_loop();
    void ensure_workers();
    boost::asio::awaitable<void> async_worker(std::size_t index);
    /// `body`: the raw answer of a successful poll, stored with the state when the poll
    /// changed it (at most max_stored_answer bytes; a larger one is not kept).
    void finish_poll(tracked_task& tt, expected<modelarts::task, modelarts::api_error> res,
                     clock::time_point sent, std::string body = {});
    static constexpr std::size_t max_stored_answer = 64u << 10;

    // May a request go to an endpoint now: the one place that asks its throttle and its
    // credential gate, for the dispatcher, the workers and discovery alike.
    clock::time_point not_before(const endpoint_state& ep, clock::time_point now) const;
    /// If the task's endpoint takes no request now: schedules it behind the pause, or parks it
    /// until the credentials' probe answers; true then.
    bool hold(tracked_task& tt, clock::time_point now);
    /// The right to send the task's request now, or nothing (the task is held).
    std::optional<credential_gate::ticket> admit(tracked_task& tt, clock::time_point now);
    /// The answer to a request sent with `t` (`e`: its error, null on success).
    void report(endpoint_state& ep, credential_gate::ticket t, const modelarts::api_error* e);
    /// A ticket given back unused.
    void release(endpoint_state& ep, credential_gate::ticket t);
    /// The endpoint's gate moved: parked tasks and waiting discovery loops try again.
    void wake(endpoint_state& ep);
    /// "project/dataset,..." of the targets on this endpoint, for log lines.
    std::string targets_on(const endpoint_state& ep) const;

    boost::asio::awaitable<void> async_discovery_loop(std::string target_id);
    const config::target* find_target(const std::string& project_id,
                                      const std::string& dataset_id) const;
    void start_discovery(const std::string& target_id);
    boost::asio::awaitable<void> async_commit_loop();
    boost::asio::awaitable<void> async_forget_loop();
    /// Forgets tasks finished for longer than forget_finished_after (state, series, polling).
    void forget_finished(task::time_point now);
    /// Thins history points older than history_policy::coarse_after, at most once an hour.
    void thin_history(task::time_point now);
    task::time_point history_thinned_until_{}; ///< points before it are thinned already
    task::time_point history_thinned_at_{};    ///< when thin_history last ran
    /// Deletes outbox events that every webhook received (and events routed to none) once
    /// they are older than outbox_retention(), at most once an hour.
    void prune_outbox(task::time_point now);
    task::time_point outbox_pruned_at_{}; ///< when prune_outbox last ran
    boost::asio::awaitable<void> async_sleep_until(boost::asio::steady_timer& timer,
                                                   clock::time_point when);

    /// Whether the task is in this instance's shard (settings' `shard`).
    bool owns(const task::task_key& key) const { return settings_->shard.owns(key); }
    tracked_task& track(const task::task_key& key, const config::target& t, bool configured);
    /// Points a task at its target's labels, API client and endpoint in the current settings.
    void bind(tracked_task& tt, const config::target& t);
    /// The API client and endpoint of the target's endpoint and project, the client built on
    /// first use with the current authorizer; it keeps that authorizer alive.
    const api_binding& binding_for(const config::target& t);
    const std::shared_ptr<modelarts::api_client>& api_for(const config::target& t) {
        return binding_for(t).api;
    }
    endpoint_state& endpoint_for(const modelarts::api_client& api);
    bool commit_pending();
    /// Queues every state the watcher knows (tasks, gone ones, tombstones): the database file
    /// was created again and holds none. Returns how many.
    std::size_t queue_every_state();
    void spawn(boost::asio::awaitable<void> work, const char* what);

    boost::asio::any_io_executor ex_;
    std::shared_ptr<const config::settings> settings_;
    event_routing routing_;
    state::store& store_;
    http::client& client_;
    std::shared_ptr<auth::authorizer> auth_;
    task::diff_settings diff_settings_;

    task_map tasks_;
    /// By "endpoint project"; its entries stay put (tasks point at them) until a reload.
    std::map<std::string, api_binding> apis_;
    std::set<std::string> discovering_;  ///< target ids with a running discovery loop
    std::set<task::task_key> forgotten_; ///< tombstones: finished long ago, not watched
    /// States of tasks that went away: if one reappears its event numbers go on (unique ids).
    std::map<task::task_key, task::task_state> gone_;
    std::map<std::string, std::unique_ptr<endpoint_state>> endpoints_; ///< by endpoint URL
    token_bucket bucket_;
    std::mt19937_64 rng_;
    state::write_buffer pending_;
    watcher_stats stats_;

    /// Nodes of claimed_, which every poll inserts and erases: reused, not allocated and
    /// freed each time. Declared before it: it outlives it.
    std::pmr::unsynchronized_pool_resource id_nodes_;
    using due_heap_t = due_heap<tracked_task, clock::time_point>;
    due_heap_t heap_; ///< when each scheduled task is due
    std::uint64_t next_poll_id_ = 0;
    /// Entries erased from tasks_ and forgotten_, and states replaced, so far: views into
    /// their keys' strings are stale once it moves.
    std::uint64_t keys_moved_ = 0;
    /// A due task handed to the poll workers.
    struct poll_job {
        std::uint64_t poll_id;
        std::shared_ptr<modelarts::api_client> api; ///< alive until the poll ends
        endpoint_state* endpoint;
        credential_gate::ticket ticket;
    };
    /// Tasks taken off the heap for a poll, by poll id; a removed task leaves, and its poll's
    /// answer is dropped.
    std::pmr::unordered_map<std::uint64_t, tracked_task*> claimed_{&id_nodes_};
    std::deque<poll_job> jobs_;
    std::vector<boost::asio::steady_timer*> idle_workers_; ///< parked workers, woken by cancel
    std::size_t workers_ = 0;
    std::unique_ptr<boost::asio::steady_timer> dispatch_timer_;
    /// When the dispatcher's timer fires; min() while it must not be woken for a due time.
    clock::time_point dispatcher_wakes_ = clock::time_point::max();

    /// Timers of the discovery and commit loops, cancelled by async_stop().
    std::vector<std::shared_ptr<boost::asio::steady_timer>> loop_timers_;
    std::shared_ptr<boost::asio::steady_timer> commit_timer_; ///< the commit loop's
    clock::time_point commit_due_{};                          ///< its next commit
    /// An event waits: the commit loop writes within 20 ms instead of at its 200 ms tick.
    void commit_soon();
    std::size_t first_round_left_ = 0;
    std::size_t running_ = 0; ///< coroutines still running
    bool started_ = false;
    bool stopping_ = false;
};

} // namespace taskwatch::poll
