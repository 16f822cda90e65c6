#include "taskwatch/poll/watcher.hpp"

#include "taskwatch/log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

namespace taskwatch::poll {
namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct watcher::endpoint_state {
    endpoint_throttle throttle;   ///< 429 and the throttling codes
    endpoint_throttle auth_pause; ///< AK/SK rejections: the gateway locks a key after 5
    endpoint_state()
        : throttle()
        , auth_pause(endpoint_throttle::settings{30s, 10min, 1.0, 1.0, 1s}) {}
};

namespace {

std::string target_id_of(const std::string& project, const std::string& dataset) {
    return project + "/" + dataset;
}

// Only what matters after a restart is worth a write: not every poll's timestamp.
bool worth_storing(const task::task_state& before, const task::task_state& after) {
    return before.last != after.last || before.up != after.up ||
           before.last_error != after.last_error || before.failing_since != after.failing_since ||
           before.failing_reported != after.failing_reported || before.stalled != after.stalled ||
           before.gone != after.gone || before.event_seq != after.event_seq ||
           before.finished_at != after.finished_at;
}

void log_event(const task::event& e) {
    std::string from = e.previous ? std::string(modelarts::to_string(e.previous->status)) : "";
    std::string to = e.current ? std::string(modelarts::to_string(e.current->status)) : "";
    std::string progress;
    if (e.current) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.3f", e.current->progress);
        progress = buf;
    }
    std::string error = e.error ? e.error->reason + " " + e.error->error_code : "";
    log::info("event", {{"type", task::to_string(e.type)},
                        {"task", e.key.task_id},
                        {"dataset", e.key.dataset_id},
                        {"task_name", e.task_name},
                        {"from", from},
                        {"to", to},
                        {"progress", progress},
                        {"error", error},
                        {"id", e.id}});
}

void log_escape(std::exception_ptr e, const char* what) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log::error("coroutine ended by an exception", {{"in", what}, {"error", ex.what()}});
    } catch (...) {
        log::error("coroutine ended by an exception", {{"in", what}});
    }
}

} // namespace

watcher::watcher(asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
                 state::store& store, http::client& client, auth::authorizer& auth)
    : ex_(ex)
    , settings_(std::move(settings))
    , store_(store)
    , client_(client)
    , auth_(&auth)
    , bucket_(settings_->modelarts.max_requests_per_second,
              std::max(1.0, settings_->modelarts.max_requests_per_second), clock::now())
    , rng_(std::random_device{}()) {
    diff_settings_.stall_after = settings_->poll.stall_after;
    for (const auto& w : settings_->webhooks)
        if (w.progress_step && w.wants("task.progress"))
            diff_settings_.progress_steps.push_back(*w.progress_step);
}

watcher::~watcher() = default;

std::size_t watcher::failing_tasks() const {
    std::size_t n = 0;
    for (const auto& [k, t] : tasks_)
        if (t.state.last_poll.has_value() || t.state.last_error) n += t.state.up ? 0 : 1;
    return n;
}

modelarts::api_client& watcher::api_for(const config::target& t) {
    const auto& url = config::endpoint_of(*settings_, t);
    const auto& project = config::project_id_of(*settings_, t);
    auto key = url + " " + project;
    auto it = apis_.find(key);
    if (it != apis_.end()) return *it->second;
    auto ep = http::parse_url(url); // validated by the config loader
    auto api = std::make_unique<modelarts::api_client>(client_, *auth_, ep ? *ep : http::endpoint{},
                                                       project);
    return *apis_.emplace(key, std::move(api)).first->second;
}

watcher::endpoint_state& watcher::endpoint_for(const modelarts::api_client& api) {
    auto key = api.endpoint().to_string();
    auto& slot = endpoints_[key];
    if (!slot) slot = std::make_unique<endpoint_state>();
    return *slot;
}

tracked_task& watcher::track(const task::task_key& key, const config::target& t, bool configured) {
    auto [it, inserted] = tasks_.try_emplace(key);
    auto& tt = it->second;
    if (inserted) {
        tt.state.key = key;
        tt.timer = std::make_unique<asio::steady_timer>(ex_);
        if (auto g = gone_.find(key); g != gone_.end()) {
            tt.state = std::move(g->second); // diff sees it reappear: discovered, new ids
            gone_.erase(g);
        }
    }
    tt.labels = t.labels;
    tt.target_id = target_id_of(key.project_id, key.dataset_id);
    tt.configured = tt.configured || configured;
    tt.listed = true;
    return tt;
}

