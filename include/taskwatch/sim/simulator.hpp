// modelarts-sim as a library: the ModelArts task APIs, IAM token issue, AK/SK and token
// checks, fault injection and a loopback-only control API under /sim/, served by
// http::server on the caller's io_context. `taskwatchd --demo` runs it in-process;
// modelarts-sim's main only parses the command line and runs it.
//
// APIs (see --help / docs/simulator.md):
//   GET  /v2/{project_id}/datasets/{dataset_id}/tasks/{task_id}   one task (seed shape)
//   GET  /v2/{project_id}/datasets/{dataset_id}/tasks             list: limit, offset, type,
//   task_name GET  /v2/{project_id}/datasets                                datasets: limit, offset
//   POST /v3/auth/tokens                                          IAM password auth -> 201 +
//   X-Subject-Token
// Control (loopback peers only, JSON, no auth, no faults):
//   GET/POST /sim/tasks, GET/PATCH/PUT/POST/DELETE /sim/tasks/{task_id}, GET /sim/datasets,
//   GET/POST/DELETE /sim/faults, GET/DELETE /sim/stats, GET/DELETE /sim/transitions,
//   POST /sim/tokens/expire
// Not thread-safe: every call on the io_context's thread.
#pragma once

#include "taskwatch/sim/faults.hpp"
#include "taskwatch/sim/gateway.hpp"
#include "taskwatch/sim/model.hpp"
#include "taskwatch/sim/options.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace taskwatch::sim {

/// Start-up failure: TLS files, certificate generation, bind. The message names the cause.
class start_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class simulator {
public:
    simulator(boost::asio::any_io_executor ex, sim_options opts);
    ~simulator();
    simulator(const simulator&) = delete;
    simulator& operator=(const simulator&) = delete;

    /// Sets up TLS (generating certificates for self_signed_dir), binds and starts serving.
    /// Throws start_error.
    void start();
    /// "https://127.0.0.1:PORT" (or http:// with plain), valid after start().
    std::string url() const;
    std::uint16_t port() const;
    /// DIR/ca.pem when the certificates were generated, for clients to trust.
    std::optional<std::string> ca_file() const;

    /// Stops spawning, stops the server gracefully (in-flight answers finish within `drain`).
    boost::asio::awaitable<void>
    async_stop(std::chrono::milliseconds drain = std::chrono::seconds(5));
    /// The same from non-coroutine code (signal handlers); `done` runs when it is finished.
    void stop(std::function<void()> done = {},
              std::chrono::milliseconds drain = std::chrono::seconds(5));

    /// In-process access for demos and tests.
    world& tasks();
    fault_plan& faults();
    gateway& auth();
    /// What GET /sim/stats answers.
    boost::json::object stats() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace taskwatch::sim
