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
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct endpoint_state {
    std::string url;
    endpoint_throttle throttle;  ///< 429 and the throttling codes
    credential_gate credentials; ///< 401s: the gateway locks a key after 5 bad signatures
    /// Tasks that found the credentials' probe in flight: scheduled again at its answer.
    std::vector<task::task_key> parked;
    /// Discovery loops waiting for the same, woken by cancelling their timer.
    std::vector<asio::steady_timer*> waiting;
};

namespace {

std::string target_id_of(const std::string& project, const std::string& dataset) {
    return project + "/" + dataset;
}

// What matters after a restart besides the observation and the error, which are compared
// before the diff: not every poll's timestamp, so a quiet task costs no write.
struct durable_marks {
    bool up, stalled, gone, failing_reported, has_error;
    std::optional<task::time_point> failing_since, finished_at;
    std::uint64_t event_seq;
    explicit durable_marks(const task::task_state& s)
        : up(s.up)
        , stalled(s.stalled)
        , gone(s.gone)
        , failing_reported(s.failing_reported)
        , has_error(s.last_error.has_value())
        , failing_since(s.failing_since)
        , finished_at(s.finished_at)
        , event_seq(s.event_seq) {}
    bool operator==(const durable_marks&) const = default;
};

void log_event(const task::event& e) {
    const auto status_text = [](const std::optional<task::snapshot>& s) {
        if (!s || !s->status) return std::string();
        std::string out(modelarts::to_string(*s->status));
        if (!modelarts::is_known(*s->status))
            out += " (" + std::to_string(modelarts::to_code(*s->status)) + ")";
        return out;
    };
    std::string from = status_text(e.previous);
    std::string to = status_text(e.current);
    std::string progress;
    if (e.current && e.current->progress) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", *e.current->progress);
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

engine::engine(asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
               state::store& store, http::client& client, auth::authorizer& auth)
    : ex_(ex)
    , settings_(std::move(settings))
    , store_(store)
    , client_(client)
    , auth_(&auth)
    , bucket_(settings_->modelarts.max_requests_per_second,
              std::max(1.0, settings_->modelarts.max_requests_per_second), clock::now())
    , rng_(std::random_device{}())
    , dispatch_timer_(std::make_unique<asio::steady_timer>(ex)) {
    diff_settings_.stall_after = settings_->poll.stall_after;
    for (const auto& w : settings_->webhooks)
        if (w.progress_step && w.wants(task::event_type::progress))
            diff_settings_.progress_steps.push_back(*w.progress_step);
}

engine::~engine() = default;

std::size_t engine::failing_tasks() const {
    std::size_t n = 0;
    for (const auto& [k, t] : tasks_)
        if (t.state.last_poll.has_value() || t.state.last_error) n += t.state.up ? 0 : 1;
    return n;
}

void engine::spawn(asio::awaitable<void> work, const char* what) {
    ++running_;
    asio::co_spawn(ex_, std::move(work), [this, what](std::exception_ptr e) {
        --running_;
        log_escape(e, what);
    });
}

modelarts::api_client& engine::api_for(const config::target& t) {
    const auto& ep = config::endpoint_of(*settings_, t);
    const auto& project = config::project_id_of(*settings_, t);
    auto key = ep.to_string() + " " + project;
    auto it = apis_.find(key);
    if (it != apis_.end()) return *it->second;
    auto api = std::make_unique<modelarts::api_client>(client_, *auth_, ep, project);
    return *apis_.emplace(key, std::move(api)).first->second;
}

endpoint_state& engine::endpoint_for(const modelarts::api_client& api) {
    auto key = api.endpoint().to_string();
    auto& slot = endpoints_[key];
    if (!slot) {
        slot = std::make_unique<endpoint_state>();
        slot->url = key;
    }
    return *slot;
}

void engine::bind(tracked_task& tt, const config::target& t) {
    tt.target = &t;
    // Aliasing the settings: the labels live as long as anyone holds them.
    tt.labels = std::shared_ptr<const label_map>(settings_, &t.labels);
    tt.api = &api_for(t);
    tt.endpoint = &endpoint_for(*tt.api);
}

// --- may a request go to this endpoint now? ---------------------------------------------

clock::time_point engine::not_before(const endpoint_state& ep, clock::time_point now) const {
    return std::max(ep.throttle.paused_until(), ep.credentials.next_send(now));
}

bool engine::hold(tracked_task& tt, clock::time_point now) {
    auto& ep = *tt.endpoint;
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
    auto& ep = *tt.endpoint;
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
        if (it == tasks_.end() || !it->second.parked || it->second.endpoint != &ep) continue;
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

tracked_task& engine::track(const task::task_key& key, const config::target& t, bool configured) {
    auto [it, inserted] = tasks_.try_emplace(key);
    auto& tt = it->second;
    if (inserted) {
        tt.state.key = key;
        if (auto g = gone_.find(key); g != gone_.end()) {
            tt.state = std::move(g->second); // diff sees it reappear: discovered, new ids
            gone_.erase(g);
        }
    }
    bind(tt, t);
    tt.configured = tt.configured || configured;
    tt.listed = true;
    return tt;
}

void engine::untrack(std::map<task::task_key, tracked_task>::iterator it) {
    unschedule(it->second);
    claimed_.erase(it->second.poll_id); // a poll in flight drops its answer
    if (it->second.first_poll_owed && first_round_left_ > 0) --first_round_left_;
    tasks_.erase(it);
    ++erasures_;
}

// --- scheduling -------------------------------------------------------------------------

void engine::schedule(tracked_task& tt, clock::time_point due) {
    unschedule(tt);
    tt.parked = false;
    tt.schedule = ++next_schedule_;
    scheduled_.emplace(tt.schedule, &tt);
    heap_.push_back({due, tt.schedule});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    wake_dispatcher(due);
}

void engine::unschedule(tracked_task& tt) {
    // Its heap entry stays behind, stale: the dispatcher drops it when it comes up.
    if (tt.schedule != 0) scheduled_.erase(tt.schedule);
    tt.schedule = 0;
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
        // Drop stale entries (rescheduled or removed tasks) from the top.
        while (!heap_.empty() && !scheduled_.count(heap_.front().id)) {
            std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
            heap_.pop_back();
        }
        if (heap_.empty() || heap_.front().due > now + coalesce) {
            dispatcher_wakes_ = heap_.empty() ? now + 1h : heap_.front().due;
            timer.expires_at(dispatcher_wakes_);
            co_await timer.async_wait(use_tuple);
            dispatcher_wakes_ = clock::time_point::max();
            continue;
        }
        const auto entry = heap_.front();
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
        heap_.pop_back();
        auto found = scheduled_.find(entry.id);
        auto* tt = found->second;
        scheduled_.erase(found);
        tt->schedule = 0;

        // Wait out endpoint pauses (other endpoints go on), then for a slot in the budget.
        auto& ep = *tt->endpoint;
        if (hold(*tt, now)) continue;
        // While the endpoint recovers from throttling, no bursts: requests go one at a time.
        const double factor = ep.throttle.rate_factor(now);
        bucket_.set_rate(settings_->modelarts.max_requests_per_second * factor, now,
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
        jobs_.push_back({poll_id, tt->api, tt->endpoint, *ticket});
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
            if (waiting->schedule == 0 && !hold(*waiting, clock::now()))
                schedule(*waiting, clock::now());
            continue;
        }
        const auto& key = it->second->state.key;
        const auto sent = clock::now();
        std::string asked = key.task_id; // the key may go with its task during the request
        auto answer = co_await job.api->async_fetch_task(key.dataset_id, asked);
        // An answer about another task than the one asked for is malformed.
        auto res = modelarts::read_task(std::move(answer), asked);
        report(ep, job.ticket, res ? nullptr : &res.error());
        it = claimed_.find(job.poll_id);
        if (it == claimed_.end()) continue;
        auto* tt = it->second;
        claimed_.erase(it);
        finish_poll(*tt, std::move(res), sent);
    }
    std::erase(idle_workers_, &park);
    if (workers_ > index) workers_ = index; // the pool shrank on reload: workers above go too
}

void engine::finish_poll(tracked_task& tt, expected<modelarts::task, modelarts::api_error> res,
                         clock::time_point sent) {
    const auto& key = tt.state.key;
    const auto sys_now = std::chrono::system_clock::now();
    const auto now = clock::now();
    stats_.poll_duration.observe(std::chrono::duration<double>(now - sent).count());
    tt.polling = false;
    ++tt.polls;
    ++stats_.polls;
    auto& ep = *tt.endpoint;

    task::poll_outcome outcome;
    if (res) {
        if (auto obs = task::observe(*res))
            outcome = task::poll_ok{std::move(*obs)};
        else
            outcome = task::poll_failed{
                {std::string(modelarts::to_string(modelarts::error_kind::malformed)), "",
                 "the body describes no task", ""}};
        ep.throttle.on_success(now);
    } else {
        const auto& e = res.error();
        task::poll_error pe{std::string(modelarts::to_string(e.kind)), e.error_code,
                            e.error_msg.empty() ? e.detail : e.error_msg, e.request_id};
        if (e.kind == modelarts::error_kind::not_found)
            outcome = task::poll_gone{std::move(pe)};
        else
            outcome = task::poll_failed{std::move(pe)};
        if (e.kind == modelarts::error_kind::throttled)
            ep.throttle.on_throttled(now, e.retry_after);
        ++stats_.poll_failures;
        ++stats_.failures_by_reason[std::string(modelarts::to_string(e.kind))];
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

    // Worth a write? Compared before the diff, without copying the state.
    bool same = false;
    if (const auto* o = std::get_if<task::poll_ok>(&outcome))
        same = tt.state.last && *tt.state.last == o->seen;
    else if (const auto* f = std::get_if<task::poll_failed>(&outcome))
        same = tt.state.last_error && *tt.state.last_error == f->error;
    const durable_marks marks(tt.state);
    std::vector<task::event> events;
    // Too many events wait for the database: a poll that would add more is not applied (its
    // transition is seen again once writes succeed), one that adds none is.
    std::optional<task::task_state> undo;
    if (pending_.full()) undo = tt.state;
    task::advance(tt.state, outcome, diff_settings_, sys_now, events);
    const bool held = undo && !events.empty();
    if (held) {
        tt.state = std::move(*undo);
        events.clear();
        ++stats_.held_polls;
    }
    for (const auto& ev : events) {
        log_event(ev);
        ++stats_.events_by_type[std::string(task::to_string(ev.type))];
    }
    if (!held && (!events.empty() || !same || !(marks == durable_marks(tt.state))))
        pending_.add({tt.state, std::move(events)});
    if (tt.first_poll_owed) {
        tt.first_poll_owed = false;
        if (first_round_left_ > 0) --first_round_left_;
    }

    if (gone && !tt.configured && !held) {
        // Stored as gone; discovery brings it back if it reappears.
        auto it = tasks_.find(key);
        gone_.insert_or_assign(it->first, std::move(tt.state));
        untrack(it);
        return;
    }
    const auto& poll = settings_->poll;
    std::chrono::milliseconds delay;
    if (ok) {
        const bool finished = tt.state.last && tt.state.last->known_status() &&
                              modelarts::is_terminal(*tt.state.last->known_status());
        delay = jittered(finished ? poll.finished_interval : poll.interval, poll.jitter, rng_);
    } else if (gone) {
        delay = jittered(poll.finished_interval, poll.jitter, rng_);
    } else if (throttled) {
        delay = jittered(poll.interval, poll.jitter, rng_);
    } else {
        delay = failure_backoff(tt.failures, 1s,
                                std::max<std::chrono::milliseconds>(poll.interval, 60s), rng_);
    }
    schedule(tt, now + delay);
}

// --- start, reload, discovery -----------------------------------------------------------

void engine::start() {
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
    const auto now = clock::now();
    for (auto& [key, tt] : tasks_) {
        tt.first_poll_owed = true;
        ++first_round_left_;
        schedule(tt, now);
    }
    ensure_workers();
    spawn(async_dispatch_loop(), "dispatch");
    for (const auto& t : settings_->targets) {
        if (t.task_ids) continue;
        ++first_round_left_;
        start_discovery(target_id_of(config::project_id_of(*settings_, t), t.dataset_id));
    }
    spawn(async_commit_loop(), "commit");
    spawn(async_forget_loop(), "forget");
    log::info("watching", {{"tasks", std::to_string(tasks_.size())},
                           {"targets", std::to_string(settings_->targets.size())}});
}

const config::target* engine::find_target(const std::string& project_id,
                                          const std::string& dataset_id) const {
    for (const auto& t : settings_->targets)
        if (t.dataset_id == dataset_id && config::project_id_of(*settings_, t) == project_id)
            return &t;
    return nullptr;
}

void engine::start_discovery(const std::string& target_id) {
    if (!discovering_.insert(target_id).second) return;
    ++running_;
    asio::co_spawn(ex_, async_discovery_loop(target_id), [this, target_id](std::exception_ptr e) {
        --running_;
        discovering_.erase(target_id);
        log_escape(e, "discovery");
    });
}

void engine::reload(std::shared_ptr<const config::settings> fresh, auth::authorizer* auth) {
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
        if (w.progress_step && w.wants(task::event_type::progress))
            diff_settings_.progress_steps.push_back(*w.progress_step);
    bucket_.set_rate(settings_->modelarts.max_requests_per_second, clock::now());
    if (auth) {
        // New credentials are a new key: probed soon, one request at a time until it works.
        for (auto& [url, ep] : endpoints_) {
            ep->credentials.reset(clock::now());
            wake(*ep);
        }
    }

    // Which tasks stay: those of targets that remain, configured ids still listed.
    std::size_t removed = 0, added = 0;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        const auto* t = find_target(it->first.project_id, it->first.dataset_id);
        bool keep = t != nullptr;
        if (keep && t->task_ids) {
            keep = std::find(t->task_ids->begin(), t->task_ids->end(), it->first.task_id) !=
                   t->task_ids->end();
        } else if (keep) {
            it->second.configured = false;
        }
        if (keep) {
            bind(it->second, *t); // the old target and API client are gone
            if (it->second.parked) schedule(it->second, clock::now()); // perhaps another endpoint
            ++it;
        } else {
            untrack(it++); // a poll in flight finds it gone and drops its answer
            ++removed;
        }
    }
    const auto now = clock::now();
    for (const auto& t : settings_->targets) {
        const auto& project = config::project_id_of(*settings_, t);
        if (t.task_ids) {
            for (const auto& id : *t.task_ids) {
                task::task_key key{project, t.dataset_id, id};
                if (tasks_.count(key)) continue;
                schedule(track(key, t, true), now);
                ++added;
            }
        } else {
            start_discovery(target_id_of(project, t.dataset_id));
        }
    }
    // The budget or the connection limit may have changed.
    ensure_workers();
    for (auto* w : idle_workers_)
        w->cancel(); // those above a lower limit end
    idle_workers_.clear();
    log::info("configuration reloaded", {{"tasks", std::to_string(tasks_.size())},
                                         {"added", std::to_string(added)},
                                         {"removed", std::to_string(removed)}});
}

asio::awaitable<void> engine::async_sleep_until(asio::steady_timer& timer, clock::time_point when) {
    timer.expires_at(when);
    co_await timer.async_wait(use_tuple);
}

std::vector<std::string> engine::route(const task::event& e) const {
    std::vector<std::string> out;
    for (const auto& w : settings_->webhooks) {
        if (!w.wants(e.type)) continue;
        if (e.type == task::event_type::progress) {
            if (!w.progress_step || !e.previous || !e.current || !e.previous->progress ||
                !e.current->progress)
                continue;
            if (!task::crosses_progress_step(*e.previous->progress, *e.current->progress,
                                             {*w.progress_step}))
                continue;
        }
        out.push_back(w.name);
    }
    return out;
}

asio::awaitable<void> engine::async_discovery_loop(std::string target_id) {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    const auto slash = target_id.find('/');
    const std::string project = target_id.substr(0, slash);
    const std::string dataset = target_id.substr(slash + 1);
    bool first = true;
    while (!stopping_) {
        // Looked up afresh each round: a reload may have changed or removed the target.
        const auto* target_ptr = find_target(project, dataset);
        if (!target_ptr || target_ptr->task_ids) break;
        auto* api = &api_for(*target_ptr);
        auto* ep = &endpoint_for(*api);
        std::vector<std::string> seen; // every id listed this round, all types
        bool complete = true;
        // What this target knows already, by id: its tasks and tombstones are adjacent and in
        // id order in the ordered maps, so one sorted vector of views, gathered once per round
        // and again only when either map lost an entry meanwhile (a view would dangle). A
        // listed id not in it is looked up whole before it counts as new.
        std::vector<std::string_view> known;
        std::uint64_t known_as_of = ~std::uint64_t{0};
        const auto refresh_known = [&] {
            if (known_as_of == erasures_) return;
            known.clear();
            for (auto it = tasks_.lower_bound({project, dataset, ""});
                 it != tasks_.end() && it->first.project_id == project &&
                 it->first.dataset_id == dataset;
                 ++it)
                known.push_back(it->first.task_id);
            const auto tasks_end = static_cast<std::ptrdiff_t>(known.size());
            for (auto it = forgotten_.lower_bound({project, dataset, ""});
                 it != forgotten_.end() && it->project_id == project && it->dataset_id == dataset;
                 ++it)
                known.push_back(it->task_id);
            std::inplace_merge(known.begin(), known.begin() + tasks_end, known.end());
            known_as_of = erasures_;
        };
        for (auto type : modelarts::task_types) {
            // Wait out the endpoint's pauses and its credentials' probe, then for a slot.
            std::optional<credential_gate::ticket> ticket;
            while (!ticket) {
                // A reload while we waited may have changed the target, its endpoint or the
                // credentials: the request goes with the current ones.
                target_ptr = find_target(project, dataset);
                if (!target_ptr || target_ptr->task_ids) co_return;
                api = &api_for(*target_ptr);
                ep = &endpoint_for(*api);
                auto now = clock::now();
                if (const auto when = not_before(*ep, now); when > now) {
                    ep->waiting.push_back(&timer); // woken by the probe's answer
                    co_await async_sleep_until(timer, std::min(when, now + 1h));
                    std::erase(ep->waiting, &timer);
                    if (stopping_) co_return;
                    continue;
                }
                if (auto slot = bucket_.reserve(now); slot > now)
                    co_await async_sleep_until(timer, slot);
                if (stopping_) co_return;
                if (ep->throttle.paused_until() > clock::now()) continue;
                ticket = ep->credentials.try_send(clock::now());
                if (ticket &&
                    (find_target(project, dataset) != target_ptr || &api_for(*target_ptr) != api)) {
                    release(*ep, *ticket); // reloaded during the slot's wait: look again
                    ticket.reset();
                }
            }
            auto* sent_to = ep;
            auto res = co_await api->async_list_task_ids(dataset, std::string(type));
            report(*sent_to, *ticket, res ? nullptr : &res.error());
            if (!res) {
                complete = false;
                if (res.error().kind == modelarts::error_kind::throttled)
                    ep->throttle.on_throttled(clock::now(), res.error().retry_after);
                log::warn(
                    "listing tasks failed",
                    {{"dataset", dataset}, {"type", type}, {"error", res.error().to_string()}});
                break;
            }
            // A reload during the request may have removed or changed the target.
            target_ptr = find_target(project, dataset);
            if (!target_ptr || target_ptr->task_ids) co_return;
            api = &api_for(*target_ptr);
            ep = &endpoint_for(*api);
            const auto due = clock::now();
            refresh_known();
            std::vector<std::string> fresh;
            for (auto& id : *res) {
                if (!std::binary_search(known.begin(), known.end(), std::string_view(id)))
                    fresh.push_back(id);
                seen.push_back(std::move(id));
            }
            for (auto& id : fresh) {
                task::task_key key{project, dataset, std::move(id)};
                // Tracked since the round began (another type's page, a reload): not new.
                if (tasks_.count(key) || forgotten_.count(key)) continue;
                {
                    auto& tt = track(key, *target_ptr, false);
                    if (first) { // part of the first round: /-/ready waits for its poll
                        tt.first_poll_owed = true;
                        ++first_round_left_;
                    }
                    schedule(tt, due);
                }
            }
        }
        if (complete) {
            std::sort(seen.begin(), seen.end());
            const auto listed = [&](const std::string& id) {
                return std::binary_search(seen.begin(), seen.end(), id);
            };
            // The target's tasks are adjacent in the ordered map.
            for (auto it = tasks_.lower_bound({project, dataset, ""});
                 it != tasks_.end() && it->first.project_id == project &&
                 it->first.dataset_id == dataset;
                 ++it)
                if (!it->second.configured) it->second.listed = listed(it->first.task_id);
            // A tombstone the list no longer shows has done its job.
            for (auto it = forgotten_.lower_bound({project, dataset, ""});
                 it != forgotten_.end() && it->project_id == project &&
                 it->dataset_id == dataset;) {
                if (!listed(it->task_id)) {
                    try {
                        store_.forget(*it);
                    } catch (const std::exception& e) {
                        log::warn("cannot delete a forgotten task's state", {{"error", e.what()}});
                    }
                    it = forgotten_.erase(it);
                    ++erasures_;
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
            pending_.commit_to(store_, [this](const task::event& e) { return route(e); });
            ++stats_.commits;
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

asio::awaitable<void> engine::async_commit_loop() {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    while (!stopping_) {
        co_await async_sleep_until(timer, clock::now() + 200ms);
        commit_pending();
    }
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
            forgotten_.insert(it->first);
            log::info("forgetting a long-finished task",
                      {{"task", it->first.task_id}, {"dataset", it->first.dataset_id}});
            untrack(it++);
        } else {
            ++it;
        }
    }
}

asio::awaitable<void> engine::async_forget_loop() {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    while (!stopping_) {
        const auto every = std::clamp<std::chrono::milliseconds>(
            settings_->poll.forget_finished_after / 10, 100ms, 60s);
        co_await async_sleep_until(timer, clock::now() + every);
        if (!stopping_) forget_finished(std::chrono::system_clock::now());
    }
}

asio::awaitable<void> engine::async_stop() {
    stopping_ = true;
    for (auto& timer : loop_timers_)
        timer->cancel();
    dispatch_timer_->cancel();
    for (auto* w : idle_workers_)
        w->cancel();
    idle_workers_.clear();
    asio::steady_timer t(ex_);
    // In-flight polls end by their deadline at the latest. Polls still hanging after a moment
    // are abandoned: nothing of them was committed, and the next start polls those tasks
    // again. The contract gives the whole stop 10 s.
    const auto give_up =
        clock::now() + std::min<std::chrono::milliseconds>(settings_->modelarts.timeout, 3s);
    while (running_ > 0 && clock::now() < give_up) {
        t.expires_after(20ms);
        co_await t.async_wait(use_tuple);
    }
    if (!commit_pending())
        log::error("shutting down with unwritten state: lost " + std::to_string(pending_.states()) +
                       " task states and " + std::to_string(pending_.events()) + " events",
                   {{"file", store_.path().string()}, {"error", stats_.store_problem}});
    log::info("stopped polling", {{"polls", std::to_string(stats_.polls)}});
}

void engine::visit(const task::task_key* after, const visitor& f) const {
    for (auto it = after ? tasks_.upper_bound(*after) : tasks_.begin(); it != tasks_.end(); ++it) {
        if (it->second.state.forgotten || it->second.state.gone) continue;
        if (!f(it->second)) return;
    }
}

std::size_t engine::size() const {
    std::size_t n = 0;
    for (const auto& [key, tt] : tasks_)
        n += !(tt.state.forgotten || tt.state.gone);
    return n;
}

// --- the face

watcher::watcher(asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
                 state::store& store, http::client& client, auth::authorizer& auth)
    : engine_(std::make_unique<engine>(ex, std::move(settings), store, client, auth)) {}
watcher::~watcher() = default;
void watcher::start() {
    engine_->start();
}
asio::awaitable<void> watcher::async_stop() {
    return engine_->async_stop();
}
void watcher::reload(std::shared_ptr<const config::settings> settings, auth::authorizer* auth) {
    engine_->reload(std::move(settings), auth);
}
const task_view& watcher::tasks() const noexcept {
    return *engine_;
}
const watcher_stats& watcher::stats() const noexcept {
    return engine_->stats();
}
bool watcher::first_round_done() const noexcept {
    return engine_->first_round_done();
}
std::size_t watcher::failing_tasks() const {
    return engine_->failing_tasks();
}

} // namespace taskwatch::poll
