#include "taskwatch/app/daemon.hpp"

#include "taskwatch/app/wiring.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/metrics/collector.hpp"
#include "taskwatch/notify/routing.hpp"
#include "taskwatch/poll/watcher.hpp"
#include "taskwatch/sim/simulator.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/web/guard.hpp"
#include "taskwatch/web/routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <systemd/sd-daemon.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

namespace taskwatch::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

void apply_log_level(const config::settings& s) {
    log::set_level(s.log_level);
}

std::string status_line(const poll::watcher& w) {
    return "watching " + std::to_string(w.tasks().size()) + " tasks, " +
           std::to_string(w.failing_tasks()) + " failing, " + std::to_string(w.stats().polls) +
           " polls";
}

// READY, STATUS and WATCHDOG for systemd (Type=notify); no-ops without NOTIFY_SOCKET.
asio::awaitable<void> async_notify_loop(poll::watcher* w, bool* stopping) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    std::uint64_t watchdog_usec = 0;
    const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
    const auto period = watchdog ? std::chrono::microseconds(watchdog_usec / 2)
                                 : std::chrono::microseconds(5'000'000);
    bool ready_sent = false;
    while (!*stopping) {
        std::string msg = "STATUS=" + status_line(*w);
        if (!ready_sent) {
            msg = "READY=1\n" + msg;
            ready_sent = true;
        }
        if (watchdog) msg += "\nWATCHDOG=1";
        sd_notify(0, msg.c_str());
        timer.expires_after(std::min<std::chrono::microseconds>(period, 5s));
        co_await timer.async_wait(use_tuple);
    }
}

// The completion of a coroutine the daemon spawns: an exception that ended it is logged, never
// lost (no co_spawn is detached).
auto log_if_thrown(const char* what) {
    return [what](const std::exception_ptr& e) { log::exception_ended(e, what); };
}

struct running_daemon {
    std::shared_ptr<const config::settings> settings;
    std::unique_ptr<http::client> client;
    /// Shared with the watcher's API clients: one a reload replaced goes with its last request.
    std::shared_ptr<auth::authorizer> authorizer;
    std::unique_ptr<state::store> store;
    std::unique_ptr<poll::watcher> watcher;
    metrics::delivery_counters deliveries; ///< incremented by the notifier
    std::unique_ptr<metrics::collector> collector;
    std::unique_ptr<web::web_guard> guard; ///< web_config_file: TLS and basic auth
    std::unique_ptr<http::server> server;  ///< last: destroyed first, it reads everything above
    bool stopping = false;
};

// The outbox figures of every configured webhook; none when the store cannot answer (the
// scrape still succeeds, without these series).
std::vector<metrics::webhook_figures> webhook_figures_of(running_daemon& d) {
    std::vector<metrics::webhook_figures> out;
    try {
        for (const auto& w : d.settings->webhooks)
            out.push_back({w.name, d.store->queue_length(w.name), d.store->oldest_pending(w.name),
                           d.store->dead_letters(w.name)});
    } catch (const std::exception& e) {
        log::warn("cannot read the outbox for /metrics", {{"error", e.what()}});
        out.clear();
    }
    return out;
}

