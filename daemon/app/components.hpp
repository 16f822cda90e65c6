// The daemon's components (app/component.hpp), each owning one part of the running daemon:
// the state database, the ModelArts clients, the watcher, the webhook notifier, the HTTP
// server and the systemd notifications. Each is handed the components started before it, which
// outlive it.
#pragma once

#include "taskwatch/app/component.hpp"
#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/metrics/collector.hpp"
#include "taskwatch/notify/notifier.hpp"
#include "taskwatch/poll/watcher.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/web/guard.hpp"
#include "taskwatch/web/routes.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>

namespace taskwatch::app {

/// The state database (state_dir), opened at start; closed when the component goes.
class state_component final : public component {
public:
    explicit state_component(settings_ptr s)
        : settings_(std::move(s)) {}
    std::string_view name() const noexcept override { return "state"; }
    void start() override;
    boost::asio::awaitable<void> async_stop() override { co_return; }

    state::store& store() { return *store_; }

private:
    settings_ptr settings_;
    std::unique_ptr<state::store> store_;
};

/// The HTTPS client to ModelArts and IAM, and the authorizer of `modelarts.auth`. A reload
/// that changes the credentials makes a new authorizer; the old one goes with the last
/// request that holds it.
class modelarts_component final : public component {
public:
    modelarts_component(boost::asio::any_io_executor ex, settings_ptr s)
        : ex_(std::move(ex))
        , settings_(std::move(s)) {}
    std::string_view name() const noexcept override { return "modelarts"; }
    void start() override;
    void reload(const settings_ptr& fresh) override;
    boost::asio::awaitable<void> async_stop() override;

    http::client& client() { return *client_; }
    const std::shared_ptr<auth::authorizer>& authorizer() const noexcept { return authorizer_; }

private:
    boost::asio::any_io_executor ex_;
    settings_ptr settings_;
    std::unique_ptr<http::client> client_;
    std::shared_ptr<auth::authorizer> authorizer_;
};

/// The watcher: discovery, polling, and committing what changed to the state database.
class watcher_component final : public component {
public:
    watcher_component(boost::asio::any_io_executor ex, settings_ptr s, state_component& state,
                      modelarts_component& api)
        : ex_(std::move(ex))
        , settings_(std::move(s))
        , state_(state)
        , api_(api) {}
    std::string_view name() const noexcept override { return "watcher"; }
    void start() override;
    void reload(const settings_ptr& fresh) override;
    boost::asio::awaitable<void> async_stop() override;

    poll::watcher& watcher() { return *watcher_; }
    /// "watching N tasks, F failing, P polls": the daemon's one-line state.
    std::string status_line() const;

private:
    boost::asio::any_io_executor ex_;
    settings_ptr settings_;
    state_component& state_;
    modelarts_component& api_;
    std::shared_ptr<auth::authorizer> authorizer_; ///< the one the watcher was last given
    std::unique_ptr<poll::watcher> watcher_;
};

/// Webhook delivery: the outbox's queues (notify::notifier), woken by every commit that queued
/// a delivery.
class notify_component final : public component {
public:
    notify_component(boost::asio::any_io_executor ex, settings_ptr s, state_component& state)
        : ex_(std::move(ex))
        , settings_(std::move(s))
        , state_(state) {}
    std::string_view name() const noexcept override { return "notify"; }
    void start() override;
    void reload(const settings_ptr& fresh) override;
    boost::asio::awaitable<void> async_stop() override;

    notify::notifier& notifier() { return *notifier_; }

private:
    boost::asio::any_io_executor ex_;
    settings_ptr settings_;
    state_component& state_;
    std::unique_ptr<notify::notifier> notifier_;
};

/// The HTTP(S) server on `listen`: /metrics, /api/v1/..., /-/healthy, /-/ready and the status
/// page, behind web_config_file's TLS and basic auth. Its stop drains requests for up to 2 s.
class http_component final : public component {
public:
    /// `on_listening` runs once it listens, with its URL. `watcher` and `notify` start after
    /// this server (so that a bad `listen` stops the daemon before it asks ModelArts or a
    /// webhook anything) and are read only while a request is served.
    http_component(boost::asio::any_io_executor ex, settings_ptr s, state_component& state,
                   watcher_component& watcher, notify_component& notify,
                   std::function<void(const std::string&)> on_listening = {})
        : ex_(std::move(ex))
        , settings_(std::move(s))
        , state_(state)
        , watcher_(watcher)
        , notify_(notify)
        , on_listening_(std::move(on_listening)) {}
    std::string_view name() const noexcept override { return "http"; }
    /// Throws config::config_error naming the config file and `listen` when the address cannot
    /// be used, web::web_config_error for a bad web_config_file.
    void start() override;
    void reload(const settings_ptr& fresh) override;
    boost::asio::awaitable<void> async_stop() override;

private:
    std::vector<metrics::webhook_figures> webhook_figures() const;
    std::vector<web::webhook_deliveries> deliveries() const;

    boost::asio::any_io_executor ex_;
    settings_ptr settings_;
    state_component& state_;
    watcher_component& watcher_;
    notify_component& notify_;
    std::function<void(const std::string&)> on_listening_;
    std::unique_ptr<metrics::collector> collector_;
    std::unique_ptr<web::web_guard> guard_;
    std::unique_ptr<http::server> server_;
};

/// The sd_notify protocol for Type=notify units; every call is a no-op without NOTIFY_SOCKET.
/// READY=1 when started (it is the last component), STATUS= the watcher's one-line state every
/// few seconds, WATCHDOG=1 at half of WATCHDOG_USEC from the event loop itself (a loop that is
/// stuck sends none), RELOADING=1 ... READY=1 around a reload, STOPPING=1 when stopping.
class systemd_component final : public component {
public:
    systemd_component(boost::asio::any_io_executor ex, watcher_component& watcher)
        : ex_(std::move(ex))
        , watcher_(watcher)
        , timer_(ex_) {}
    std::string_view name() const noexcept override { return "systemd"; }
    void start() override;
    boost::asio::awaitable<void> async_stop() override;

    /// RELOADING=1 (with MONOTONIC_USEC), before the components reload.
    void reloading();
    /// READY=1 and the STATUS after a reload; `error` (one line) when it was not applied.
    void reloaded(const std::string& error = {});
    /// STOPPING=1, at once when a stop signal comes.
    void stopping();

private:
    boost::asio::awaitable<void> loop();

    boost::asio::any_io_executor ex_;
    watcher_component& watcher_;
    boost::asio::steady_timer timer_;
    bool stopping_ = false;
    bool loop_running_ = false;
    boost::asio::steady_timer loop_done_{ex_};
};

} // namespace taskwatch::app
