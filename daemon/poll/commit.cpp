// The commit batcher: polls' states, events and history points into the store every 200 ms
// (20 ms after an event), a vanished database rewritten, finished tasks forgotten after
// forget_finished_after, old history thinned and delivered events pruned once an hour.
#include "engine.hpp"

#include "taskwatch/log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <unordered_set>

namespace taskwatch::poll {
namespace asio = boost::asio;
using namespace std::chrono_literals;

std::size_t engine::queue_every_state() {
    for (const auto& [key, tt] : tasks_)
        pending_.add({tt.state, {}});
    for (const auto& [key, st] : gone_)
        pending_.add({st, {}});
    for (const auto& key : forgotten_) {
        task::task_state tombstone;
        tombstone.key = key;
        tombstone.forgotten = true;
        pending_.add({std::move(tombstone), {}});
    }
    return tasks_.size() + gone_.size() + forgotten_.size();
}

bool engine::commit_pending() {
    bool ok = true;
    try {
        // Deleted or replaced under us: the old file's writes would go nowhere visible.
        if (store_.reopen_if_replaced()) {
            const auto n = queue_every_state();
            log::error("the state database vanished or was replaced: created it again, writing "
                       "every task's state again (undelivered events it held are lost)",
                       {{"file", store_.path().string()}, {"states", std::to_string(n)}});
        }
        if (!pending_.empty()) {
            pending_.commit_to(store_, routing_.route);
            ++stats_.commits;
        } else {
            pending_.clear(); // a quiet tick: the room a burst took goes
        }
        if (!stats_.store_problem.empty())
            log::info("the state database can be written again",
                      {{"file", store_.path().string()}});
        stats_.store_problem.clear();
    } catch (const std::exception& e) {
        // Kept in memory (bounded: write_buffer) and tried again every 200 ms.
        ok = false;
        ++stats_.commit_failures;
        const auto* se = dynamic_cast<const state::store_error*>(&e);
        std::string problem = se ? se->reason() : e.what();
        // Once per spell (and when the reason changes), not five times a second.
        if (problem != stats_.store_problem)
            log::error("cannot commit task states and events; kept in memory, retrying",
                       {{"error", e.what()},
                        {"pending_states", std::to_string(pending_.states())},
                        {"pending_events", std::to_string(pending_.events())}});
        stats_.store_problem = std::move(problem);
    }
    stats_.pending_writes = pending_.size();
    return ok;
}

// States alone are written every 200 ms; a batch that holds an event is written 20 ms after
// its first event, so that a webhook hears of a change soon after its poll (the notifier
// wakes on the commit) while a burst of events still shares one transaction.
asio::awaitable<void> engine::async_commit_loop() {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    commit_timer_ = timer_ptr;
    auto& timer = *timer_ptr;
    while (!stopping_) {
        commit_due_ = clock::now() + 200ms;
        // commit_soon() may bring the deadline forward (which ends this wait early).
        while (!stopping_ && clock::now() < commit_due_)
            co_await async_sleep_until(timer, commit_due_);
        if (!stopping_) commit_pending();
    }
}

void engine::commit_soon() {
    const auto soon = clock::now() + 20ms;
    if (!commit_timer_ || commit_due_ <= soon) return;
    commit_due_ = soon;
    commit_timer_->expires_at(soon); // the loop's wait ends; it waits again until `soon`
}

void engine::forget_finished(task::time_point now) {
    const auto limit = settings_->poll.forget_finished_after;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        auto& tt = it->second;
        const auto& st = tt.state;
        if (!tt.polling && st.finished_at && st.last && st.last->known_status() &&
            modelarts::is_terminal(*st.last->known_status()) && now - *st.finished_at >= limit) {
            tt.state.forgotten = true;
            pending_.add({tt.state, {}});
            forgotten_.insert(tt.state.key);
            log::info("forgetting a long-finished task",
                      {{"task", it->first.key->task_id}, {"dataset", it->first.key->dataset_id}});
            untrack(it++);
        } else {
            ++it;
        }
    }
}

void engine::thin_history(task::time_point now) {
    if (now - history_thinned_at_ < 1h) return;
    history_thinned_at_ = now;
    const auto to = now - state::history_policy::coarse_after;
    if (to <= history_thinned_until_) return;
    try {
        const auto removed =
            store_.thin_history(history_thinned_until_, to, state::history_policy::coarse_bucket);
        history_thinned_until_ = to;
        if (removed > 0)
            log::debug("thinned old history points", {{"removed", std::to_string(removed)}});
    } catch (const std::exception& e) {
        // Tried again in an hour; the points stay meanwhile.
        log::warn("cannot thin the task history", {{"error", e.what()}});
    }
}

void engine::prune_outbox(task::time_point now) {
    if (now - outbox_pruned_at_ < 1h) return;
    outbox_pruned_at_ = now;
    try {
        const auto removed = store_.prune_delivered(
            now - state::outbox_retention(settings_->poll.forget_finished_after));
        if (removed > 0)
            log::debug("pruned delivered events", {{"removed", std::to_string(removed)}});
    } catch (const std::exception& e) {
        // Tried again in an hour; the events stay meanwhile.
        log::warn("cannot prune delivered events", {{"error", e.what()}});
    }
}

asio::awaitable<void> engine::async_forget_loop() {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    while (!stopping_) {
        const auto every = std::clamp<std::chrono::milliseconds>(
            settings_->poll.forget_finished_after / 10, 100ms, 60s);
        co_await async_sleep_until(timer, clock::now() + every);
        if (stopping_) break;
        forget_finished(std::chrono::system_clock::now());
        thin_history(std::chrono::system_clock::now());
        prune_outbox(std::chrono::system_clock::now());
    }
}

} // namespace taskwatch::poll