// /metrics, /api/v1/tasks, /-/healthy, /-/ready and / on `listen`. Throws config_error naming
// the config file and `listen` when the address cannot be used.
void start_http(running_daemon& d, asio::io_context& ioc) {
    metrics::collector_sources src;
    src.tasks = [&d]() -> const poll::task_view& { return d.watcher->tasks(); };
    src.stats = [&d]() -> const poll::watcher_stats& { return d.watcher->stats(); };
    src.webhooks = [&d] { return webhook_figures_of(d); };
    src.deliveries = &d.deliveries;
    src.process = [] { return metrics::read_process_stats(); };
    d.collector = std::make_unique<metrics::collector>(std::move(src));

    web::site site;
    site.metrics = [&d] { return d.collector->render(); };
    site.metrics_stream = [&d] { return d.collector->stream(); };
    site.tasks = [&d]() -> const poll::task_view& { return d.watcher->tasks(); };
    site.stats = [&d]() -> const poll::watcher_stats& { return d.watcher->stats(); };
    site.ready = [&d] { return d.watcher->first_round_done(); };
    http::handler handler = web::make_handler(std::move(site));

    const auto& s = *d.settings;
    auto ep = http::parse_listen_address(s.listen);
    if (!ep) throw config::config_error(s.source_path + ": listen: " + ep.error());
    http::server_options options;
    if (s.web_config_file) {
        // Throws web_config_error ("FILE:LINE: key: problem"); re-read when it changes.
        d.guard = std::make_unique<web::web_guard>(*s.web_config_file);
        if (d.guard->tls()) options.tls_provider = d.guard->tls_provider();
        handler = d.guard->wrap(std::move(handler));
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
    d.server =
        std::make_unique<http::server>(ioc.get_executor(), std::move(options), std::move(handler));
    try {
        d.server->start();
    } catch (const http::server_error& e) {
        throw config::config_error(s.source_path + ": listen: " + e.what());
    }
}

std::string url_of(const asio::ip::tcp::endpoint& ep, bool tls) {
    const auto a = ep.address();
    std::string host = a.is_unspecified() ? (a.is_v6() ? "[::1]" : "127.0.0.1")
                       : a.is_v6()        ? "[" + a.to_string() + "]"
                                          : a.to_string();
    return (tls ? "https://" : "http://") + host + ":" + std::to_string(ep.port()) + "/";
}

// SIGTERM: stop accepting HTTP and polling together; the HTTP drain is bounded by 2 s.
asio::awaitable<void> async_shutdown(running_daemon* d, asio::io_context* io,
                                     std::function<void()>* done) {
    bool http_stopped = false;
    asio::steady_timer http_done(io->get_executor(), asio::steady_timer::time_point::max());
    d->server->stop(2s, [&http_stopped, &http_done] {
        http_stopped = true;
        http_done.cancel();
    });
    co_await d->watcher->async_stop();
    d->client->shutdown();
    if (!http_stopped) co_await http_done.async_wait(use_tuple);
    if (*done) (*done)();
    // Everything is committed: idle timers (keep-alive sweeps, STATUS) may go.
    io->stop();
}

// Runs the daemon on `ioc` until a stop signal. `on_listening` runs once the HTTP server
// listens (with its URL); `on_stopped` after polling stopped.
int serve(asio::io_context& ioc, const std::string& config_path,
          std::function<void()> on_stopped = {},
          std::function<void(const std::string&)> on_listening = {}) {
    // First of all: a SIGTERM during start-up must stop us cleanly, not kill us.
    asio::signal_set signals(ioc, SIGTERM, SIGINT, SIGHUP);
    running_daemon d;
    try {
        d.settings = std::make_shared<const config::settings>(config::load_settings(config_path));
        apply_log_level(*d.settings);
        d.client =
            std::make_unique<http::client>(ioc.get_executor(), client_options_from(*d.settings));
        d.authorizer = make_authorizer(*d.settings, *d.client);
        d.store = std::make_unique<state::store>(d.settings->state_dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    d.watcher = std::make_unique<poll::watcher>(ioc.get_executor(), d.settings,
                                                notify::routing_for(d.settings), *d.store,
                                                *d.client, d.authorizer);
    try {
        start_http(d, ioc);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    const auto url = url_of(d.server->local_endpoint(), d.guard && d.guard->tls());
    log::info("serving HTTP", {{"url", url}});
    if (on_listening) on_listening(url);
    try {
        d.watcher->start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", d.store->path().c_str(), e.what());
        return 1;
    }
    log::info("taskwatchd started", {{"version", TASKWATCH_VERSION}, {"config", config_path}});

    std::function<void()> wait_signal;
    asio::steady_timer hard_stop(ioc);
    wait_signal = [&] {
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                if (d.guard) d.guard->reload_if_changed(); // at once, not within a second
                try {
                    auto fresh = std::make_shared<const config::settings>(
                        config::load_settings(config_path));
                    auto restart = config::describe_restart_needed(*d.settings, *fresh);
                    if (!restart.empty())
                        log::warn("some changes need a restart; the rest is applied",
                                  {{"restart_needed", restart}});
                    apply_log_level(*fresh);
                    std::shared_ptr<auth::authorizer> new_auth;
                    if (!(fresh->modelarts.auth == d.settings->modelarts.auth)) {
                        d.authorizer = make_authorizer(*fresh, *d.client);
                        new_auth = d.authorizer;
                    }
                    d.settings = fresh;
                    d.watcher->reload(fresh, notify::routing_for(fresh), new_auth);
                } catch (const std::exception& e) {
                    log::error("configuration not reloaded, keeping the running one",
                               {{"error", e.what()}});
                }
                wait_signal();
                return;
            }
            log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
            sd_notify(0, "STOPPING=1");
            d.stopping = true;
            signals.cancel();
            // Whatever still runs after 10 s is cut off: the contract's stop deadline.
            hard_stop.expires_after(9500ms);
            hard_stop.async_wait([&](const boost::system::error_code& e2) {
                if (!e2) ioc.stop();
            });
            asio::co_spawn(ioc, async_shutdown(&d, &ioc, &on_stopped), log_if_thrown("shutdown"));
        });
    };
    wait_signal();
    asio::co_spawn(ioc, async_notify_loop(d.watcher.get(), &d.stopping),
                   log_if_thrown("sd_notify loop"));
    ioc.run();
    log::flush_suppressed(); // counts of warnings held back by the rate limit
    log::info("taskwatchd stopped", {{"status", status_line(*d.watcher)}});
    return 0;
}

} // namespace

