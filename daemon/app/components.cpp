#include "components.hpp"

#include "taskwatch/app/wiring.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/notify/routing.hpp"
#include "taskwatch/web/routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <systemd/sd-daemon.h>

#include <time.h>

#include <algorithm>

namespace taskwatch::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// ---- state ----------------------------------------------------------------------------------

void state_component::start() {
    store_ = std::make_unique<state::store>(settings_->state_dir);
}

// ---- modelarts ------------------------------------------------------------------------------

void modelarts_component::start() {
    client_ = std::make_unique<http::client>(ex_, client_options_from(*settings_));
    authorizer_ = make_authorizer(*settings_, *client_);
}

void modelarts_component::reload(const settings_ptr& fresh) {
    // The client's options (pool size, timeout, CA, proxy) need a restart.
    if (!(fresh->modelarts.auth == settings_->modelarts.auth))
        authorizer_ = make_authorizer(*fresh, *client_);
    settings_ = fresh;
}

asio::awaitable<void> modelarts_component::async_stop() {
    if (client_) client_->shutdown();
    co_return;
}

// ---- watcher --------------------------------------------------------------------------------

void watcher_component::start() {
    authorizer_ = api_.authorizer();
    watcher_ = std::make_unique<poll::watcher>(ex_, settings_, notify::routing_for(settings_),
                                               state_.store(), api_.client(), authorizer_);
    try {
        watcher_->start();
    } catch (const std::exception& e) {
        throw std::runtime_error(state_.store().path().string() + ": " + e.what());
    }
}

void watcher_component::reload(const settings_ptr& fresh) {
    std::shared_ptr<auth::authorizer> changed;
    if (api_.authorizer() != authorizer_) changed = authorizer_ = api_.authorizer();
    settings_ = fresh;
    watcher_->reload(fresh, notify::routing_for(fresh), std::move(changed));
}

asio::awaitable<void> watcher_component::async_stop() {
    co_await watcher_->async_stop();
}

std::string watcher_component::status_line() const {
    return "watching " + std::to_string(watcher_->tasks().size()) + " tasks, " +
           std::to_string(watcher_->failing_tasks()) + " failing, " +
           std::to_string(watcher_->stats().polls) + " polls";
}

// ---- notify ---------------------------------------------------------------------------------

void notify_component::start() {
    notifier_ = std::make_unique<notify::notifier>(ex_, settings_, state_.store());
    auto* n = notifier_.get();
    state_.store().on_deliveries_queued([n] { n->wake(); });
    notifier_->start();
}

void notify_component::reload(const settings_ptr& fresh) {
    settings_ = fresh;
    notifier_->reload(fresh);
}

asio::awaitable<void> notify_component::async_stop() {
    state_.store().on_deliveries_queued({});
    co_await notifier_->async_stop();
}

// ---- http -----------------------------------------------------------------------------------

namespace {

std::string url_of(const asio::ip::tcp::endpoint& ep, bool tls) {
    const auto a = ep.address();
    std::string host = a.is_unspecified() ? (a.is_v6() ? "[::1]" : "127.0.0.1")
                       : a.is_v6()        ? "[" + a.to_string() + "]"
                                          : a.to_string();
    return (tls ? "https://" : "http://") + host + ":" + std::to_string(ep.port()) + "/";
}

} // namespace

// The newest events GET /api/v1/tasks/{dataset_id}/{task_id} shows.
constexpr std::size_t max_task_events = 200;

// The outbox figures of every configured webhook; none when the store cannot answer (the
// scrape still succeeds, without these series).
std::vector<metrics::webhook_figures> http_component::webhook_figures() const {
    std::vector<metrics::webhook_figures> out;
    for (const auto& d : deliveries())
        out.push_back({d.status.name, d.queue_length, d.oldest_pending, d.dead_letters,
                       d.status.delivered, d.status.failures});
    return out;
}

// Every webhook of the running configuration: the notifier's figures and its queue in the
// outbox. None when the store cannot answer (the scrape still succeeds, without them).
std::vector<web::webhook_deliveries> http_component::deliveries() const {
    std::vector<web::webhook_deliveries> out;
    auto& store = state_.store();
    try {
        for (auto& st : notify_.notifier().status()) {
            web::webhook_deliveries d;
            d.queue_length = store.queue_length(st.name);
            d.oldest_pending = store.oldest_pending(st.name);
            d.dead_letters = store.dead_letters(st.name);
            d.status = std::move(st);
            out.push_back(std::move(d));
        }
    } catch (const std::exception& e) {
        log::warn("cannot read the outbox", {{"error", e.what()}});
        out.clear();
    }
    return out;
}

