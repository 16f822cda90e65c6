#include "support/outbox.hpp"

#include "support/wait.hpp"

#include <boost/json/parse.hpp>

#include <sqlite3.h>

#include <algorithm>

namespace taskwatch::test {

std::vector<std::vector<std::string>> query(const std::string& db_path, const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return rows;
    }
    sqlite3_busy_timeout(db, 5000); // the daemon may hold the write lock
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
        const int n = sqlite3_column_count(st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            auto& row = rows.emplace_back();
            for (int i = 0; i < n; ++i) {
                auto* p = sqlite3_column_text(st, i);
                row.emplace_back(p ? reinterpret_cast<const char*>(p) : "");
            }
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

std::string exec_sql(const std::string& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
        std::string message = sqlite3_errmsg(db);
        sqlite3_close(db);
        return db_path + ": " + message;
    }
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string message = rc == SQLITE_OK ? "" : (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    sqlite3_close(db);
    return message;
}

std::vector<stored_event> read_events(const std::string& db_path) {
    std::vector<stored_event> out;
    for (auto& row : query(db_path, "SELECT type, task_id, payload FROM events ORDER BY rowid"))
        out.push_back({std::move(row[0]), std::move(row[1]), boost::json::parse(row[2])});
    return out;
}

std::map<std::string, std::string> read_deliveries(const std::string& db_path,
                                                   const std::string& webhook) {
    std::map<std::string, std::string> out;
    std::string quoted = "'";
    for (char c : webhook)
        quoted += c == '\'' ? std::string("''") : std::string(1, c);
    quoted += "'";
    for (auto& row : query(db_path, "SELECT event_id, state FROM deliveries WHERE webhook = " +
                                        quoted + " ORDER BY id"))
        out[row[0]] = row[1];
    return out;
}

std::map<std::string, std::int64_t> read_task_statuses(const std::string& db_path) {
    std::map<std::string, std::int64_t> out;
    for (const auto& row :
         query(db_path, "SELECT task_id, status FROM tasks WHERE status IS NOT NULL"))
        out[row[0]] = std::stoll(row[1]);
    return out;
}

std::vector<stored_event>
wait_for_events(const std::string& db_path,
                const std::function<bool(const std::vector<stored_event>&)>& done,
                std::chrono::milliseconds timeout) {
    std::vector<stored_event> events;
    wait_until(
        [&] {
            events = read_events(db_path);
            return done(events);
        },
        timeout);
    return events;
}

std::size_t count_type(const std::vector<stored_event>& events, const std::string& type) {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const auto& e) { return e.type == type; }));
}

std::size_t count_of(const std::vector<stored_event>& events, const std::string& type,
                     const std::string& task_id) {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) {
        return e.type == type && e.task_id == task_id;
    }));
}

} // namespace taskwatch::test
