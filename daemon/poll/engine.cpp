// The engine's life: construction, tasks tracked and bound to their target, what one poll's
// answer changes (finish_poll), start, reload and stop. Scheduling, discovery and commits
// are in schedule.cpp, discovery.cpp and commit.cpp.
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
#include <utility>

namespace taskwatch::poll {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// What matters after a restart besides the observation and the error, which are compared
// before the diff: not every poll's timestamp, so a quiet task costs no write.
struct durable_marks {
    bool up, stalled, gone, failing_reported, has_error;
    std::optional<task::time_point> failing_since, finished_at;
    std::uint64_t event_seq;
    std::uint32_t cycle;
    explicit durable_marks(const task::task_state& s)
        : up(s.up)
        , stalled(s.stalled)
        , gone(s.gone)
        , failing_reported(s.failing_reported)
        , has_error(s.last_error.has_value())
        , failing_since(s.failing_since)
        , finished_at(s.finished_at)
        , event_seq(s.event_seq)
        , cycle(s.cycle) {}
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

} // namespace

engine::engine(asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
               event_routing routing, state::store& store, http::client& client,
               std::shared_ptr<auth::authorizer> auth)
    : ex_(ex)
    , settings_(std::move(settings))
    , routing_(std::move(routing))
    , store_(store)
    , client_(client)
    , auth_(std::move(auth))
    , bucket_(config::request_rate_of(*settings_),
              std::max(1.0, config::request_rate_of(*settings_)), clock::now())
    , rng_(std::random_device{}())
    , dispatch_timer_(std::make_unique<asio::steady_timer>(ex)) {
    diff_settings_.stall_after = settings_->poll.stall_after;
    diff_settings_.progress_steps = routing_.progress_steps;
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
        log::exception_ended(e, what);
    });
}

namespace {

// An API client with the authorizer it signs with: whoever holds the client holds both.
struct api_with_auth {
    api_with_auth(http::client& c, std::shared_ptr<auth::authorizer> a, http::endpoint ep,
                  std::string project)
        : auth(std::move(a))
        , api(c, *auth, std::move(ep), std::move(project)) {}
    std::shared_ptr<auth::authorizer> auth;
    modelarts::api_client api;
};

} // namespace

const api_binding& engine::binding_for(const config::target& t) {
    const auto& ep = config::endpoint_of(*settings_, t);
    const auto& project = config::project_id_of(*settings_, t);
    auto key = ep.to_string() + " " + project;
    auto it = apis_.find(key);
    if (it != apis_.end()) return it->second;
    auto both = std::make_shared<api_with_auth>(client_, auth_, ep, project);
    std::shared_ptr<modelarts::api_client> api(both, &both->api);
    auto* state = &endpoint_for(*api);
    return apis_.emplace(key, api_binding{std::move(api), state}).first->second;
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
    // Aliasing the settings: the labels live as long as anyone holds them.
    tt.labels = std::shared_ptr<const label_map>(settings_, &t.labels);
    tt.binding = &binding_for(t);
}

tracked_task& engine::track(const task::task_key& key, const config::target& t, bool configured) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) {
        tracked_task fresh;
        if (auto g = gone_.find(key); g != gone_.end()) {
            fresh.state = std::move(g->second); // diff sees it reappear: discovered, new ids
            gone_.erase(g);
        } else {
            fresh.state.key = key;
        }
        // Keyed by the caller's key until the node exists, then by its own.
        it = tasks_.emplace(task_key_ref{&key}, std::move(fresh)).first;
        auto node = tasks_.extract(it);
        node.key() = task_key_ref{&node.mapped().state.key};
        it = tasks_.insert(std::move(node)).position;
    }
    auto& tt = it->second;
    bind(tt, t);
    tt.configured = tt.configured || configured;
    tt.listed = true;
    return tt;
}

void engine::replace_state(tracked_task& tt, task::task_state&& state) {
    tt.state = std::move(state);
    ++keys_moved_;
}

void engine::untrack(task_map::iterator it) {
    unschedule(it->second);
    claimed_.erase(it->second.poll_id); // a poll in flight drops its answer
    if (it->second.first_poll_owed && first_round_left_ > 0) --first_round_left_;
    tasks_.erase(it);
    ++keys_moved_;
}

