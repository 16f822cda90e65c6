#include "taskwatch/app/commands.hpp"

#include "taskwatch/app/status.hpp"
#include "taskwatch/app/wiring.hpp"
#include "taskwatch/config/host_checks.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/detail/rfc3339.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/state/state_dir_check.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/web/web_config.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace taskwatch::app {
namespace asio = boost::asio;

namespace {

// --check-config's look at this machine: what start-up would fail on when it listens on
// `listen` and opens `state_dir`, found without taking the port (a running daemon may hold
// it) and without creating anything.
config::host_checks start_up_checks() {
    config::host_checks checks;
    checks.listen = [](const std::string& listen) -> std::optional<std::string> {
        auto ep = http::parse_listen_address(listen);
        if (!ep) return ep.error();
        // Port 0: does this machine have the address at all (EADDRNOTAVAIL otherwise)?
        asio::io_context ioc;
        asio::ip::tcp::acceptor acceptor(ioc);
        boost::system::error_code ec;
        acceptor.open(ep->protocol(), ec);
        if (!ec) acceptor.bind(asio::ip::tcp::endpoint(ep->address(), 0), ec);
        if (ec) return "cannot listen on " + listen + ": " + ec.message();
        return std::nullopt;
    };
    checks.state_dir = [](const std::string& dir) { return state::check_state_dir(dir); };
    return checks;
}

// The settings of opts.config_path; nullopt after printing its one-line error on stderr.
std::optional<config::settings> load_or_say(const cli_options& opts) {
    try {
        return config::load_settings(opts.config_path);
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return std::nullopt;
    }
}

} // namespace

int run_get(const cli_options& opts) {
    auto loaded = load_or_say(opts);
    if (!loaded) return 1;
    auto& s = *loaded;
    log::set_level(s.log_level);

    // A configured target for this dataset may point at another project or region.
    const config::target* target = nullptr;
    for (const auto& t : s.targets)
        if (t.dataset_id == opts.dataset_id) target = &t;

    asio::io_context ioc;
    int status = 1;
    try {
        http::client client(ioc.get_executor(), client_options_from(s));
        auto auth = make_authorizer(s, client);
        auto api = make_api_client(s, target, client, *auth);
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                auto res = co_await api->async_get_task(opts.dataset_id, opts.task_id);
                if (res) {
                    std::cout << pretty_json(modelarts::to_json(*res)) << '\n' << std::flush;
                    if (std::cout) {
                        status = 0;
                    } else {
                        std::fprintf(stderr, "taskwatchd get: cannot write the task to "
                                             "standard output\n");
                    }
                } else {
                    std::fprintf(stderr, "taskwatchd get: %s\n", res.error().to_string().c_str());
                }
                client.shutdown();
            },
            [](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    std::fprintf(stderr, "taskwatchd get: internal error: %s\n", ex.what());
                }
            });
        ioc.run();
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "taskwatchd get: %s\n", e.what());
        return 1;
    }
    return status;
}

namespace {

// The state database of the config's state_dir, which must exist already (a command that
// only reads must not create one). Null after printing one line on stderr.
std::unique_ptr<state::store> open_outbox(const cli_options& opts, config::settings& s) {
    auto loaded = load_or_say(opts);
    if (!loaded) return nullptr;
    s = std::move(*loaded);
    const auto file = std::filesystem::path(s.state_dir) / state::store::file_name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        std::fprintf(stderr, "taskwatchd outbox: %s: no state database (has the daemon run?)\n",
                     file.c_str());
        return nullptr;
    }
    try {
        return std::make_unique<state::store>(s.state_dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "taskwatchd outbox: %s\n", e.what());
        return nullptr;
    }
}

} // namespace

int run_outbox_list(const cli_options& opts) {
    config::settings s;
    auto store = open_outbox(opts, s);
    if (!store) return 1;
    try {
        auto rows = store->list_deliveries(opts.dead, opts.webhook);
        std::string out = "id\twebhook\tstate\ttype\tdataset_id\ttask_id\tevent_time\tattempts\t"
                          "next_attempt\tlast_error\n";
        for (const auto& r : rows) {
            out += r.event_id + '\t' + r.webhook + '\t' + (r.dead ? "dead" : "pending") + '\t' +
                   r.type + '\t' + r.key.dataset_id + '\t' + r.key.task_id + '\t' +
                   detail::format_rfc3339(r.event_time, detail::time_precision::seconds) + '\t' +
                   std::to_string(r.attempts) + '\t' +
                   (r.dead ? "-"
                           : detail::format_rfc3339(r.next_attempt_at,
                                                    detail::time_precision::seconds)) +
                   '\t' + (r.last_error.empty() ? "-" : r.last_error) + '\n';
        }
        std::fputs(out.c_str(), stdout);
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
            std::fprintf(stderr, "taskwatchd outbox list: cannot write to standard output\n");
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "taskwatchd outbox list: %s\n", e.what());
        return 1;
    }
}