void http_component::start() {
    // The watcher starts after this server; it is read only while a request is served.
    auto& wc = watcher_;
    metrics::collector_sources src;
    src.tasks = [&wc]() -> const poll::task_view& { return wc.watcher().tasks(); };
    src.stats = [&wc]() -> const poll::watcher_stats& { return wc.watcher().stats(); };
    src.webhooks = [this] { return webhook_figures(); };
    src.process = [] { return metrics::read_process_stats(); };
    src.shard = [this] { return settings_->shard; };
    collector_ = std::make_unique<metrics::collector>(std::move(src));

    web::site site;
    site.metrics = [this] { return collector_->render(); };
    site.metrics_stream = [this] { return collector_->stream(); };
    site.tasks = [&wc]() -> const poll::task_view& { return wc.watcher().tasks(); };
    site.stats = [&wc]() -> const poll::watcher_stats& { return wc.watcher().stats(); };
    site.ready = [&wc] { return wc.watcher().first_round_done(); };
    site.deliveries = [this] { return deliveries(); };
    site.history = [this](const task::task_key& key) { return state_.store().history(key); };
    site.recent_history = [this](const task::task_key& key, task::time_point since) {
        return state_.store().history(key, since);
    };
    site.answer = [this](const task::task_key& key) { return state_.store().last_answer(key); };
    site.events = [this](const task::task_key& key) {
        return state_.store().task_events(key, max_task_events);
    };
    http::handler handler = web::make_handler(std::move(site));

    const auto& s = *settings_;
    auto ep = http::parse_listen_address(s.listen);
    if (!ep) throw config::config_error(s.source_path + ": listen: " + ep.error());
    http::server_options options;
    if (s.web_config_file) {
        // Throws web_config_error ("FILE:LINE: key: problem"); re-read when it changes.
        guard_ = std::make_unique<web::web_guard>(*s.web_config_file);
        if (guard_->tls()) options.tls_provider = guard_->tls_provider();
        handler = guard_->wrap(std::move(handler));
    }
    options.listen = *ep;
    options.server_header = "taskwatch/" TASKWATCH_VERSION;
    // A scrape or a page view is one small GET sent at once: a client that takes longer than
    // 10 s to send its request (or idles that long between keep-alive requests) is cut off, so
    // slow senders cannot hold connections; at most 256 at a time; bodies are not expected.
    options.request_timeout = std::chrono::seconds(10);
    options.max_connections = 256;
    options.body_limit = 64u << 10;
    options.log = [](std::string_view line) { log::warn("http server", {{"error", line}}); };
    server_ = std::make_unique<http::server>(ex_, std::move(options), std::move(handler));
    try {
        server_->start();
    } catch (const http::server_error& e) {
        throw config::config_error(s.source_path + ": listen: " + e.what());
    }
    const auto url = url_of(server_->local_endpoint(), guard_ && guard_->tls());
    log::info("serving HTTP", {{"url", url}});
    if (on_listening_) on_listening_(url);
}

void http_component::reload(const settings_ptr& fresh) {
    // listen and web_config_file need a restart; the webhooks listed in /metrics follow.
    settings_ = fresh;
    if (guard_) guard_->reload_if_changed(); // at once, not within a second
}

asio::awaitable<void> http_component::async_stop() {
    co_await server_->async_stop(2s);
}

// ---- systemd --------------------------------------------------------------------------------

namespace {

std::uint64_t monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

} // namespace

void systemd_component::start() {
    loop_running_ = true;
    loop_done_.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(ex_, loop(), [this](const std::exception_ptr& e) {
        log::exception_ended(e, "sd_notify loop");
        loop_running_ = false;
        loop_done_.cancel();
    });
}

// READY=1 first, then STATUS (and WATCHDOG=1 when asked for) every period. The pings come from
// this loop on the daemon's one event loop: when that loop is stuck, systemd hears nothing and
// restarts the service.
asio::awaitable<void> systemd_component::loop() {
    std::uint64_t watchdog_usec = 0;
    const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
    const auto period =
        watchdog
            ? std::min<std::chrono::microseconds>(std::chrono::microseconds(watchdog_usec / 2), 5s)
            : std::chrono::microseconds(5s);
    bool ready_sent = false;
    while (!stopping_) {
        std::string msg = "STATUS=" + watcher_.status_line();
        if (!ready_sent) {
            msg = "READY=1\n" + msg;
            ready_sent = true;
        }
        if (watchdog) msg += "\nWATCHDOG=1";
        sd_notify(0, msg.c_str());
        timer_.expires_after(period);
        co_await timer_.async_wait(use_tuple);
    }
}

void systemd_component::reloading() {
    const std::string msg = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) +
                            "\nSTATUS=reloading the configuration";
    sd_notify(0, msg.c_str());
}

void systemd_component::reloaded(const std::string& error) {
    std::string msg = "READY=1\nSTATUS=";
    msg += error.empty() ? watcher_.status_line()
                         : watcher_.status_line() + "; last reload failed: " + error;
    sd_notify(0, msg.c_str());
}

void systemd_component::stopping() {
    if (stopping_) return;
    stopping_ = true;
    timer_.cancel();
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

asio::awaitable<void> systemd_component::async_stop() {
    stopping();
    if (loop_running_) co_await loop_done_.async_wait(use_tuple);
}

} // namespace taskwatch::app
