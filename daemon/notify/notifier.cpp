#include "taskwatch/notify/notifier.hpp"

#include "taskwatch/detail/base64.hpp"
#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/notify/format.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <random>

namespace taskwatch::notify {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using system_clock = std::chrono::system_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The outcome of one attempt, before it is written down.
struct attempt {
    answer_kind kind = answer_kind::accepted;
    std::string reason; ///< failed: the metric label
    std::string error;  ///< failed: one line for people
    std::optional<milliseconds> retry_after;
    bool cancelled = false; ///< the daemon is stopping: nothing to write, the event stays due
};

// At most `max` bytes of a receiver's answer, on one line, cut on a character boundary.
std::string snippet(std::string_view body, std::size_t max = 200) {
    std::string out;
    for (unsigned char ch : detail::bytes_of(body)) {
        if (out.size() >= max) {
            while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80)
                out.pop_back();
            if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80)) out.pop_back();
            out += "...";
            break;
        }
        out.push_back(ch < ' ' || ch == 0x7f ? ' ' : static_cast<char>(ch));
    }
    return out;
}

// A webhook's URL as people may see it: no query, no credentials; a Slack URL's path is its
// secret, so it goes too.
std::string url_for_people(const config::webhook& w, const http::request_url& u) {
    if (w.format == config::webhook_format::slack) return u.server.to_string() + "/...";
    return u.to_string();
}

std::string failure_reason(unsigned status) {
    if (status == 429) return "throttled";
    if (status == 410) return "gone";
    if (status >= 500) return "http_5xx";
    if (status >= 400) return "http_4xx";
    return "http_other";
}

// The alerts of the alertmanager format.
constexpr const char* alert_failed = "ModelArtsTaskFailed";
constexpr const char* alert_stalled = "ModelArtsTaskStalled";
constexpr const char* alert_gone = "ModelArtsTaskGone";
constexpr const char* alert_poll_failing = "ModelArtsPollFailing";

std::string percent(std::optional<double> ratio) {
    if (!ratio) return "unknown";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", *ratio * 100);
    return buf;
}

} // namespace

// ---- one webhook's queue ----------------------------------------------------------------------

struct queue : std::enable_shared_from_this<queue> {
    queue(asio::any_io_executor e, config::webhook w, std::shared_ptr<const config::settings> s,
          state::store& st, const notifier_options& o, webhook_status& status)
        : ex(std::move(e))
        , cfg(std::move(w))
        , settings(std::move(s))
        , store(st)
        , opts(o)
        , stats(status)
        , wake_timer(ex)
        , stopped_timer(ex)
        , rng(std::random_device{}()) {
        http::client_options co;
        co.max_connections = std::max<std::size_t>(opts.parallel, 1);
        co.timeout = cfg.timeout;
        co.ca_file = cfg.ca_file;
        co.proxy = cfg.proxy;
        co.body_limit = 1u << 20;
        co.user_agent = "taskwatch/" TASKWATCH_VERSION;
        client = std::make_unique<http::client>(ex, co);
    }

    asio::any_io_executor ex;
    config::webhook cfg;
    std::shared_ptr<const config::settings> settings;
    state::store& store;
    const notifier_options& opts;
    webhook_status& stats;
    std::unique_ptr<http::client> client;
    asio::steady_timer wake_timer;
    asio::steady_timer stopped_timer;
    bool stopping = false;
    bool running = false;
    std::unique_ptr<asio::steady_timer> grace;
    std::vector<state::delivery_mark> marks;
    steady::time_point last_flush = steady::now();
    // The receiver's health, from the last batches.
    std::uint32_t failing_batches = 0; ///< batches in a row with nothing accepted
    steady::time_point paused_until{}; ///< the queue waits until then
    /// The webhook's dead letters when the pause began (read once its marks were written):
    /// fewer later means `outbox redeliver` put some back, which ends the pause.
    std::optional<std::size_t> dead_at_pause;
    std::size_t batch_accepted = 0;  ///< events accepted in the current batch
    std::size_t batch_retryable = 0; ///< events failed in it, worth a retry
    std::optional<milliseconds> batch_retry_after;
    std::mt19937_64 rng;
    // Chat robots' rate limits.
    steady::time_point last_sent{};
    std::deque<steady::time_point> sent_last_minute;
    // Alertmanager: the alerts firing now, by alert name and task.
    std::map<std::string, alert> firing;
    steady::time_point last_resend = steady::now();