int run_outbox_redeliver(const cli_options& opts) {
    config::settings s;
    auto store = open_outbox(opts, s);
    if (!store) return 1;
    try {
        const auto now = std::chrono::system_clock::now();
        const std::size_t n = opts.all_dead ? store->redeliver_all_dead(opts.webhook, now)
                                            : store->redeliver(opts.event_ids, opts.webhook, now);
        std::printf("%zu dead letter(s) put back in the queue\n", n);
        if (n == 0 && !opts.all_dead) {
            std::fprintf(stderr, "taskwatchd outbox redeliver: no dead letter with %s%s\n",
                         opts.event_ids.size() == 1 ? "that id" : "those ids",
                         opts.webhook ? " for that webhook" : "");
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "taskwatchd outbox redeliver: %s\n", e.what());
        return 1;
    }
}

namespace {

// GET /api/v1/tasks of the daemon listening on `listen`: its rows, or why not (one phrase).
expected<std::vector<status_row>, std::string> rows_from_daemon(const std::string& listen,
                                                                std::string& url) {
    auto ep = http::parse_listen_address(listen);
    if (!ep) return unexpected("listen: " + ep.error());
    if (ep->port() == 0)
        return unexpected(std::string("listen has port 0 (a port chosen at start)"));
    auto address = ep->address();
    // Listening on every address: this host's loopback of the same family answers.
    if (address.is_unspecified())
        address = address.is_v4() ? asio::ip::address(asio::ip::address_v4::loopback())
                                  : asio::ip::address(asio::ip::address_v6::loopback());
    http::endpoint target;
    target.scheme = "http";
    target.host = address.to_string();
    target.port = ep->port();
    url = "http://" + (address.is_v6() ? "[" + target.host + "]" : target.host) + ":" +
          std::to_string(target.port) + "/api/v1/tasks";

    asio::io_context ioc;
    http::client_options co;
    co.timeout = std::chrono::seconds(3);
    co.proxy_from_environment = false;
    co.max_connections = 1;
    http::client client(ioc.get_executor(), co);
    expected<std::vector<status_row>, std::string> out = unexpected(std::string("no answer"));
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            http::request req;
            req.target = "/api/v1/tasks";
            auto res = co_await client.async_send(target, std::move(req));
            if (!res)
                out = unexpected(std::string(http::to_string(res.error().kind)) + ": " +
                                 res.error().message);
            else if (res->status != 200)
                out = unexpected("HTTP " + std::to_string(res->status));
            else
                out = status_rows_from_api(res->body);
            client.shutdown();
        },
        [&](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                out = unexpected(std::string("internal error: ") + ex.what());
            }
        });
    ioc.run();
    return out;
}

} // namespace

int run_status(const cli_options& opts) {
    auto loaded = load_or_say(opts);
    if (!loaded) return 1;
    const auto& s = *loaded;
    log::set_level(log::level::error); // the client's warnings are not the table's business
    std::vector<status_row> rows;
    std::string why_not_api;
    std::string url;
    bool from_api = false;
    if (s.web_config_file) {
        why_not_api = "web_config_file is set (status does not use its TLS or basic auth)";
    } else {
        try {
            auto r = rows_from_daemon(s.listen, url);
            if (r) {
                rows = std::move(*r);
                from_api = true;
            } else {
                why_not_api = (url.empty() ? "" : url + ": ") + r.error();
            }
        } catch (const std::exception& e) {
            why_not_api = e.what();
        }
    }
    if (from_api) {
        std::fprintf(stderr, "source: the running daemon, %s\n", url.c_str());
    } else {
        const auto file = std::filesystem::path(s.state_dir) / state::store::file_name;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) {
            std::fprintf(stderr,
                         "taskwatchd status: no daemon to ask (%s) and no state database at %s\n",
                         why_not_api.c_str(), file.c_str());
            return 1;
        }
        try {
            state::store store(s.state_dir);
            rows = status_rows_from_store(store);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "taskwatchd status: %s\n", e.what());
            return 1;
        }
        std::fprintf(stderr, "source: the state database %s (daemon not asked: %s)\n", file.c_str(),
                     why_not_api.c_str());
    }
    const auto table = format_status_table(rows);
    std::fputs(table.c_str(), stdout);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::fprintf(stderr, "taskwatchd status: cannot write to standard output\n");
        return 1;
    }
    return 0;
}

int run_check_config(const cli_options& opts) {
    try {
        auto s =
            config::load_settings(opts.config_path, auth::process_environment(), start_up_checks());
        if (opts.shard) s.shard = *opts.shard;
        if (s.web_config_file) web::load_web_config(*s.web_config_file);
        std::size_t fixed = 0, discovered = 0;
        for (const auto& t : s.targets) {
            if (t.task_ids)
                fixed += t.task_ids->size();
            else
                ++discovered;
        }
        std::printf("%s: ok: %zu target(s), %zu task(s) listed, %zu dataset(s) discovered, "
                    "%zu webhook(s)%s\n",
                    opts.config_path.c_str(), s.targets.size(), fixed, discovered,
                    s.webhooks.size(),
                    s.shard.count > 1 ? (", shard " + task::to_string(s.shard)).c_str() : "");
        return 0;
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

} // namespace taskwatch::app
