#include "taskwatch/app/daemon.hpp"

#include "components.hpp"
#include "taskwatch/app/component.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/sim/simulator.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

namespace taskwatch::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// The config file's settings with the command line's overrides (--shard), at start and on
// every reload. Throws config::config_error.
settings_ptr load(const std::string& config_path, const std::optional<task::shard>& shard) {
    auto s = config::load_settings(config_path);
    if (shard) s.shard = *shard;
    return std::make_shared<const config::settings>(std::move(s));
}

// Runs the daemon on `ioc` until a stop signal. `on_listening` runs once the HTTP server
// listens (with its URL); `on_stopped` after every component stopped.
int serve(asio::io_context& ioc, const std::string& config_path,
          std::optional<task::shard> shard_override = std::nullopt,
          std::function<void()> on_stopped = {},
          std::function<void(const std::string&)> on_listening = {}) {
    // First of all: a SIGTERM during start-up must stop us cleanly, not kill us.
    asio::signal_set signals(ioc, SIGTERM, SIGINT, SIGHUP);
    settings_ptr settings;
    try {
        settings = load(config_path, shard_override);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    log::set_level(settings->log_level);

    // The parts of the daemon in start order, stopped in reverse: systemd hears STOPPING,
    // webhook deliveries in flight end and are recorded, the watcher stops polling and commits
    // what it saw (delivered after a restart), the HTTP server drains, the clients close
    // their connections, the database closes last. The server listens before polling begins,
    // so that a bad `listen` stops the daemon before it asks ModelArts anything; it reads the
    // watcher only while serving a request, which the event loop runs after start.
    const auto ex = ioc.get_executor();
    component_list parts;
    auto& state = parts.add(std::make_unique<state_component>(settings));
    auto& api = parts.add(std::make_unique<modelarts_component>(ex, settings));
    auto watcher_part = std::make_unique<watcher_component>(ex, settings, state, api);
    auto notify_part = std::make_unique<notify_component>(ex, settings, state);
    auto& watcher = *watcher_part;
    parts.add(std::make_unique<http_component>(ex, settings, state, watcher, *notify_part,
                                               std::move(on_listening)));
    parts.add(std::move(watcher_part));
    parts.add(std::move(notify_part));
    auto& systemd = parts.add(std::make_unique<systemd_component>(ex, watcher));

    bool stopping = false;
    asio::steady_timer hard_stop(ioc);
    // Stops every started component in reverse order, then the event loop. Whatever still
    // runs after 9.5 s is cut off: the contract's stop deadline is 10 s.
    auto stop_all = [&] {
        stopping = true;
        signals.cancel();
        hard_stop.expires_after(9500ms);
        hard_stop.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) ioc.stop();
        });
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                co_await parts.async_stop();
                if (on_stopped) on_stopped();
                // Everything is committed: idle timers (keep-alive sweeps) may go.
                ioc.stop();
            },
            [](const std::exception_ptr& e) { log::exception_ended(e, "shutdown"); });
    };

    try {
        parts.start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        stop_all(); // those already started, in reverse
        ioc.restart();
        ioc.run();
        return 1;
    }
    log::info("taskwatchd started", {{"version", TASKWATCH_VERSION}, {"config", config_path}});

    auto reload = [&] {
        systemd.reloading();
        std::string error;
        try {
            auto fresh = load(config_path, shard_override);
            auto restart = config::describe_restart_needed(*settings, *fresh);
            if (!restart.empty())
                log::warn("some changes need a restart; the rest is applied",
                          {{"restart_needed", restart}});
            log::set_level(fresh->log_level);
            settings = fresh;
            if (!parts.reload(fresh)) error = "a component kept its old settings (see the log)";
        } catch (const std::exception& e) {
            error = e.what();
            log::error("configuration not reloaded, keeping the running one", {{"error", error}});
        }
        systemd.reloaded(detail::one_line(error)); // STATUS= is one line
    };
    std::function<void()> wait_signal = [&] {
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
            if (ec || stopping) return;
            if (sig == SIGHUP) {
                reload();
                wait_signal();
                return;
            }
            log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
            systemd.stopping();
            stop_all();
        });
    };
    wait_signal();
    ioc.run();
    log::flush_suppressed(); // counts of warnings held back by the rate limit
    log::info("taskwatchd stopped", {{"status", watcher.status_line()}});
    return 0;
}

} // namespace

int run_daemon(const cli_options& opts) {
    asio::io_context ioc(1);
    return serve(ioc, opts.config_path, opts.shard);
}

namespace {

// The demo's webhook receiver: a generic webhook on loopback that prints each event it gets,
// so that the demo shows deliveries as well as polls.
http::handler demo_receiver() {
    return [](const http::request_context& rq) -> asio::awaitable<http::reply> {
        namespace bhttp = boost::beast::http;
        std::string line = "taskwatchd --demo: webhook delivery";
        boost::system::error_code ec;
        auto v = boost::json::parse(rq.body(), ec);
        if (!ec && v.is_object()) {
            const auto& o = v.as_object();
            auto text = [](const boost::json::value* x) {
                return x && x->is_string() ? std::string(x->as_string()) : std::string("-");
            };
            auto status = [&](const char* which) {
                const auto* snap = o.if_contains(which);
                return snap && snap->is_object() ? text(snap->as_object().if_contains("status"))
                                                 : std::string("-");
            };
            const auto* task = o.if_contains("task");
            line += " " + text(o.if_contains("type")) + " " +
                    (task && task->is_object() ? text(task->as_object().if_contains("task_name"))
                                               : std::string("-")) +
                    ": " + status("previous") + " -> " + status("current") + " (webhook-id " +
                    std::string(rq.header("webhook-id")) + ")";
        }
        std::fprintf(stderr, "%s\n", line.c_str());
        http::server_response res{bhttp::status::no_content, 11};
        co_return http::reply::respond(std::move(res));
    };
}

} // namespace

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
    http::server_options ro;
    ro.log = [](std::string_view) {};
    http::server receiver(ioc.get_executor(), std::move(ro), demo_receiver());
    try {
        receiver.start();
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
    yml +=
        "webhooks:\n  - name: demo\n    url: http://127.0.0.1:" + std::to_string(receiver.port()) +
        "/hook\n    events: [task.status_changed, task.stalled, task.gone]\n";
    write("config.yml", yml);
    std::fprintf(stderr, "taskwatchd --demo: simulator at %s, config %s\n", simulator.url().c_str(),
                 (dir / "config.yml").c_str());
    int status = serve(
        ioc, (dir / "config.yml").string(), std::nullopt,
        [&] {
            simulator.stop();
            receiver.stop(std::chrono::seconds(1));
        },
        [](const std::string& url) {
            std::fprintf(stderr, "taskwatchd --demo: status page at %s\n", url.c_str());
        });
    std::error_code ec;
    fs::remove_all(dir, ec);
    return status;
}

} // namespace taskwatch::app