    void start() {
        running = true;
        stopped_timer.expires_at(steady::time_point::max());
        if (cfg.format == config::webhook_format::alertmanager) load_firing();
        asio::co_spawn(ex, run(), [self = shared_from_this()](const std::exception_ptr& e) {
            log::exception_ended(e, "webhook queue");
            self->running = false;
            self->stopped_timer.cancel();
        });
    }

    void wake() { wake_timer.cancel(); }

    // Stopping: no new attempt starts; those in flight get 2 s to end, then they are cut off
    // (their events stay due and go again after a restart, under the same webhook-id).
    void begin_stop() {
        if (stopping && grace) return;
        stopping = true;
        wake_timer.cancel();
        grace = std::make_unique<asio::steady_timer>(ex);
        grace->expires_after(2s);
        grace->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->client->shutdown();
        });
    }

    asio::awaitable<void> stop() {
        begin_stop();
        if (running) co_await stopped_timer.async_wait(use_tuple);
        grace->cancel();
        client->shutdown();
    }

    // A batch in which nothing was accepted and something is worth retrying means the
    // receiver is failing: the whole queue waits (full-jitter backoff, at least a Retry-After,
    // growing with each failed probe), then one event probes it. Without this, each of
    // thousands of queued events would retry on its own schedule, hammering a receiver that is
    // down and spending the daemon's CPU on it.
    void after_batch() {
        if (stopping) return;
        if (batch_accepted > 0) {
            if (failing_batches > 0)
                log::info("webhook receiver accepts again; its queue resumes",
                          {{"webhook", cfg.name}});
            failing_batches = 0;
            paused_until = {};
            return;
        }
        if (batch_retryable == 0) return;
        if (failing_batches == 0)
            log::warn("webhook receiver failing: its queue waits, then one event probes it",
                      {{"webhook", cfg.name}, {"error", stats.last_error}});
        ++failing_batches;
        paused_until =
            steady::now() + next_delay(opts.backoff, failing_batches, batch_retry_after, rng);
        dead_at_pause.reset();
    }

    // Writes the outcomes gathered so far in one transaction; kept for the next try if the
    // database refuses (nothing is lost: the events stay pending meanwhile).
    void flush() {
        last_flush = steady::now();
        if (marks.empty()) return;
        try {
            store.mark(marks);
            marks.clear();
        } catch (const std::exception& e) {
            log::error("cannot record webhook deliveries; retrying",
                       {{"webhook", cfg.name}, {"error", e.what()}});
        }
    }

    bool redelivered_while_paused() {
        try {
            const auto dead = store.dead_letters(cfg.name);
            if (!dead_at_pause) dead_at_pause = dead;
            return dead < *dead_at_pause;
        } catch (const std::exception&) {
            return false; // the database says why elsewhere; the pause runs its course
        }
    }

    asio::awaitable<void> sleep_until(steady::time_point until) {
        wake_timer.expires_at(until);
        co_await wake_timer.async_wait(use_tuple);
    }

    asio::awaitable<void> run() {
        while (!stopping) {
            flush();
            if (!marks.empty()) { // the database is failing: wait a little
                co_await sleep_until(steady::now() + 1s);
                continue;
            }
            if (cfg.format == config::webhook_format::alertmanager &&
                steady::now() - last_resend >= opts.alert_resend)
                co_await resend_firing();
            if (stats.disabled) {
                co_await sleep_until(steady::time_point::max());
                continue;
            }
            if (steady::now() < paused_until) { // the receiver is failing: hold the queue
                // An operator who fixed the receiver runs `outbox redeliver` from another
                // process and expects it to be sent now, not after a backoff of up to an hour:
                // the queue looks at its dead letters every idle_recheck, and when some were
                // put back, one event probes the receiver at once. Nothing else lowers their
                // count while the queue is paused.
                if (redelivered_while_paused()) {
                    log::info("dead letters were put back: one event probes the receiver now",
                              {{"webhook", cfg.name}});
                    paused_until = {};
                    continue;
                }
                co_await sleep_until(std::min(paused_until, steady::now() + opts.idle_recheck));
                continue;
            }
            const auto now = system_clock::now();
            std::vector<state::pending_delivery> due;
            bool readable = true;
            try {
                // While the receiver fails, one event probes it; the rest wait unattempted.
                due = store.due(cfg.name, now, failing_batches > 0 ? 1 : opts.batch);
            } catch (const std::exception& e) {
                log::error("cannot read the outbox", {{"webhook", cfg.name}, {"error", e.what()}});
                readable = false;
            }
            if (!readable) {
                co_await sleep_until(steady::now() + 1s);
                continue;
            }
            if (due.empty()) {
                auto until = steady::now() + opts.idle_recheck;
                try {
                    if (auto next = store.next_due(cfg.name))
                        until = std::min(until,
                                         steady::now() + std::chrono::duration_cast<milliseconds>(
                                                             *next - system_clock::now()));
                } catch (const std::exception&) {
                }
                if (cfg.format == config::webhook_format::alertmanager)
                    until = std::min(until, last_resend + opts.alert_resend);
                co_await sleep_until(until);
                continue;
            }
            batch_accepted = batch_retryable = 0;
            batch_retry_after.reset();
            switch (cfg.format) {
            case config::webhook_format::generic:
                co_await send_each(std::move(due));
                break;
            case config::webhook_format::alertmanager:
                co_await send_alerts(std::move(due));
                break;
            default:
                co_await send_chat(std::move(due));
                break;
            }
            after_batch();
        }
        flush();
    }

    // The task's target labels and its page's URL (when external_url is set).
    event_context context_of(const task::task_key& key) const {
        event_context c;
        if (const auto* t = config::target_of(*settings, key.project_id, key.dataset_id))
            c.labels = t->labels;
        if (settings->external_url)
            c.link = *settings->external_url + "tasks/" + key.dataset_id + "/" + key.task_id;
        return c;
    }

    // One POST to one URL of the webhook.
    asio::awaitable<attempt> post(const http::request_url& u, const request& r) {
        http::request hr;
        hr.method = boost::beast::http::verb::post;
        hr.target = u.target;
        if (!r.query.empty())
            hr.target += (u.target.find('?') == std::string::npos ? "?" : "&") + r.query;
        hr.headers.emplace_back("Content-Type", r.content_type);
        for (const auto& h : r.headers)
            hr.headers.push_back(h);
        bool authorization = false;
        for (const auto& h : cfg.headers) {
            hr.headers.emplace_back(h.name, std::string(h.value.reveal()));
            authorization = authorization || detail::ascii_lower(h.name) == "authorization";
        }
        if (!u.credentials.empty() && !authorization)
            hr.headers.emplace_back("Authorization",
                                    "Basic " + detail::base64_encode(u.credentials));
        hr.body = r.body;
        ++stats.in_flight;
        auto res =
            co_await client->async_send(u.server, std::move(hr), steady::now() + cfg.timeout);
        --stats.in_flight;
        attempt a;
        const auto where = url_for_people(cfg, u);
        if (!res) {
            a.kind = answer_kind::retry;
            a.cancelled = res.error().kind == http::failure::cancelled;
            a.reason = std::string(http::to_string(res.error().kind));
            a.error = where + ": " + res.error().message;
            co_return a;
        }
        a.kind = classify_status(res->status);
        if (a.kind == answer_kind::accepted) {
            if (auto err = answer_error(cfg.format, res->body)) {
                a.kind = answer_kind::retry;
                a.reason = "rejected";
                a.error = where + ": HTTP " + std::to_string(res->status) + " but " + *err;
            }
            co_return a;
        }
        a.reason = failure_reason(res->status);
        a.error = where + ": HTTP " + std::to_string(res->status);
        if (!res->body.empty()) a.error += ": " + snippet(res->body);
        if (res->status == 429 || res->status == 503) {
            auto it = res->headers.find("Retry-After");
            if (it != res->headers.end())
                a.retry_after =
                    parse_retry_after(std::string_view(it->value().data(), it->value().size()),
                                      std::chrono::duration_cast<std::chrono::seconds>(
                                          system_clock::now().time_since_epoch())
                                          .count());
        }
        co_return a;
    }

    // Writes down what an attempt means for one event. The marks go to the database in
    // batches: at the end of each batch, or every 32 marks or 250 ms while a long one runs (a
    // crash then re-sends at most that many accepted events, under the same ids).
    // `counted`: the attempt's failure is already counted (a chat message carries several
    // events, but it is one attempt).
    void record(const state::pending_delivery& d, const attempt& a, bool counted = false) {
        record_one(d, a, counted);
        if (marks.size() >= 32 || steady::now() - last_flush >= 250ms) flush();
    }

    void record_one(const state::pending_delivery& d, const attempt& a, bool counted) {
        if (a.cancelled) return;
        const auto now = system_clock::now();
        if (a.kind == answer_kind::accepted) {
            ++batch_accepted;
            ++stats.delivered;
            stats.last_success = now;
            marks.push_back({d.event.id, cfg.name, state::delivery_mark::delivered, now, now, {}});
            return;
        }
        if (!counted) ++stats.failures[a.reason];
        stats.last_failure = now;
        stats.last_error = a.error;
        if (a.kind == answer_kind::gone) {
            if (!stats.disabled)
                log::error("the webhook receiver answered 410 Gone: no more deliveries to it until "
                           "the next reload",
                           {{"webhook", cfg.name}, {"error", a.error}});
            stats.disabled = true;
            return; // the event stays pending, no attempt counted
        }
        if (a.kind == answer_kind::retry) {
            ++batch_retryable;
            if (a.retry_after)
                batch_retry_after = std::max(batch_retry_after.value_or(0ms), *a.retry_after);
        }
        const std::uint32_t attempts = d.attempts + 1;
        const bool dead = a.kind == answer_kind::permanent || attempts >= cfg.max_attempts;
        const auto next = now + next_delay(opts.backoff, attempts, a.retry_after, rng);
        marks.push_back({d.event.id, cfg.name,
                         dead ? state::delivery_mark::dead : state::delivery_mark::failed, now,
                         next, a.error});
        if (dead)
            log::error("webhook delivery given up: the event is kept as a dead letter",
                       {{"webhook", cfg.name},
                        {"event", d.event.id},
                        {"attempts", std::to_string(attempts)},
                        {"reason", a.reason},
                        {"error", a.error}});
        else
            log::warn("webhook delivery failed; will retry", {{"webhook", cfg.name},
                                                              {"event", d.event.id},
                                                              {"attempt", std::to_string(attempts)},
                                                              {"reason", a.reason},
                                                              {"error", a.error}});
    }

    // generic: one request per event, up to `parallel` at once (each of another task: the
    // outbox hands out only the first pending event of a task).
    asio::awaitable<void> send_each(std::vector<state::pending_delivery> batch) {
        std::size_t next = 0;
        std::size_t workers = std::min(opts.parallel, batch.size());
        asio::steady_timer all_done(ex, steady::time_point::max());
        auto worker = [this, &batch, &next]() -> asio::awaitable<void> {
            while (next < batch.size() && !stopping) {
                const auto& d = batch[next++];
                auto r = generic_request(d.event, context_of(d.event.key), cfg.secret,
                                         system_clock::now());
                auto a = co_await post(cfg.urls.front(), r);
                record(d, a);
                if (stats.disabled) break;
            }
        };
        std::size_t running_workers = workers;
        for (std::size_t i = 0; i < workers; ++i)
            asio::co_spawn(ex, worker(), [&](const std::exception_ptr& e) {
                log::exception_ended(e, "webhook delivery");
                if (--running_workers == 0) all_done.cancel();
            });
        if (running_workers > 0) co_await all_done.async_wait(use_tuple);
    }

    // Chat robots: one message for as many due events as the format merges, one message at a
    // time, within the robot's rate limits.
    asio::awaitable<void> send_chat(std::vector<state::pending_delivery> batch) {
        const auto limit = limits_of(cfg.format);
        const std::size_t per_message = std::max<std::size_t>(limit.max_events, 1);
        for (std::size_t at = 0; at < batch.size() && !stopping && !stats.disabled;) {
            // Rate limits: a gap between messages, and so many per minute.
            auto until = last_sent + limit.min_gap;
            if (limit.per_minute > 0) {
                while (!sent_last_minute.empty() && sent_last_minute.front() < steady::now() - 60s)
                    sent_last_minute.pop_front();
                if (sent_last_minute.size() >= limit.per_minute)
                    until = std::max(until, sent_last_minute.front() + 60s);
            }
            if (until > steady::now()) {
                co_await sleep_until(until);
                if (stopping) break;
            }
            const std::size_t n = std::min(per_message, batch.size() - at);
            std::vector<task::event> events;
            std::vector<event_context> contexts;
            for (std::size_t i = at; i < at + n; ++i) {
                events.push_back(batch[i].event);
                contexts.push_back(context_of(batch[i].event.key));
            }
            auto r = chat_request(cfg, events, contexts, system_clock::now());
            auto a = co_await post(cfg.urls.front(), r);
            last_sent = steady::now();
            sent_last_minute.push_back(last_sent);
            for (std::size_t i = at; i < at + n; ++i)
                record(batch[i], a, /*counted=*/i > at);
            at += n;
        }
    }

    // ---- alertmanager

    std::map<std::string, std::string>
    alert_labels(const char* name, const task::task_key& k,
                 const std::map<std::string, std::string>& target) {
        std::map<std::string, std::string> l = target;
        l["alertname"] = name;
        l["project_id"] = k.project_id;
        l["dataset_id"] = k.dataset_id;
        l["task_id"] = k.task_id;
        return l;
    }

    static std::string alert_key(const char* name, const task::task_key& k) {
        return std::string(name) + '\0' + k.project_id + '\0' + k.dataset_id + '\0' + k.task_id;
    }

    alert make_alert(const char* name, const task::task_key& key, std::string_view task_name,
                     const std::optional<task::snapshot>& now_seen, task::time_point since) {
        const auto c = context_of(key);
        alert a;
        a.labels = alert_labels(name, key, c.labels);
        a.annotations["task_name"] = task_name;
        if (now_seen) {
            a.annotations["progress"] = percent(now_seen->progress);
            if (!now_seen->error_code.empty()) a.annotations["error_code"] = now_seen->error_code;
            if (!now_seen->error_msg.empty()) a.annotations["error_msg"] = now_seen->error_msg;
        }
        std::string what = name == std::string_view(alert_failed)    ? "failed"
                           : name == std::string_view(alert_stalled) ? "makes no progress"
                           : name == std::string_view(alert_gone)    ? "is gone (deleted)"
                                                                     : "cannot be polled";
        a.annotations["summary"] = "ModelArts task " +
                                   (task_name.empty() ? key.task_id : std::string(task_name)) +
                                   " " + what;
        a.starts_at = since;
        a.generator_url = c.link;
        return a;
    }

    // Firing alerts from the stored task states, so that they are sent again after a restart.
    void load_firing() {
        try {
            for (const auto& t : store.load_tasks()) {
                if (t.forgotten || t.gone || !t.last) continue;
                const auto snap = task::to_snapshot(*t.last);
                const auto since = t.last_change.value_or(system_clock::now());
                if (t.last->known_status() == modelarts::task_status::failed)
                    firing[alert_key(alert_failed, t.key)] =
                        make_alert(alert_failed, t.key, t.last->task_name, snap, since);
                if (t.stalled)
                    firing[alert_key(alert_stalled, t.key)] =
                        make_alert(alert_stalled, t.key, t.last->task_name, snap,
                                   t.progress_since.value_or(since));
                if (t.failing_reported)
                    firing[alert_key(alert_poll_failing, t.key)] =
                        make_alert(alert_poll_failing, t.key, t.last->task_name, snap,
                                   t.failing_since.value_or(since));
            }
        } catch (const std::exception& e) {
            log::error("cannot read the task states for Alertmanager",
                       {{"webhook", cfg.name}, {"error", e.what()}});
        }
    }

    // What an event changes: alerts that start firing and alerts that end.
    std::vector<alert> alerts_of(const task::event& e) {
        std::vector<alert> out;
        auto fire = [&](const char* name, std::optional<task::time_point> ends = std::nullopt) {
            auto a = make_alert(name, e.key, e.task_name, e.current, e.time);
            a.ends_at = ends;
            if (!ends) firing[alert_key(name, e.key)] = a;
            out.push_back(std::move(a));
        };
        auto resolve = [&](const char* name) {
            auto it = firing.find(alert_key(name, e.key));
            alert a = it != firing.end() ? it->second
                                         : make_alert(name, e.key, e.task_name, e.current, e.time);
            a.ends_at = e.time;
            if (it != firing.end()) firing.erase(it);
            out.push_back(std::move(a));
        };
        const auto failed = [](const std::optional<task::snapshot>& s) {
            return s && s->status == modelarts::task_status::failed;
        };
        switch (e.type) {
        case task::event_type::discovered:
            if (failed(e.current)) fire(alert_failed);
            break;
        case task::event_type::status_changed:
            if (failed(e.current)) fire(alert_failed);
            if (failed(e.previous) && !failed(e.current)) resolve(alert_failed);
            if (firing.count(alert_key(alert_stalled, e.key))) resolve(alert_stalled);
            break;
        case task::event_type::progress:
            if (firing.count(alert_key(alert_stalled, e.key))) resolve(alert_stalled);
            break;
        case task::event_type::stalled:
            fire(alert_stalled);
            break;
        case task::event_type::gone:
            // The task is no more: the alert ends by itself when its task would be forgotten.
            for (const char* name : {alert_failed, alert_stalled, alert_poll_failing})
                if (firing.count(alert_key(name, e.key))) resolve(name);
            fire(alert_gone, e.time + settings->poll.forget_finished_after);
            break;
        case task::event_type::poll_failing:
            fire(alert_poll_failing);
            break;
        case task::event_type::poll_recovered:
            resolve(alert_poll_failing);
            break;
        }
        return out;
    }

    // Posts `alerts` to every member of the cluster at once; accepted when one member took
    // them (the members gossip); a member that failed is counted and logged.
    asio::awaitable<attempt> post_alerts(const std::vector<alert>& alerts) {
        request r;
        r.body = alertmanager_body(alerts);
        std::vector<attempt> results(cfg.urls.size());
        std::size_t pending = cfg.urls.size();
        asio::steady_timer all_done(ex, steady::time_point::max());
        for (std::size_t i = 0; i < cfg.urls.size(); ++i) {
            http::request_url u = cfg.urls[i];
            // Alertmanager's API under the URL given (which may carry a --web.route-prefix).
            auto q = u.target.find('?');
            auto path = u.target.substr(0, q);
            if (path.empty() || path.back() != '/') path += '/';
            u.target = path + "api/v2/alerts" + (q == std::string::npos ? "" : u.target.substr(q));
            asio::co_spawn(
                ex,
                [this, u, &r, &results, i]() -> asio::awaitable<void> {
                    results[i] = co_await post(u, r);
                },
                [&](const std::exception_ptr& e) {
                    log::exception_ended(e, "alertmanager post");
                    if (--pending == 0) all_done.cancel();
                });
        }
        if (pending > 0) co_await all_done.async_wait(use_tuple);
        attempt best = results.front();
        for (const auto& a : results) {
            if (a.kind == answer_kind::accepted)
                best = a;
            else if (!a.cancelled) {
                ++stats.failures[a.reason];
                stats.last_failure = system_clock::now();
                stats.last_error = a.error;
            }
        }
        if (best.kind != answer_kind::accepted) best.reason.clear(); // counted above
        co_return best;
    }

    asio::awaitable<void> send_alerts(std::vector<state::pending_delivery> batch) {
        for (const auto& d : batch) {
            if (stopping) break;
            auto alerts = alerts_of(d.event);
            if (alerts.empty()) {
                record(d, attempt{}); // nothing for Alertmanager in it: done
                continue;
            }
            auto a = co_await post_alerts(alerts);
            if (a.kind == answer_kind::accepted) {
                record(d, a);
                continue;
            }
            record(d, a, /*counted=*/true); // post_alerts counted each member's failure
        }
    }

    asio::awaitable<void> resend_firing() {
        last_resend = steady::now();
        if (firing.empty()) co_return;
        std::vector<alert> alerts;
        for (const auto& [k, a] : firing)
            alerts.push_back(a);
        (void)co_await post_alerts(alerts);
    }
};

