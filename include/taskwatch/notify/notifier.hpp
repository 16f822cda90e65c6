// Delivers the outbox: one queue per configured webhook, each event to each webhook that it
// was routed to, a task's events in order, retried with backoff and dead-lettered after
// max_attempts, the bookkeeping written in batches. One webhook that is down, slow or hanging
// delays no other webhook and no poll.
#pragma once

#include "taskwatch/config/settings.hpp"
#include "taskwatch/notify/backoff.hpp"
#include "taskwatch/state/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace taskwatch::notify {

/// What one webhook's queue has done since the daemon started (counters survive reloads),
/// for /metrics and GET /api/v1/deliveries. Never holds a secret.
struct webhook_status {
    std::string name;
    std::string format;
    /// The URL(s) without query or credentials; a Slack URL, whose path is the secret, without
    /// its path.
    std::vector<std::string> urls;
    std::uint64_t delivered = 0;                   ///< events a receiver accepted
    std::map<std::string, std::uint64_t> failures; ///< failed attempts by reason
    std::optional<task::time_point> last_success;
    std::optional<task::time_point> last_failure;
    std::string last_error; ///< of the last failed attempt: one line
    bool disabled = false;  ///< a 410 Gone stopped deliveries until the next reload
    std::size_t in_flight = 0;
};

/// Tuning, for tests and benchmarks; the defaults are the product's.
struct notifier_options {
    backoff_policy backoff;
    std::size_t batch = 64;   ///< deliveries read from the outbox at a time, per webhook
    std::size_t parallel = 8; ///< attempts in flight at once, per webhook (generic)
    /// How long an idle queue sleeps before looking at the outbox again when nothing woke it
    /// (a redelivery by `taskwatchd outbox redeliver` from another process is found so).
    std::chrono::milliseconds idle_recheck{2'000};
    /// Alertmanager: how often firing alerts are sent again (below its resolve_timeout, 5 m).
    std::chrono::milliseconds alert_resend{60'000};
};

/// Why an attempt failed, as taskwatch_webhook_delivery_failures_total's `reason` says it:
/// the transport's failures (http::failure_names: dns, connect, tls, timeout, ...), then
/// throttled (429), gone (410), http_4xx, http_5xx, http_other, rejected (a 2xx whose body
/// reports an error). Every webhook exports each of them from 0.
std::vector<std::string> delivery_failure_reasons();

class notifier {
public:
    notifier(boost::asio::any_io_executor ex, std::shared_ptr<const config::settings> s,
             state::store& store, notifier_options o = {});
    ~notifier();
    notifier(const notifier&) = delete;
    notifier& operator=(const notifier&) = delete;

    /// Starts a queue per webhook.
    void start();
    /// Applies reloaded settings: a webhook whose settings changed (or that a 410 disabled)
    /// gets a fresh queue once its attempts in flight ended; removed ones stop (their pending
    /// events stay in the outbox); new ones start.
    void reload(std::shared_ptr<const config::settings> s);
    /// Stops every queue: attempts in flight end (or time out), their outcome is written.
    boost::asio::awaitable<void> async_stop();
    /// Events were committed: idle queues look at the outbox now.
    void wake();

    /// Every configured webhook, in configuration order.
    std::vector<webhook_status> status() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace taskwatch::notify