void watcher::start() {
    // What the last run knew: no task.discovered storm, no missed transition.
    std::map<task::task_key, task::task_state> stored;
    for (auto& s : store_.load_tasks()) {
        if (s.forgotten)
            forgotten_.insert(s.key);
        else if (s.gone)
            gone_.emplace(s.key, std::move(s));
        else
            stored.emplace(s.key, std::move(s));
    }

    for (const auto& t : settings_->targets) {
        const auto& project = config::project_id_of(*settings_, t);
        if (t.task_ids) {
            for (const auto& id : *t.task_ids)
                if (!forgotten_.count({project, t.dataset_id, id}))
                    track({project, t.dataset_id, id}, t, true);
        } else {
            // Discovered before: keep watching what is stored until the list says otherwise.
            for (auto& [key, s] : stored)
                if (key.project_id == project && key.dataset_id == t.dataset_id && !s.gone)
                    track(key, t, false);
        }
    }
    for (auto& [key, tt] : tasks_)
        if (auto it = stored.find(key); it != stored.end()) tt.state = std::move(it->second);

    started_ = true;
    first_round_left_ = tasks_.size();
    for (const auto& t : settings_->targets) {
        if (t.task_ids) continue;
        ++first_round_left_;
        start_discovery(target_id_of(config::project_id_of(*settings_, t), t.dataset_id));
    }
    for (const auto& [key, tt] : tasks_)
        spawn_task(key);
    ++running_;
    asio::co_spawn(ex_, async_commit_loop(), [this](std::exception_ptr e) {
        --running_;
        log_escape(e, "commit");
    });
    ++running_;
    asio::co_spawn(ex_, async_forget_loop(), [this](std::exception_ptr e) {
        --running_;
        log_escape(e, "forget");
    });
    log::info("watching", {{"tasks", std::to_string(tasks_.size())},
                           {"targets", std::to_string(settings_->targets.size())}});
}

const config::target* watcher::find_target(const std::string& target_id) const {
    for (const auto& t : settings_->targets)
        if (target_id_of(config::project_id_of(*settings_, t), t.dataset_id) == target_id)
            return &t;
    return nullptr;
}

void watcher::start_discovery(const std::string& target_id) {
    if (!discovering_.insert(target_id).second) return;
    ++running_;
    asio::co_spawn(ex_, async_discovery_loop(target_id), [this, target_id](std::exception_ptr e) {
        --running_;
        discovering_.erase(target_id);
        log_escape(e, "discovery");
    });
}

void watcher::reload(std::shared_ptr<const config::settings> fresh, auth::authorizer* auth) {
    settings_ = std::move(fresh);
    if (auth) auth_ = auth;
    // Credentials, an endpoint or a project may have changed: API clients are built afresh on
    // demand; the old ones stay alive for polls still in flight.
    for (auto& [k, api] : apis_)
        retired_apis_.push_back(std::move(api));
    apis_.clear();
    diff_settings_ = {};
    diff_settings_.stall_after = settings_->poll.stall_after;
    for (const auto& w : settings_->webhooks)
        if (w.progress_step && w.wants("task.progress"))
            diff_settings_.progress_steps.push_back(*w.progress_step);
    bucket_.set_rate(settings_->modelarts.max_requests_per_second, clock::now());

    // Which tasks stay: those of targets that remain, configured ids still listed.
    std::size_t removed = 0, added = 0;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        const auto* t = find_target(it->second.target_id);
        bool keep = t != nullptr;
        if (keep && t->task_ids) {
            keep = std::find(t->task_ids->begin(), t->task_ids->end(), it->first.task_id) !=
                   t->task_ids->end();
        } else if (keep) {
            it->second.configured = false;
        }
        if (keep) {
            it->second.labels = t->labels;
            ++it;
        } else {
            if (it->second.timer) it->second.timer->cancel(); // its loop ends when it wakes
            it = tasks_.erase(it);
            ++removed;
        }
    }
    for (const auto& t : settings_->targets) {
        const auto& project = config::project_id_of(*settings_, t);
        if (t.task_ids) {
            for (const auto& id : *t.task_ids) {
                task::task_key key{project, t.dataset_id, id};
                if (tasks_.count(key)) continue;
                track(key, t, true);
                spawn_task(key);
                ++added;
            }
        } else {
            start_discovery(target_id_of(project, t.dataset_id));
        }
    }
    log::info("configuration reloaded", {{"tasks", std::to_string(tasks_.size())},
                                         {"added", std::to_string(added)},
                                         {"removed", std::to_string(removed)}});
}

