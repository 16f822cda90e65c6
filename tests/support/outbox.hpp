// Reading a daemon's state database the way an operator would (sqlite3, read-only, while the
// daemon writes it): the outbox's events, the tasks' stored statuses, any query.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace taskwatch::test {

/// One SQL query on the database at `db_path` (read-only); each row's columns as text (NULL as
/// ""). Empty while the database does not exist.
std::vector<std::vector<std::string>> query(const std::string& db_path, const std::string& sql);

/// Runs SQL that writes (statements separated by ';') on the database at `db_path`, without
/// taskwatch: to make foreign, older or doctored files. SQLite's error message, "" on success.
std::string exec_sql(const std::string& db_path, const std::string& sql);

struct stored_event {
    std::string type, task_id;
    boost::json::value payload;
};

/// Every event in the outbox, in commit order; empty while the database does not exist.
std::vector<stored_event> read_events(const std::string& db_path);

/// task_id -> stored status code (tasks.status; rows never observed are left out).
std::map<std::string, std::int64_t> read_task_statuses(const std::string& db_path);

/// Waits until `done` holds for the outbox, re-reading it as the daemon commits; the outbox as
/// it was last read.
std::vector<stored_event>
wait_for_events(const std::string& db_path,
                const std::function<bool(const std::vector<stored_event>&)>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(15));

/// The deliveries to `webhook`: event id -> state ("pending", "delivered", "dead").
std::map<std::string, std::string> read_deliveries(const std::string& db_path,
                                                   const std::string& webhook);

/// How many events of `type` there are (of `task_id` only, in the second form).
std::size_t count_type(const std::vector<stored_event>& events, const std::string& type);
std::size_t count_of(const std::vector<stored_event>& events, const std::string& type,
                     const std::string& task_id);

} // namespace taskwatch::test
