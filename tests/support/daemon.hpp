// taskwatchd --config as a child process watching a simulator, the config it is given, and the
// address its HTTP(S) server listens on, read from its log.
#pragma once

#include "support/http_request.hpp"
#include "support/outbox.hpp"
#include "support/process.hpp"
#include "support/sim.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace taskwatch::test {

struct daemon_options {
    std::string interval = "100ms";
    std::string finished_interval = "300ms";
    double max_requests_per_second = 200;
    std::string extra_modelarts; ///< more lines under modelarts:, each "  key: value\n"
    std::string extra_poll;      ///< more lines under poll:, each "  key: value\n"
    std::string extra_target;    ///< more lines under the target, each "    key: value\n"
    std::string listen = "127.0.0.1:0";
    std::string web_config_file; ///< empty: no web_config_file key
    std::string extra_top;       ///< more top-level YAML after the targets (e.g. "webhooks:\n...")
    /// The config's file name in the simulator's folder: several daemons on one simulator need
    /// one each.
    std::string config_name = "watch.yml";
    std::vector<std::string> args; ///< more command-line arguments after --config FILE
};

/// The YAML of a daemon watching every task of `dataset` on `sim` (AK/SK from files ak and sk
/// next to it).
std::string daemon_config(const sim_control& sim, const std::string& dataset,
                          const std::string& state_dir, const daemon_options& o = {});

/// taskwatchd started with daemon_config() written to the simulator's folder (as config_name).
struct daemon_process {
    std::optional<child_process> proc;
    std::string config, db;

    daemon_process(sim_control& sim, const std::string& dataset, const std::string& state_dir,
                   const daemon_options& o = {});

    /// SIGTERM, then its exit status (-1 when it has not exited within 10 s).
    int stop();
    /// Waits until stderr contains `needle`; false when `timeout` passes first.
    bool wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) const {
        return proc->wait_for_stderr(needle, timeout);
    }
};

/// Where a starting taskwatchd serves HTTP(S), from its `serving HTTP` log line (ca_file left
/// empty). Throws std::runtime_error when it exits first or says nothing within `timeout`.
server_address http_address_of(child_process& daemon, bool* tls = nullptr,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// A daemon watching `dataset` on `sim`, and its HTTP(S) server's address.
struct served_daemon {
    daemon_process d;
    server_address http;
    bool tls = false;

    /// `ca_file`: what to trust when the daemon serves HTTPS.
    served_daemon(sim_control& sim, const std::string& dataset, const std::string& state_dir,
                  const daemon_options& o = {}, const std::string& ca_file = {});

    http_reply request(boost::beast::http::verb method, const std::string& target,
                       header_list headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
    http_reply get(const std::string& target, header_list headers = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// GET /metrics, which must answer 200.
    std::string metrics();
    /// The value of an unlabelled metric; nullopt when /metrics does not have it.
    std::optional<double> metric(const std::string& name);
    /// The same, which must be there (throws std::runtime_error otherwise).
    double metric_or_fail(const std::string& name);
};

/// The smallest served setup, as a doctest fixture (TEST_CASE_FIXTURE): a static simulator with
/// two tasks in one dataset and a daemon with the default options watching it and serving.
struct served_two_tasks {
    sim_process sim{std::vector<std::string>{"--static", "--tasks", "2", "--datasets", "1"}};
    std::string dataset = first_dataset(sim).id;
    temp_dir state{"state"};
    served_daemon w{sim, dataset, state.str()};
};

/// Waits until the daemon has announced `listed` tasks and checks there are exactly that many
/// task.discovered events (throws std::runtime_error with its log otherwise); the outbox then.
std::vector<stored_event> wait_for_discovery(const daemon_process& d, std::size_t listed);

} // namespace taskwatch::test