void watcher::spawn_task(const task::task_key& key) {
    auto& tt = tasks_.at(key);
    tt.loop_id = ++next_loop_id_;
    ++running_;
    asio::co_spawn(ex_, async_task_loop(key, tt.loop_id), [this](std::exception_ptr e) {
        --running_;
        log_escape(e, "task poll loop");
    });
}

asio::awaitable<void> watcher::async_sleep_until(asio::steady_timer& timer,
                                                 clock::time_point when) {
    timer.expires_at(when);
    co_await timer.async_wait(use_tuple);
}

std::vector<std::string> watcher::route(const task::event& e) const {
    std::vector<std::string> out;
    const auto type = task::to_string(e.type);
    for (const auto& w : settings_->webhooks) {
        if (!w.wants(type)) continue;
        if (e.type == task::event_type::progress) {
            if (!w.progress_step || !e.previous || !e.current) continue;
            if (!task::crosses_progress_step(e.previous->progress, e.current->progress,
                                             {*w.progress_step}))
                continue;
        }
        out.push_back(w.name);
    }
    return out;
}

asio::awaitable<void> watcher::async_task_loop(task::task_key key, std::uint64_t loop_id) {
    bool first = true;
    while (!stopping_) {
        auto it = tasks_.find(key);
        if (it == tasks_.end() || it->second.loop_id != loop_id) break;
        // The timer outlives an erase of the task while we sleep on it.
        auto* timer = it->second.timer.get();
        const config::target* target = nullptr;
        for (const auto& t : settings_->targets)
            if (t.dataset_id == key.dataset_id &&
                config::project_id_of(*settings_, t) == key.project_id)
                target = &t;
        if (!target) break;
        auto& api = api_for(*target);
        auto& ep = endpoint_for(api);

        // Wait out endpoint pauses, then for a slot in the request budget.
        auto now = clock::now();
        auto not_before = std::max(ep.throttle.paused_until(), ep.auth_pause.paused_until());
        if (not_before > now) {
            co_await async_sleep_until(*timer, not_before);
            continue;
        }
        // While the endpoint recovers from throttling, no bursts: requests go one at a time.
        const double factor = ep.throttle.rate_factor(now);
        bucket_.set_rate(settings_->modelarts.max_requests_per_second * factor, now,
                         factor < 1.0 ? std::optional<double>(1.0) : std::nullopt);
        if (auto slot = bucket_.reserve(now); slot > now) {
            co_await async_sleep_until(*timer, slot);
            if (stopping_) break;
            // A throttle may have paused the endpoint while we waited for our slot: then the
            // slot is void, and we queue again behind the pause at the reduced rate.
            if (std::max(ep.throttle.paused_until(), ep.auth_pause.paused_until()) > clock::now())
                continue;
            it = tasks_.find(key);
            if (it == tasks_.end() || it->second.loop_id != loop_id) break;
        }

        it->second.polling = true;
        const auto sent = clock::now();
        auto res = co_await api.async_get_task(key.dataset_id, key.task_id);
        const auto sys_now = std::chrono::system_clock::now();
        now = clock::now();
        stats_.poll_duration.observe(std::chrono::duration<double>(now - sent).count());
        it = tasks_.find(key);
        if (it == tasks_.end() || it->second.loop_id != loop_id) break;
        auto& tt = it->second;
        tt.polling = false;
        ++tt.polls;
        ++stats_.polls;

        task::poll_outcome outcome;
        if (res) {
            if (auto obs = task::observe(*res))
                outcome = task::poll_ok{std::move(*obs)};
            else
                outcome = task::poll_failed{{"malformed", "", "the task has no status", ""}};
            ep.throttle.on_success(now);
            ep.auth_pause.on_success(now);
        } else {
            const auto& e = res.error();
            task::poll_error pe{std::string(modelarts::to_string(e.kind)), e.error_code,
                                e.error_msg.empty() ? e.detail : e.error_msg, e.request_id};
            if (e.kind == modelarts::error_kind::not_found)
                outcome = task::poll_gone{pe};
            else
                outcome = task::poll_failed{pe};
            if (e.kind == modelarts::error_kind::throttled)
                ep.throttle.on_throttled(now, e.retry_after);
            if (e.kind == modelarts::error_kind::auth && auth_->scheme() == "aksk")
                ep.auth_pause.on_throttled(now, std::nullopt);
            ++stats_.poll_failures;
            ++stats_.failures_by_reason[pe.reason];
            if (tt.failures == 0 || log::enabled(log::level::debug))
                log::warn(
                    "poll failed",
                    {{"task", key.task_id}, {"dataset", key.dataset_id}, {"error", e.to_string()}});
        }
        const bool ok = std::holds_alternative<task::poll_ok>(outcome);
        const bool gone = std::holds_alternative<task::poll_gone>(outcome);
        // Throttling is the endpoint's business (pause, slower budget), not this task's fault.
        const bool throttled = !res && res.error().kind == modelarts::error_kind::throttled;
        tt.failures = ok || throttled ? 0 : tt.failures + 1;

        auto before = tt.state;
        std::vector<task::event> events;
        task::advance(tt.state, outcome, diff_settings_, sys_now, events);
        for (const auto& ev : events) {
            log_event(ev);
            ++stats_.events_by_type[std::string(task::to_string(ev.type))];
        }
        if (!events.empty() || worth_storing(before, tt.state))
            pending_.push_back({tt.state, std::move(events)});
        if (first) {
            first = false;
            if (first_round_left_ > 0) --first_round_left_;
        }

        if (gone && !tt.configured) {
            // Stored as gone; discovery brings it back if it reappears.
            gone_.insert_or_assign(key, std::move(tt.state));
            tasks_.erase(it);
            break;
        }
        std::chrono::milliseconds delay;
        if (ok) {
            const bool finished = tt.state.last && modelarts::is_terminal(tt.state.last->status);
            delay =
                jittered(finished ? settings_->poll.finished_interval : settings_->poll.interval,
                         settings_->poll.jitter, rng_);
        } else if (gone) {
            delay = jittered(settings_->poll.finished_interval, settings_->poll.jitter, rng_);
        } else if (throttled) {
            delay = jittered(settings_->poll.interval, settings_->poll.jitter, rng_);
        } else {
            delay = failure_backoff(
                tt.failures, 1s, std::max<std::chrono::milliseconds>(settings_->poll.interval, 60s),
                rng_);
        }
        co_await async_sleep_until(*tt.timer, now + delay);
    }
}