std::vector<std::string> delivery_failure_reasons() {
    std::vector<std::string> out;
    for (const auto& [kind, name] : http::failure_names)
        if (kind != http::failure::cancelled) out.emplace_back(name);
    for (const char* r : {"throttled", "gone", "http_4xx", "http_5xx", "http_other", "rejected"})
        out.emplace_back(r);
    return out;
}

// ---- the notifier -----------------------------------------------------------------------------

struct notifier::impl {
    asio::any_io_executor ex;
    std::shared_ptr<const config::settings> settings;
    state::store& store;
    notifier_options opts;
    std::map<std::string, webhook_status> stats; ///< by webhook name, across reloads
    std::map<std::string, std::shared_ptr<queue>> queues;

    impl(asio::any_io_executor e, std::shared_ptr<const config::settings> s, state::store& st,
         notifier_options o)
        : ex(std::move(e))
        , settings(std::move(s))
        , store(st)
        , opts(std::move(o)) {}

    webhook_status& status_of(const config::webhook& w) {
        auto& s = stats[w.name];
        for (const auto& reason : delivery_failure_reasons())
            s.failures.try_emplace(reason, 0);
        s.name = w.name;
        s.format = std::string(config::to_string(w.format));
        s.urls.clear();
        for (const auto& u : w.urls)
            s.urls.push_back(url_for_people(w, u));
        return s;
    }

