#include "taskwatch/app/commands.hpp"

#include "taskwatch/app/wiring.hpp"
#include "taskwatch/config/host_checks.hpp"
#include "taskwatch/config/settings.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/state/state_dir_check.hpp"
#include "taskwatch/web/web_config.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

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

} // namespace

int run_get(const cli_options& opts) {
    config::settings s;
    try {
        s = config::load_settings(opts.config_path);
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
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

int run_check_config(const cli_options& opts) {
    try {
        auto s =
            config::load_settings(opts.config_path, auth::process_environment(), start_up_checks());
        if (s.web_config_file) web::load_web_config(*s.web_config_file);
        std::size_t fixed = 0, discovered = 0;
        for (const auto& t : s.targets) {
            if (t.task_ids)
                fixed += t.task_ids->size();
            else
                ++discovered;
        }
        std::printf("%s: ok: %zu target(s), %zu task(s) listed, %zu dataset(s) discovered, "
                    "%zu webhook(s)\n",
                    opts.config_path.c_str(), s.targets.size(), fixed, discovered,
                    s.webhooks.size());
        return 0;
    } catch (const config::config_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

} // namespace taskwatch::app