asio::awaitable<void> watcher::async_discovery_loop(std::string target_id) {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    bool first = true;
    while (!stopping_) {
        // Looked up afresh each round: a reload may have changed or removed the target.
        const auto* target_ptr = find_target(target_id);
        if (!target_ptr || target_ptr->task_ids) break;
        const config::target target = *target_ptr;
        auto& api = api_for(target);
        auto& ep = endpoint_for(api);
        const auto& project = config::project_id_of(*settings_, target);
        std::set<std::string> seen;
        bool complete = true;
        for (auto type : modelarts::task_types) {
            auto now = clock::now();
            auto not_before = std::max(ep.throttle.paused_until(), ep.auth_pause.paused_until());
            if (not_before > now) co_await async_sleep_until(timer, not_before);
            if (stopping_) co_return;
            if (auto slot = bucket_.reserve(clock::now()); slot > clock::now())
                co_await async_sleep_until(timer, slot);
            if (stopping_) co_return;
            auto res = co_await api.async_list_tasks(target.dataset_id, std::string(type));
            if (!res) {
                complete = false;
                if (res.error().kind == modelarts::error_kind::throttled)
                    ep.throttle.on_throttled(clock::now(), res.error().retry_after);
                log::warn("listing tasks failed", {{"dataset", target.dataset_id},
                                                   {"type", type},
                                                   {"error", res.error().to_string()}});
                break;
            }
            for (const auto& t : *res) {
                if (!t.task_id) continue;
                seen.insert(*t.task_id);
                task::task_key key{project, target.dataset_id, *t.task_id};
                if (!tasks_.count(key) && !forgotten_.count(key)) {
                    track(key, target, false);
                    spawn_task(key);
                }
            }
        }
        if (complete) {
            for (auto& [key, tt] : tasks_)
                if (!tt.configured && key.project_id == project &&
                    key.dataset_id == target.dataset_id)
                    tt.listed = seen.count(key.task_id) > 0;
            // A tombstone the list no longer shows has done its job.
            for (auto it = forgotten_.begin(); it != forgotten_.end();) {
                if (it->project_id == project && it->dataset_id == target.dataset_id &&
                    !seen.count(it->task_id)) {
                    try {
                        store_.forget(*it);
                    } catch (const std::exception& e) {
                        log::warn("cannot delete a forgotten task's state", {{"error", e.what()}});
                    }
                    it = forgotten_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        if (first) {
            first = false;
            if (first_round_left_ > 0) --first_round_left_;
        }
        co_await async_sleep_until(
            timer, clock::now() + jittered(settings_->poll.interval, settings_->poll.jitter, rng_));
    }
}

bool watcher::commit_pending() {
    if (pending_.empty()) return true;
    try {
        store_.commit(pending_, [this](const task::event& e) { return route(e); });
        ++stats_.commits;
        pending_.clear();
        return true;
    } catch (const std::exception& e) {
        // Kept in memory and tried again: nothing is lost unless the process dies too.
        ++stats_.commit_failures;
        log::error("cannot commit task states and events",
                   {{"error", e.what()}, {"pending", std::to_string(pending_.size())}});
        return false;
    }
}

asio::awaitable<void> watcher::async_commit_loop() {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    while (!stopping_) {
        co_await async_sleep_until(timer, clock::now() + 200ms);
        commit_pending();
    }
}

void watcher::forget_finished(task::time_point now) {
    const auto limit = settings_->poll.forget_finished_after;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        auto& tt = it->second;
        const auto& st = tt.state;
        if (!tt.polling && st.finished_at && st.last && modelarts::is_terminal(st.last->status) &&
            now - *st.finished_at >= limit) {
            tt.state.forgotten = true;
            pending_.push_back({tt.state, {}});
            forgotten_.insert(it->first);
            log::info("forgetting a long-finished task",
                      {{"task", it->first.task_id}, {"dataset", it->first.dataset_id}});
            if (tt.timer) tt.timer->cancel();
            it = tasks_.erase(it);
        } else {
            ++it;
        }
    }
}

asio::awaitable<void> watcher::async_forget_loop() {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    while (!stopping_) {
        const auto every = std::clamp<std::chrono::milliseconds>(
            settings_->poll.forget_finished_after / 10, 100ms, 60s);
        co_await async_sleep_until(timer, clock::now() + every);
        if (!stopping_) forget_finished(std::chrono::system_clock::now());
    }
}

asio::awaitable<void> watcher::async_stop() {
    stopping_ = true;
    for (auto& timer : loop_timers_)
        timer->cancel();
    for (auto& [key, tt] : tasks_)
        if (tt.timer) tt.timer->cancel();
    // In-flight polls end by their deadline at the latest.
    asio::steady_timer t(ex_);
    // Polls still hanging after a moment are abandoned: nothing of them was committed, and
    // the next start polls those tasks again. The contract gives the whole stop 10 s.
    const auto give_up =
        clock::now() + std::min<std::chrono::milliseconds>(settings_->modelarts.timeout, 3s);
    while (running_ > 0 && clock::now() < give_up) {
        t.expires_after(20ms);
        co_await t.async_wait(use_tuple);
    }
    commit_pending();
    log::info("stopped polling", {{"polls", std::to_string(stats_.polls)}});
}

} // namespace taskwatch::poll