void engine::finish_poll(tracked_task& tt, expected<modelarts::task, modelarts::api_error> res,
                         clock::time_point sent, std::string body) {
    const auto& key = tt.state.key;
    const auto sys_now = std::chrono::system_clock::now();
    const auto now = clock::now();
    stats_.poll_duration.observe(std::chrono::duration<double>(now - sent).count());
    tt.polling = false;
    ++stats_.polls;
    auto& ep = *tt.binding->endpoint;

    task::poll_outcome outcome;
    if (res) {
        if (auto obs = task::observe(std::move(*res)))
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
        replace_state(tt, std::move(*undo));
        events.clear();
        ++stats_.held_polls;
    }
    std::optional<state::history_point> point;
    if (ok && !held && tt.state.last) {
        const auto& o = *tt.state.last;
        tt.estimate.observe(sys_now, o.known_status(), o.known_progress(),
                            o.annotated_sample_count);
        auto p = state::point_of(o, sys_now);
        if (state::history_due(tt.last_point, p)) point = tt.last_point = p;
    }
    for (const auto& ev : events) {
        log_event(ev);
        ++stats_.events_by_type[std::string(task::to_string(ev.type))];
    }
    if (!held && (point || !events.empty() || !same || !(marks == durable_marks(tt.state)))) {
        if (!events.empty()) commit_soon();
        if (!ok || body.size() > max_stored_answer) body.clear();
        pending_.add({tt.state, std::move(events), point, std::move(body)});
    }
    if (tt.first_poll_owed) {
        tt.first_poll_owed = false;
        if (first_round_left_ > 0) --first_round_left_;
    }

    if (gone && !tt.configured && !held) {
        // Stored as gone; discovery brings it back if it reappears.
        auto it = tasks_.find(key);
        gone_.insert_or_assign(tt.state.key, std::move(tt.state));
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

// --- start, reload, stop

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
            for (const auto& id : *t.task_ids) {
                task::task_key key{project, t.dataset_id, id};
                if (!forgotten_.count(key) && owns(key)) track(key, t, true);
            }
        } else {
            // Discovered before: keep watching what is stored until the list says otherwise.
            // A stored task of another shard stays in the database, unwatched.
            for (auto& [key, s] : stored)
                if (key.project_id == project && key.dataset_id == t.dataset_id && !s.gone &&
                    owns(key))
                    track(key, t, false);
        }
    }
    for (auto& [key, tt] : tasks_) {
        if (auto found = stored.find(tt.state.key); found != stored.end())
            replace_state(tt, std::move(found->second));
    }

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
                           {"targets", std::to_string(settings_->targets.size())},
                           {"shard", task::to_string(settings_->shard)}});
}

void engine::reload(std::shared_ptr<const config::settings> fresh, event_routing routing,
                    std::shared_ptr<auth::authorizer> auth) {
    settings_ = std::move(fresh);
    routing_ = std::move(routing);
    const bool new_credentials = auth != nullptr;
    if (new_credentials) auth_ = std::move(auth);
    // Credentials, an endpoint or a project may have changed: API clients are built afresh on
    // demand; each old one lives on in the polls still using it (with its authorizer), and
    // goes with the last of them. The old bindings last until every task is bound again.
    const auto old_bindings = std::exchange(apis_, {});
    diff_settings_ = {};
    diff_settings_.stall_after = settings_->poll.stall_after;
    diff_settings_.progress_steps = routing_.progress_steps;
    bucket_.set_rate(config::request_rate_of(*settings_), clock::now());
    if (new_credentials) {
        // New credentials are a new key: probed soon, one request at a time until it works.
        for (auto& [url, ep] : endpoints_) {
            ep->credentials.reset(clock::now());
            wake(*ep);
        }
    }

    // Which tasks stay: those of targets that remain, configured ids still listed, in this
    // shard. One that moved to another shard leaves quietly (no task.gone: it is not gone,
    // another instance watches it); its stored state stays.
    std::size_t removed = 0, added = 0;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        const auto& key = it->second.state.key;
        const auto* t = find_target(key.project_id, key.dataset_id);
        bool keep = t != nullptr && owns(key);
        if (keep && t->task_ids) {
            keep = std::find(t->task_ids->begin(), t->task_ids->end(), it->first.key->task_id) !=
                   t->task_ids->end();
        } else if (keep) {
            it->second.configured = false;
        }
        if (keep) {
            bind(it->second, *t); // its old binding is gone with apis_
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
                if (tasks_.count(key) || !owns(key)) continue;
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
                                         {"removed", std::to_string(removed)},
                                         {"shard", task::to_string(settings_->shard)}});
}

asio::awaitable<void> engine::async_sleep_until(asio::steady_timer& timer, clock::time_point when) {
    timer.expires_at(when);
    co_await timer.async_wait(use_tuple);
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
    visit_map(tasks_, after, f);
}

std::size_t engine::size() const {
    return size_of_map(tasks_);
}

} // namespace taskwatch::poll