    void start_queue(const config::webhook& w) {
        auto& s = status_of(w);
        s.disabled = false;
        auto q = std::make_shared<queue>(ex, w, settings, store, opts, s);
        queues[w.name] = q;
        q->start();
    }
};

notifier::notifier(asio::any_io_executor ex, std::shared_ptr<const config::settings> s,
                   state::store& store, notifier_options o)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(s), store, std::move(o))) {}

notifier::~notifier() = default;

void notifier::start() {
    for (const auto& w : impl_->settings->webhooks)
        impl_->start_queue(w);
}

void notifier::reload(std::shared_ptr<const config::settings> s) {
    auto self = impl_;
    self->settings = s;
    std::vector<std::shared_ptr<queue>> retired;
    std::vector<const config::webhook*> fresh;
    for (const auto& w : s->webhooks) {
        auto it = self->queues.find(w.name);
        if (it != self->queues.end() && it->second->cfg == w && !self->stats[w.name].disabled) {
            it->second->settings = s; // labels and external_url may have changed
            continue;
        }
        if (it != self->queues.end()) {
            retired.push_back(it->second);
            self->queues.erase(it);
        }
        fresh.push_back(&w);
    }
    for (auto it = self->queues.begin(); it != self->queues.end();) {
        bool kept = std::any_of(s->webhooks.begin(), s->webhooks.end(),
                                [&](const config::webhook& w) { return w.name == it->first; });
        if (kept) {
            ++it;
            continue;
        }
        retired.push_back(it->second); // its figures stay, unlisted, unless it comes back
        it = self->queues.erase(it);
    }
    // A changed webhook's new queue starts once the old one let go of its attempts in flight,
    // so the two never send the same event at once.
    std::vector<std::string> names;
    for (const auto* w : fresh)
        names.push_back(w->name);
    asio::co_spawn(
        self->ex,
        [self, retired, names, s]() -> asio::awaitable<void> {
            for (const auto& q : retired)
                co_await q->stop();
            for (const auto& w : s->webhooks)
                if (std::find(names.begin(), names.end(), w.name) != names.end() &&
                    self->settings == s)
                    self->start_queue(w);
        },
        [](const std::exception_ptr& e) { log::exception_ended(e, "webhook reload"); });
}

asio::awaitable<void> notifier::async_stop() {
    auto self = impl_;
    auto queues = std::move(self->queues);
    self->queues.clear();
    for (const auto& [name, q] : queues)
        q->begin_stop();
    for (const auto& [name, q] : queues)
        co_await q->stop();
}

void notifier::wake() {
    for (const auto& [name, q] : impl_->queues)
        q->wake();
}

std::vector<webhook_status> notifier::status() const {
    std::vector<webhook_status> out;
    for (const auto& w : impl_->settings->webhooks) {
        auto it = impl_->stats.find(w.name);
        if (it != impl_->stats.end()) out.push_back(it->second);
    }
    return out;
}

} // namespace taskwatch::notify
