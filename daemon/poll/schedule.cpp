// Scheduling: the due-time heap, the dispatcher that hands due tasks to the poll workers
// within max_connections and the request budget, and the pacing gates every request passes.
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

// --- may a request go to this endpoint now? ---------------------------------------------

clock::time_point engine::not_before(const endpoint_state& ep, clock::time_point now) const {
    return std::max(ep.throttle.paused_until(), ep.credentials.next_send(now));
}

bool engine::hold(tracked_task& tt, clock::time_point now) {
    auto& ep = *tt.binding->endpoint;
    const auto when = not_before(ep, now);
    if (when <= now) return false;
    if (when == clock::time_point::max()) {
        // The credentials' probe is in flight: its answer schedules this task again.
        unschedule(tt);
        tt.parked = true;
        ep.parked.push_back(tt.state.key);
    } else {
        schedule(tt, when); // behind the pause, not each firing its own failure
    }
    return true;
}

std::optional<credential_gate::ticket> engine::admit(tracked_task& tt, clock::time_point now) {
    auto& ep = *tt.binding->endpoint;
    if (ep.throttle.paused_until() <= now)
        if (auto t = ep.credentials.try_send(now)) return t;
    if (!hold(tt, now)) schedule(tt, now);
    return std::nullopt;
}

void engine::wake(endpoint_state& ep) {
    const auto now = clock::now();
    const auto when = not_before(ep, now);
    if (when == clock::time_point::max()) return; // still waiting for a probe's answer
    auto parked = std::move(ep.parked);
    ep.parked.clear();
    for (const auto& key : parked) {
        auto it = tasks_.find(key);
        if (it == tasks_.end() || !it->second.parked || it->second.binding->endpoint != &ep)
            continue;
        schedule(it->second, when);
    }
    for (auto* timer : std::exchange(ep.waiting, {}))
        timer->cancel();
}

void engine::release(endpoint_state& ep, credential_gate::ticket t) {
    ep.credentials.on_no_verdict(t);
    if (t.probe) wake(ep);
}

std::string engine::targets_on(const endpoint_state& ep) const {
    std::string out;
    for (const auto& t : settings_->targets) {
        if (config::endpoint_of(*settings_, t).to_string() != ep.url) continue;
        if (!out.empty()) out += ",";
        out += target_id_of(config::project_id_of(*settings_, t), t.dataset_id);
    }
    return out;
}

void engine::report(endpoint_state& ep, credential_gate::ticket t, const modelarts::api_error* e) {
    using modelarts::error_kind;
    const auto now = clock::now();
    if (!e || e->kind == error_kind::not_found) {
        // Only a valid signature gets this far: the credentials work.
        if (ep.credentials.on_success(t))
            log::info("credentials accepted again", {{"endpoint", ep.url},
                                                     {"targets", targets_on(ep)},
                                                     {"scheme", std::string(auth_->scheme())}});
    } else if (e->kind == error_kind::auth && e->http_status == 401) {
        if (ep.credentials.on_rejected(t, now)) {
            const auto& limits = ep.credentials.limits();
            const auto next =
                std::chrono::ceil<std::chrono::seconds>(ep.credentials.paused_until() - now);
            const bool aksk = auth_->scheme() == "aksk";
            log::warn(
                "credentials rejected: no request to this endpoint until one probe after the "
                "pause",
                {{"endpoint", ep.url},
                 {"targets", targets_on(ep)},
                 {"error", e->to_string()},
                 {"next_probe_in", std::to_string(next.count()) + "s"},
                 {"rejections_in_window",
                  std::to_string(ep.credentials.failures_within_window(now))},
                 {"limit",
                  "at most " + std::to_string(limits.max_failures) + " rejected requests per " +
                      std::to_string(
                          std::chrono::duration_cast<std::chrono::minutes>(limits.window).count()) +
                      " minutes, so that the key is not locked"},
                 {"check", aksk ? "that the SK in sk_file belongs to the AK in ak_file, and the "
                                  "system clock: an X-Sdk-Date far from the gateway's time is "
                                  "rejected (APIGW.0303/0301 vary); fix, then SIGHUP"
                                : "the IAM user, domain and password (password_file) and the "
                                  "project; fix, then SIGHUP"}});
        }
    } else {
        ep.credentials.on_no_verdict(t); // no verdict on the credentials
    }
    if (t.probe) wake(ep);
}

// --- scheduling -------------------------------------------------------------------------

void engine::schedule(tracked_task& tt, clock::time_point due) {
    tt.parked = false;
    heap_.set(tt, due);
    wake_dispatcher(due);
}

void engine::unschedule(tracked_task& tt) {
    heap_.erase(tt);
}

void engine::wake_dispatcher(clock::time_point due) {
    if (due < dispatcher_wakes_) {
        dispatcher_wakes_ = due;
        dispatch_timer_->cancel();
    }
}

