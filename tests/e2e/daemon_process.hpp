// taskwatchd --config as a child process watching a modelarts-sim child, and the outbox
// read back with sqlite3 the way an operator would. Header-only: one e2e binary.
#pragma once

#include "sim_process.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace taskwatch::test {

struct stored_event {
    std::string type, task_id;
    boost::json::value payload;
};

/// Every event in the outbox, in commit order; empty while the database does not exist.
inline std::vector<stored_event> read_events(const std::string& db_path) {
    std::vector<stored_event> out;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return out;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT type, task_id, payload FROM events ORDER BY rowid", -1, &st,
                           nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            auto text = [&](int i) {
                auto* p = sqlite3_column_text(st, i);
                return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
            };
            out.push_back({text(0), text(1), boost::json::parse(text(2))});
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/// task_id -> stored status code (tasks.status; rows never observed are left out).
inline std::map<std::string, std::int64_t> read_task_statuses(const std::string& db_path) {
    std::map<std::string, std::int64_t> out;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return out;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT task_id, status FROM tasks WHERE status IS NOT NULL", -1,
                           &st, nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] =
                sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

struct daemon_options {
    std::string interval = "100ms";
    std::string finished_interval = "300ms";
    double max_requests_per_second = 200;
    std::string extra_modelarts; ///< more lines under modelarts:, each "  key: value\n"
    std::string extra_poll;      ///< more lines under poll:, each "  key: value\n"
    std::string extra_target;    ///< more lines under the target, each "    key: value\n"
    std::string listen = "127.0.0.1:0";
    std::string web_config_file; ///< empty: no web_config_file key
};

/// The YAML of a daemon watching every task of `dataset` on `sim`.
inline std::string daemon_config(sim_process& sim, const std::string& dataset,
                                 const std::string& state_dir, const daemon_options& o = {}) {
    return "listen: " + o.listen + "\n" +
           (o.web_config_file.empty() ? "" : "web_config_file: " + o.web_config_file + "\n") +
           "state_dir: " + state_dir +
           "\n"
           "log_level: debug\n"
           "modelarts:\n"
           "  endpoint: " +
           sim.url() +
           "\n"
           "  project_id: " +
           sim.account.project +
           "\n"
           "  ca_file: " +
           sim.ca_file() +
           "\n"
           "  auth: {type: aksk, ak_file: ak, sk_file: sk}\n"
           "  max_requests_per_second: " +
           std::to_string(o.max_requests_per_second) + "\n" + o.extra_modelarts +
           "poll:\n  interval: " + o.interval + "\n  finished_interval: " + o.finished_interval +
           "\n  jitter: 0\n" + o.extra_poll + "targets:\n  - dataset_id: " + dataset + "\n" +
           o.extra_target;
}

struct daemon_process {
    std::optional<child_process> proc;
    std::string config, db;

    daemon_process(sim_process& sim, const std::string& dataset, const std::string& state_dir,
                   const daemon_options& o = {}) {
        sim.dir.write("ak", sim.account.ak + "\n");
        sim.dir.write("sk", sim.account.sk + "\n");
        config = sim.dir.write("watch.yml", daemon_config(sim, dataset, state_dir, o));
        db = state_dir + "/taskwatch.db";
        proc.emplace(bin_dir() + "/taskwatchd", std::vector<std::string>{"--config", config});
    }

    int stop() {
        proc->send_signal(SIGTERM);
        return proc->wait(std::chrono::seconds(10)).value_or(-1);
    }

    /// Waits until stderr contains `needle`; false when `timeout` passes first.
    bool wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (proc->stderr_text().find(needle) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // another process writes it
        }
        return true;
    }
};

/// Waits for a condition on the outbox, re-reading it as the daemon commits (every 200 ms).
inline std::vector<stored_event>
wait_for_events(const std::string& db,
                const std::function<bool(const std::vector<stored_event>&)>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto events = read_events(db);
    while (!done(events) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the daemon is another process
        events = read_events(db);
    }
    return events;
}

/// Waits until `done()` holds, calling it every `step`; its last answer.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = std::chrono::milliseconds(50)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

inline std::size_t count_type(const std::vector<stored_event>& ev, const std::string& type) {
    return static_cast<std::size_t>(
        std::count_if(ev.begin(), ev.end(), [&](const auto& e) { return e.type == type; }));
}
/// Waits until the daemon has announced `listed` tasks, and requires exactly that many
/// task.discovered events; returns the outbox as it was then.
inline std::vector<stored_event> wait_for_discovery(const daemon_process& d, std::size_t listed) {
    auto events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.discovered") >= listed; });
    REQUIRE_MESSAGE(count_type(events, "task.discovered") == listed, d.proc->stderr_text());
    return events;
}

inline std::size_t count_of(const std::vector<stored_event>& ev, const std::string& type,
                            const std::string& task_id) {
    return static_cast<std::size_t>(std::count_if(ev.begin(), ev.end(), [&](const auto& e) {
        return e.type == type && e.task_id == task_id;
    }));
}

} // namespace taskwatch::test