int run_daemon(const cli_options& opts) {
    asio::io_context ioc(1);
    return serve(ioc, opts.config_path);
}

int run_demo(const cli_options& opts) {
    namespace fs = std::filesystem;
    char tmpl[] = "/tmp/taskwatch-demo-XXXXXX";
    if (!::mkdtemp(tmpl)) {
        std::perror("taskwatchd --demo: mkdtemp");
        return 1;
    }
    const fs::path dir = tmpl;
    asio::io_context ioc(1);

    sim::sim_options so;
    so.self_signed_dir = (dir / "tls").string();
    so.world.tasks = 36;
    so.world.datasets = 3;
    so.world.phase = 3s;
    so.spawn_rate = 0.05;
    const std::string ak = "DEMOAK0000000000000001";
    std::string sk;
    for (int i = 0; i < 40; ++i)
        sk.push_back("abcdefghijklmnopqrstuvwxyz0123456789"[std::rand() % 36]);
    so.keys.push_back({ak, detail::secret(sk), std::nullopt});
    sim::simulator simulator(ioc.get_executor(), so);
    try {
        simulator.start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "taskwatchd --demo: %s\n", e.what());
        return 1;
    }
    auto write = [&](const char* name, const std::string& text) {
        std::ofstream(dir / name) << text << '\n';
        fs::permissions(dir / name, fs::perms::owner_read | fs::perms::owner_write);
    };
    write("ak", ak);
    write("sk", sk);
    std::string yml = "listen: " + opts.listen.value_or("127.0.0.1:9817") + "\n" +
                      "state_dir: " + (dir / "state").string() + "\n" +
                      "modelarts:\n"
                      "  endpoint: " +
                      simulator.url() +
                      "\n"
                      "  project_id: " +
                      simulator.tasks().options().project_ids.front() +
                      "\n"
                      "  ca_file: " +
                      simulator.ca_file().value_or("") +
                      "\n"
                      "  auth: {type: aksk, ak_file: ak, sk_file: sk}\n"
                      "  max_requests_per_second: 50\n"
                      "poll:\n  interval: 2s\n  finished_interval: 30s\n  stall_after: 1m\n"
                      "targets:\n";
    for (const auto& d : simulator.tasks().datasets())
        yml += "  - dataset_id: " + d + "\n    labels: {demo: \"yes\"}\n";
    write("config.yml", yml);
    std::fprintf(stderr, "taskwatchd --demo: simulator at %s, config %s\n", simulator.url().c_str(),
                 (dir / "config.yml").c_str());
    int status = serve(
        ioc, (dir / "config.yml").string(), [&] { simulator.stop(); },
        [](const std::string& url) {
            std::fprintf(stderr, "taskwatchd --demo: status page at %s\n", url.c_str());
        });
    std::error_code ec;
    fs::remove_all(dir, ec);
    return status;
}

} // namespace taskwatch::app
