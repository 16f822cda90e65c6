// The watch engine: polls every watched task on its own schedule, within the global request
// budget, discovers tasks of datasets without task_ids, turns each poll into events with
// task::diff and commits states and events to the store in batches. What it knows about each
// task is published read-only (task_view); its counters as watcher_stats.
// Lives on the daemon's one io_context; not thread-safe.
#pragma once

#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/poll/stats.hpp"
#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/state/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace taskwatch::poll {

class engine; ///< daemon/poll/engine.hpp

/// What the layers above want of the events, decided there (notify's routing): the watcher
/// does not know who receives them.
struct event_routing {
    /// Who receives an event, asked when it is committed; empty: nobody.
    state::event_router route;
    /// task.progress is emitted when a task's progress crosses one of these.
    std::vector<double> progress_steps;
};

class watcher {
public:
    watcher(boost::asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
            event_routing routing, state::store& store, http::client& client,
            std::shared_ptr<auth::authorizer> auth);
    ~watcher();
    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;

    /// Loads the stored states, adds the configured tasks and starts polling: every task's
    /// first poll happens now, not an interval later.
    void start();
    /// Stops polling and discovery, waits for in-flight polls (bounded by the client's
    /// deadline) and commits what they produced.
    boost::asio::awaitable<void> async_stop();

    /// SIGHUP: swaps in a new, valid configuration and its routing at once. Tasks of targets that
    /// stay keep their state; new targets and task ids are polled now; removed ones stop being
    /// polled (their stored state stays). `auth` replaces the authorizer when credentials changed
    /// (null: unchanged). API clients and authorizers a reload replaced are released when the
    /// last request using them ends.
    void reload(std::shared_ptr<const config::settings> settings, event_routing routing,
                std::shared_ptr<auth::authorizer> auth = nullptr);

    /// The watched tasks, read-only; valid as long as the watcher.
    const task_view& tasks() const noexcept;
    const watcher_stats& stats() const noexcept;
    /// True once every task known at start-up, and every task the first listing of each
    /// discovered target found, was polled once (the contract's /-/ready).
    bool first_round_done() const noexcept;
    std::size_t failing_tasks() const;

private:
    std::unique_ptr<engine> engine_;
};

} // namespace taskwatch::poll