asio::awaitable<void> engine::async_dispatch_loop() {
    auto& timer = *dispatch_timer_;
    while (!stopping_) {
        // Tasks due within this window go out together: one wake-up, many requests, answers
        // read together. A poll up to 1% of an interval early (at most 100 ms) changes nothing.
        const auto coalesce =
            std::clamp<std::chrono::milliseconds>(settings_->poll.interval / 100, 1ms, 100ms);
        auto now = clock::now();
        if (heap_.empty() || heap_.top().due > now + coalesce) {
            dispatcher_wakes_ = heap_.empty() ? now + 1h : heap_.top().due;
            timer.expires_at(dispatcher_wakes_);
            co_await timer.async_wait(use_tuple);
            dispatcher_wakes_ = clock::time_point::max();
            continue;
        }
        auto* tt = heap_.pop();

        // Wait out endpoint pauses (other endpoints go on), then for a slot in the budget.
        auto& ep = *tt->binding->endpoint;
        if (hold(*tt, now)) continue;
        // While the endpoint recovers from throttling, no bursts: requests go one at a time.
        const double factor = ep.throttle.rate_factor(now);
        bucket_.set_rate(config::request_rate_of(*settings_) * factor, now,
                         factor < 1.0 ? std::optional<double>(1.0) : std::nullopt);
        const auto poll_id = tt->poll_id = ++next_poll_id_;
        claimed_.emplace(poll_id, tt);
        if (auto slot = bucket_.reserve(now); slot > now) {
            // The slot is this task's: the next due tasks queue behind it, in order.
            dispatcher_wakes_ = clock::time_point::min(); // nothing may jump the queue
            timer.expires_at(slot);
            co_await timer.async_wait(use_tuple);
            dispatcher_wakes_ = clock::time_point::max();
            if (stopping_) break;
            auto it = claimed_.find(poll_id);
            if (it == claimed_.end()) continue; // removed meanwhile
            tt = it->second;
        }
        // A throttle or a 401 may have paused the endpoint while we waited for the slot, or the
        // credentials' probe went out meanwhile: then the slot is void, and the task waits.
        const auto ticket = admit(*tt, clock::now());
        if (!ticket) {
            claimed_.erase(poll_id);
            continue;
        }
        // The workers (max_connections of them) take jobs in order; no wait here for one.
        tt->polling = true;
        jobs_.push_back({poll_id, tt->binding->api, tt->binding->endpoint, *ticket});
        if (!idle_workers_.empty()) {
            idle_workers_.back()->cancel();
            idle_workers_.pop_back();
        }
    }
}

void engine::ensure_workers() {
    // One persistent coroutine per allowed connection: a poll allocates no frame of its own.
    while (workers_ < settings_->modelarts.max_connections) {
        spawn(async_worker(workers_), "poll worker");
        ++workers_;
    }
}

asio::awaitable<void> engine::async_worker(std::size_t index) {
    asio::steady_timer park(ex_);
    std::string asked; // the polled task's id, in one buffer for every poll
    while (!stopping_ && index < settings_->modelarts.max_connections) {
        if (jobs_.empty()) {
            idle_workers_.push_back(&park);
            park.expires_at(clock::time_point::max());
            co_await park.async_wait(use_tuple);
            std::erase(idle_workers_, &park); // woken by a stop, not by a job
            continue;
        }
        const auto job = jobs_.front();
        jobs_.pop_front();
        // The task may have been removed since it was handed over, and while it is polled.
        auto it = claimed_.find(job.poll_id);
        if (it == claimed_.end()) {
            release(*job.endpoint, job.ticket); // never sent
            continue;
        }
        auto& ep = *job.endpoint;
        if (ep.throttle.paused_until() > clock::now() || !ep.credentials.current(job.ticket)) {
            // Throttled or rejected while it waited in the queue: after the pause.
            auto* waiting = it->second;
            claimed_.erase(it);
            waiting->polling = false;
            release(ep, job.ticket);
            if (!scheduled(*waiting) && !hold(*waiting, clock::now()))
                schedule(*waiting, clock::now());
            continue;
        }
        const auto& key = it->second->state.key;
        const auto sent = clock::now();
        asked.assign(key.task_id); // the key may go with its task during the request
        auto answer = co_await job.api->async_fetch_task(key.dataset_id, key.task_id);
        // An answer about another task than the one asked for is malformed.
        auto res = modelarts::read_task(answer, asked);
        // The body goes on with the poll: the task's page shows the last answer stored.
        std::string body = res ? std::move(answer->body) : std::string();
        report(ep, job.ticket, res ? nullptr : &res.error());
        it = claimed_.find(job.poll_id);
        if (it == claimed_.end()) continue;
        auto* tt = it->second;
        claimed_.erase(it);
        finish_poll(*tt, std::move(res), sent, std::move(body));
    }
    std::erase(idle_workers_, &park);
    if (workers_ > index) workers_ = index; // the pool shrank on reload: workers above go too
}

} // namespace taskwatch::poll
