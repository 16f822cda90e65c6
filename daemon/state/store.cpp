// SQLite store of task states and the webhook outbox (see store.hpp).
#include "taskwatch/state/store.hpp"

#include "taskwatch/state/event_json.hpp"

#include <boost/json.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace taskwatch::state {

namespace {

constexpr int busy_timeout_ms = 5000;

/// Migration N takes user_version N-1 to N; each runs in its own transaction.
constexpr std::array<const char*, 5> migrations{
    // 1: task states, events, per-webhook deliveries.
    R"sql(
CREATE TABLE tasks (
    project_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    status INTEGER,              -- NULL: never observed (task_state::last is nullopt)
    progress REAL,
    task_name TEXT,
    resource_id TEXT,
    algorithm_type TEXT,
    code TEXT,
    message TEXT,
    error_code TEXT,
    error_msg TEXT,
    total_sample_count INTEGER,
    annotated_sample_count INTEGER,
    unconfirmed_sample_count INTEGER,
    create_time INTEGER,         -- times: milliseconds since the epoch
    last_poll INTEGER,
    last_change INTEGER,
    progress_since INTEGER,
    finished_at INTEGER,
    stalled INTEGER NOT NULL,
    up INTEGER NOT NULL,
    failing_since INTEGER,
    failing_reported INTEGER NOT NULL,
    last_error_reason TEXT,      -- NULL: no last_error
    last_error_code TEXT,
    last_error_msg TEXT,
    last_error_request_id TEXT,
    gone INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    forgotten INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, dataset_id, task_id)
) WITHOUT ROWID;
CREATE INDEX tasks_finished_at ON tasks (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    time INTEGER NOT NULL,
    project_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    payload TEXT NOT NULL        -- the whole event as JSON (state/event_json.hpp)
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- enqueue order, never reused
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at INTEGER,
    UNIQUE (event_id, webhook)
);
CREATE INDEX deliveries_queue ON deliveries (webhook, state, next_attempt_at);
)sql",
    // 2: the events of one task, found at once: a webhook's queue sends a task's events in
    // order, the next only after the one before it left the queue.
    R"sql(
CREATE INDEX events_task ON events (project_id, dataset_id, task_id);
)sql",
    // 3: the task's cycle (task_state::cycle), part of its event ids.
    R"sql(
ALTER TABLE tasks ADD COLUMN cycle INTEGER NOT NULL DEFAULT 0;
)sql",
    // 4: each task's history (state/history.hpp), keyed by a small number instead of the three
    // ids, so that a point costs ~20 bytes.
    R"sql(
CREATE TABLE history_tasks (
    id INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    UNIQUE (project_id, dataset_id, task_id)
);
CREATE TABLE history (
    task INTEGER NOT NULL REFERENCES history_tasks (id) ON DELETE CASCADE,
    time INTEGER NOT NULL,
    status INTEGER,
    progress REAL,
    annotated INTEGER,
    PRIMARY KEY (task, time)
) WITHOUT ROWID;
)sql",
    // 5: each task's last API answer that changed what is stored (the task page shows it).
    R"sql(
CREATE TABLE answers (
    project_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    time INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (project_id, dataset_id, task_id)
) WITHOUT ROWID;
)sql",
};
static_assert(migrations.size() == store::schema_version);

constexpr const char* sql_begin = "BEGIN IMMEDIATE";
constexpr const char* sql_commit = "COMMIT";
constexpr const char* sql_rollback = "ROLLBACK";

constexpr const char* task_columns =
    "project_id, dataset_id, task_id, status, progress, task_name, resource_id, algorithm_type, "
    "code, message, error_code, error_msg, total_sample_count, annotated_sample_count, "
    "unconfirmed_sample_count, create_time, last_poll, last_change, progress_since, finished_at, "
    "stalled, up, failing_since, failing_reported, last_error_reason, last_error_code, "
    "last_error_msg, last_error_request_id, gone, event_seq, forgotten, cycle";
constexpr int task_column_count = 32;

const std::string sql_upsert_task =
    std::string("INSERT OR REPLACE INTO tasks (") + task_columns +
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)";
const std::string sql_load_tasks =
    std::string("SELECT ") + task_columns + " FROM tasks ORDER BY project_id, dataset_id, task_id";
constexpr const char* sql_insert_event =
    "INSERT INTO events (id, type, time, project_id, dataset_id, task_id, payload) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING";
constexpr const char* sql_insert_delivery =
    "INSERT INTO deliveries (event_id, webhook, state, next_attempt_at) "
    "VALUES (?1, ?2, 'pending', ?3) ON CONFLICT (event_id, webhook) DO NOTHING";
constexpr const char* sql_forget =
    "DELETE FROM tasks WHERE project_id = ?1 AND dataset_id = ?2 AND task_id = ?3";
constexpr const char* sql_forget_finished =
    "DELETE FROM tasks WHERE finished_at < ?1 RETURNING project_id, dataset_id, task_id";
constexpr const char* sql_history_task =
    "SELECT id FROM history_tasks WHERE project_id = ?1 AND dataset_id = ?2 AND task_id = ?3";
constexpr const char* sql_insert_history_task =
    "INSERT INTO history_tasks (project_id, dataset_id, task_id) VALUES (?1, ?2, ?3)";
constexpr const char* sql_insert_point =
    "INSERT OR REPLACE INTO history (task, time, status, progress, annotated) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* sql_forget_history =
    "DELETE FROM history_tasks WHERE project_id = ?1 AND dataset_id = ?2 AND task_id = ?3";
constexpr const char* sql_forget_answer =
    "DELETE FROM answers WHERE project_id = ?1 AND dataset_id = ?2 AND task_id = ?3";
constexpr const char* sql_upsert_answer =
    "INSERT OR REPLACE INTO answers (project_id, dataset_id, task_id, time, body) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* sql_answer =
    "SELECT time, body FROM answers WHERE project_id = ?1 AND dataset_id = ?2 AND task_id = ?3";
constexpr const char* sql_history =
    "SELECT h.time, h.status, h.progress, h.annotated FROM history h "
    "JOIN history_tasks k ON k.id = h.task "
    "WHERE k.project_id = ?1 AND k.dataset_id = ?2 AND k.task_id = ?3 ORDER BY h.time";
constexpr const char* sql_history_from =
    "SELECT h.time, h.status, h.progress, h.annotated FROM history h "
    "JOIN history_tasks k ON k.id = h.task "
    "WHERE k.project_id = ?1 AND k.dataset_id = ?2 AND k.task_id = ?3 AND h.time >= ?4 "
    "ORDER BY h.time";
// Driven from history_tasks: one seek per task into the primary key (task, time).
constexpr const char* sql_history_since =
    "SELECT k.project_id, k.dataset_id, k.task_id, h.time, h.status, h.progress, h.annotated "
    "FROM history_tasks k JOIN history h ON h.task = k.id WHERE h.time >= ?1 "
    "ORDER BY k.project_id, k.dataset_id, k.task_id, h.time";
constexpr const char* sql_history_task_ids = "SELECT id FROM history_tasks ORDER BY id";
// A point with a later one of the same status in its bucket goes (per task: the primary key).
constexpr const char* sql_thin_history =
    "DELETE FROM history WHERE task = ?1 AND time >= ?2 AND time < ?3 AND EXISTS ("
    "SELECT 1 FROM history h2 WHERE h2.task = history.task AND h2.time > history.time "
    "AND h2.time < (history.time / ?4 + 1) * ?4 AND h2.status IS history.status)";
constexpr const char* sql_task_events =
    "SELECT payload FROM (SELECT payload, time, rowid AS r FROM events "
    "WHERE project_id = ?1 AND dataset_id = ?2 AND task_id = ?3 "
    "ORDER BY time DESC, rowid DESC LIMIT ?4) ORDER BY time, r";
constexpr const char* sql_event_deliveries =
    "SELECT webhook, state, attempts, next_attempt_at, last_error, delivered_at "
    "FROM deliveries WHERE event_id = ?1 ORDER BY webhook";
// A pending delivery with no earlier pending delivery of the same task to the same webhook:
// the head of that task's queue.
#define TASKWATCH_HEAD_OF_TASK                                                                     \
    "NOT EXISTS (SELECT 1 FROM events e2 JOIN deliveries d2 ON d2.event_id = e2.id "               \
    "WHERE e2.project_id = e.project_id AND e2.dataset_id = e.dataset_id "                         \
    "AND e2.task_id = e.task_id AND d2.webhook = d.webhook AND d2.state = 'pending' "              \
    "AND d2.id < d.id)"
constexpr const char* sql_due =
    "SELECT e.payload, d.attempts, d.next_attempt_at, d.last_error "
    "FROM deliveries d JOIN events e ON e.id = d.event_id "
    "WHERE d.webhook = ?1 AND d.state = 'pending' AND d.next_attempt_at <= ?2 "
    "AND " TASKWATCH_HEAD_OF_TASK " ORDER BY d.id LIMIT ?3";
constexpr const char* sql_next_due =
    "SELECT min(d.next_attempt_at) FROM deliveries d JOIN events e ON e.id = d.event_id "
    "WHERE d.webhook = ?1 AND d.state = 'pending' AND " TASKWATCH_HEAD_OF_TASK;
#undef TASKWATCH_HEAD_OF_TASK
constexpr const char* sql_list =
    "SELECT d.event_id, d.webhook, d.state, e.type, e.time, e.project_id, e.dataset_id, "
    "e.task_id, d.attempts, d.next_attempt_at, d.last_error "
    "FROM deliveries d JOIN events e ON e.id = d.event_id "
    "WHERE d.state IN ('pending', 'dead') AND (?1 = 0 OR d.state = 'dead') "
    "AND (?2 IS NULL OR d.webhook = ?2) ORDER BY d.id";
constexpr const char* sql_redeliver_one =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?3, "
    "last_error = '' WHERE event_id = ?1 AND (?2 IS NULL OR webhook = ?2) AND state = 'dead'";
constexpr const char* sql_redeliver_all =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?2, "
    "last_error = '' WHERE (?1 IS NULL OR webhook = ?1) AND state = 'dead'";
constexpr const char* sql_delivered =
    "UPDATE deliveries SET state = 'delivered', delivered_at = ?3 "
    "WHERE event_id = ?1 AND webhook = ?2 AND state = 'pending'";
constexpr const char* sql_failed =
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4, "
    "state = CASE WHEN ?5 THEN 'dead' ELSE 'pending' END "
    "WHERE event_id = ?1 AND webhook = ?2 AND state = 'pending'";
constexpr const char* sql_queue_length =
    "SELECT count(*) FROM deliveries WHERE webhook = ?1 AND state = 'pending'";
constexpr const char* sql_dead_letters =
    "SELECT count(*) FROM deliveries WHERE webhook = ?1 AND state = 'dead'";
// Deliveries are enqueued in the order their events were emitted (write_buffer keeps it), so
// the first pending one in enqueue order has the oldest event: one index step, not a scan of
// the backlog (which made /metrics slower with every queued event).
constexpr const char* sql_oldest_pending =
    "SELECT e.time FROM deliveries d JOIN events e ON e.id = d.event_id "
    "WHERE d.webhook = ?1 AND d.state = 'pending' ORDER BY d.id LIMIT 1";
constexpr const char* sql_prune =
    "DELETE FROM events WHERE time < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d "
    "WHERE d.event_id = events.id AND (d.state <> 'delivered' OR d.delivered_at >= ?1))";

std::int64_t to_ms(time_point t) {
    return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
time_point from_ms(std::int64_t ms) {
    return time_point(std::chrono::milliseconds(ms));
}

std::string hex32(std::int64_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08" PRIx32, static_cast<std::uint32_t>(v));
    return buf;
}

/// A prepared statement in use: bindings and results, reset when the scope ends so the
/// cached statement can be reused (and holds no read transaction open).
class query {
public:
    query(sqlite3_stmt* s, const std::string& file)
        : s_(s)
        , file_(file) {}
    ~query() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    query(const query&) = delete;
    query& operator=(const query&) = delete;

    query& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
    query& bind(int i, bool v) { return bind(i, std::int64_t{v ? 1 : 0}); }
    query& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
    query& bind(int i, std::string_view v) {
        return check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    query& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    query& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    query& bind(int i, const detail::interned_string& v) { return bind(i, v.view()); }
    query& bind(int i, std::nullptr_t) { return check(sqlite3_bind_null(s_, i)); }
    query& bind(int i, time_point t) { return bind(i, to_ms(t)); }
    template <class T> query& bind(int i, const detail::compact_optional<T>& v) {
        return bind(i, std::optional<T>(v));
    }
    template <class T> query& bind(int i, const std::optional<T>& v) {
        return v ? bind(i, *v) : bind(i, nullptr);
    }

    /// True while there is a row.
    bool step() {
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        std::string reason = file_ + ": " + sqlite3_errmsg(sqlite3_db_handle(s_));
        throw store_error(reason + " (in " + first_words() + ")", reason);
    }
    void run() {
        while (step()) {
        }
    }

    bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::int64_t integer(int c) const { return sqlite3_column_int64(s_, c); }
    double real(int c) const { return sqlite3_column_double(s_, c); }
    bool flag(int c) const { return integer(c) != 0; }
    std::string text(int c) const {
        const auto* p = sqlite3_column_text(s_, c);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
                 : std::string();
    }
    std::optional<std::string> optional_text(int c) const {
        return is_null(c) ? std::nullopt : std::optional(text(c));
    }
    std::optional<std::int64_t> optional_integer(int c) const {
        return is_null(c) ? std::nullopt : std::optional(integer(c));
    }
    std::optional<time_point> optional_time(int c) const {
        return is_null(c) ? std::nullopt : std::optional(from_ms(integer(c)));
    }

private:
    query& check(int rc) {
        if (rc != SQLITE_OK)
            throw store_error(file_ + ": cannot bind a parameter: " + sqlite3_errstr(rc));
        return *this;
    }
    std::string first_words() const {
        std::string sql = sqlite3_sql(s_);
        return sql.substr(0, std::min<std::size_t>(sql.size(), 40));
    }
    sqlite3_stmt* s_;
    const std::string& file_;
};

} // namespace

struct store::impl {
    std::filesystem::path path;
    std::string file; ///< path as text, for messages
    sqlite3* db = nullptr;
    /// The file opened: a different or no file at `path` means it was deleted or replaced.
    dev_t device = 0;
    ino_t inode = 0;
    // Keyed by the SQL text's address: every statement is one of the constants above.
    std::unordered_map<const char*, sqlite3_stmt*> statements;

    ~impl() {
        for (auto& [sql, s] : statements)
            sqlite3_finalize(s);
        if (db) sqlite3_close_v2(db);
    }

    [[noreturn]] void fail(std::string_view what) const {
        throw store_error(file + ": " + std::string(what) + ": " + sqlite3_errmsg(db));
    }

    query prepare(const char* sql) {
        auto it = statements.find(sql);
        if (it == statements.end()) {
            sqlite3_stmt* s = nullptr;
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
                SQLITE_OK)
                fail("cannot prepare a statement");
            it = statements.emplace(sql, s).first;
        }
        return query(it->second, file);
    }

    void exec(const char* sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string m = msg ? msg : sqlite3_errmsg(db);
            sqlite3_free(msg);
            throw store_error(file + ": " + m);
        }
    }

    /// One integer from a statement run once, uncached (start-up only). nullopt: an error,
    /// whose code is left in `rc`.
    std::optional<std::int64_t> single_integer(const char* sql, int& rc) {
        sqlite3_stmt* s = nullptr;
        rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
        std::optional<std::int64_t> out;
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
            if (rc == SQLITE_ROW) {
                out = sqlite3_column_int64(s, 0);
                rc = SQLITE_OK;
            }
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_OK) rc = sqlite3_extended_errcode(db);
        return out;
    }

    void open(const std::filesystem::path& state_dir);
    /// The file at `path` is no longer the one open (deleted, its directory too, or replaced).
    bool replaced() const {
        struct stat st {};
        return ::stat(file.c_str(), &st) != 0 || st.st_dev != device || st.st_ino != inode;
    }
    void check_identity();
    void check_integrity();
    void migrate();

    /// One event into the outbox with a delivery per webhook `route` names; an id already
    /// stored is left alone, deliveries included.
    void write_event(const task::event& e, const event_router& route) {
        {
            auto q = prepare(sql_insert_event);
            q.bind(1, e.id).bind(2, task::to_string(e.type)).bind(3, e.time);
            q.bind(4, e.key.project_id).bind(5, e.key.dataset_id).bind(6, e.key.task_id);
            q.bind(7, boost::json::serialize(to_json(e)));
            q.run();
        }
        if (sqlite3_changes(db) == 0) return; // already stored: idempotent
        if (!route) return;
        for (const auto& webhook : route(e)) {
            auto q = prepare(sql_insert_delivery);
            q.bind(1, e.id).bind(2, webhook).bind(3, e.time);
            q.run();
            ++deliveries_queued;
        }
    }

    /// One history point; the task gets its number on its first point.
    void write_point(const keyed_point& kp) {
        std::int64_t id = 0;
        {
            auto q = prepare(sql_history_task);
            q.bind(1, kp.key.project_id).bind(2, kp.key.dataset_id).bind(3, kp.key.task_id);
            if (q.step()) id = q.integer(0);
        }
        if (id == 0) {
            auto q = prepare(sql_insert_history_task);
            q.bind(1, kp.key.project_id).bind(2, kp.key.dataset_id).bind(3, kp.key.task_id);
            q.run();
            id = sqlite3_last_insert_rowid(db);
        }
        const auto& p = kp.point;
        auto q = prepare(sql_insert_point);
        q.bind(1, id).bind(2, p.time);
        q.bind(3, p.status ? std::optional<std::int64_t>(modelarts::to_code(*p.status))
                           : std::nullopt);
        q.bind(4, p.progress).bind(5, p.annotated);
        q.run();
    }

    /// Deletes a task's history (its points go with its number).
    void forget_history(const task::task_key& key) {
        for (const auto* sql : {sql_forget_history, sql_forget_answer}) {
            auto q = prepare(sql);
            q.bind(1, key.project_id).bind(2, key.dataset_id).bind(3, key.task_id);
            q.run();
        }
    }

    /// Replaces the task's stored last answer.
    void write_answer(const keyed_answer& a) {
        auto q = prepare(sql_upsert_answer);
        q.bind(1, a.key.project_id).bind(2, a.key.dataset_id).bind(3, a.key.task_id);
        q.bind(4, a.time).bind(5, a.body);
        q.run();
    }

    std::size_t deliveries_queued = 0; ///< by write_event since the last commit began
    std::function<void()> on_queued;   ///< store::on_deliveries_queued

    /// Runs `body` in one write transaction; rolls back if it throws.
    template <class Body> void transaction(Body&& body) {
        prepare(sql_begin).run();
        try {
            body();
            prepare(sql_commit).run();
        } catch (...) {
            if (!sqlite3_get_autocommit(db)) prepare(sql_rollback).run();
            throw;
        }
    }
};

void store::impl::open(const std::filesystem::path& state_dir) {
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (ec)
        throw store_error(state_dir.string() +
                          ": cannot create the state directory: " + ec.message());
    path = state_dir / file_name;
    file = path.string();
    int rc =
        sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        throw store_error(file + ": cannot open: " + msg);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
        throw store_error(file +
                          ": vanished as it was opened: " + std::generic_category().message(errno));
    device = st.st_dev;
    inode = st.st_ino;
    // Identity and integrity are checked with reads only, so a foreign file is never written.
    check_identity();
    check_integrity();
    exec("PRAGMA foreign_keys = ON");
    // WAL: the notifier's reads and small updates do not block behind a batch commit.
    int wal_rc = SQLITE_OK;
    {
        sqlite3_stmt* s = nullptr;
        wal_rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, nullptr);
        std::string mode;
        if (wal_rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
            const auto* p = sqlite3_column_text(s, 0);
            mode = p ? reinterpret_cast<const char*>(p) : "";
        }
        sqlite3_finalize(s);
        if (mode != "wal") fail("cannot switch to WAL journal mode (got \"" + mode + "\")");
    }
    // FULL syncs the WAL on every commit: the contract promises no lost event, and NORMAL
    // could lose the last commits (events included) on power loss.
    exec("PRAGMA synchronous = FULL");
    // 512 KiB of page cache, not SQLite's 2 MiB: steady-state commits touch a few pages each
    // (the tree's upper levels stay cached; a leaf missed is a read from the OS's cache), and
    // store_bench's commits and outbox drain take as long with it.
    exec("PRAGMA cache_size = -512");
    migrate();
}

void store::impl::check_identity() {
    int rc = SQLITE_OK;
    auto app = single_integer("PRAGMA application_id", rc);
    if ((rc & 0xff) == SQLITE_NOTADB)
        throw store_error(file + " is not a SQLite database (not a taskwatch state database)");
    if ((rc & 0xff) == SQLITE_CORRUPT)
        throw store_error(file + " is corrupt: " + sqlite3_errmsg(db));
    if (!app) fail("cannot read the database header");
    auto version = single_integer("PRAGMA user_version", rc);
    if (!version) fail("cannot read the schema version");
    auto objects = single_integer("SELECT count(*) FROM sqlite_master", rc);
    if (!objects) {
        if ((rc & 0xff) == SQLITE_CORRUPT)
            throw store_error(file + " is corrupt: " + sqlite3_errmsg(db));
        fail("cannot read the schema");
    }
    bool empty = *app == 0 && *version == 0 && *objects == 0;
    if (*app != application_id && !empty)
        throw store_error(file + " is not a taskwatch state database (application_id " +
                          hex32(*app) + ", expected " + hex32(application_id) +
                          "); it was left untouched");
    if (*version > schema_version)
        throw store_error(file + " has schema version " + std::to_string(*version) +
                          ", newer than this taskwatch understands (" +
                          std::to_string(schema_version) +
                          "); it was left untouched: run a newer taskwatch");
}

void store::impl::check_integrity() {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, nullptr);
    std::string verdict;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const auto* p = sqlite3_column_text(s, 0);
            verdict = p ? reinterpret_cast<const char*>(p) : "";
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) throw store_error(file + " is corrupt: " + sqlite3_errmsg(db));
    if (verdict != "ok")
        throw store_error(file + " is corrupt (PRAGMA quick_check: " + verdict +
                          "); it was left untouched");
}

void store::impl::migrate() {
    exec("BEGIN IMMEDIATE");
    try {
        int rc = SQLITE_OK;
        // Read again under the write lock: another process may have migrated meanwhile.
        auto version = single_integer("PRAGMA user_version", rc);
        if (!version) fail("cannot read the schema version");
        for (auto v = *version; v < schema_version; ++v)
            exec(migrations[static_cast<std::size_t>(v)]);
        if (*version < schema_version) {
            exec(("PRAGMA application_id = " + std::to_string(application_id)).c_str());
            exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
        }
        exec("COMMIT");
    } catch (...) {
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

store::store(const std::filesystem::path& state_dir)
    : impl_(std::make_unique<impl>()) {
    impl_->open(state_dir);
}
store::~store() = default;
store::store(store&&) noexcept = default;
store& store::operator=(store&&) noexcept = default;

const std::filesystem::path& store::path() const noexcept {
    return impl_->path;
}

std::vector<task::task_state> store::load_tasks() {
    std::vector<task::task_state> out;
    auto q = impl_->prepare(sql_load_tasks.c_str());
    while (q.step()) {
        task::task_state t;
        t.key = {q.text(0), q.text(1), q.text(2)};
        // Observed: status or task_name set (an observation always writes task_name, "" when
        // the API sent none; the previous version always wrote a status).
        if (!q.is_null(3) || !q.is_null(5)) {
            task::observation o;
            // The last status and progress the API sent (the diff's reference). A field the
            // last poll left out reads back as that value until the next poll.
            if (!q.is_null(3)) o.status = static_cast<modelarts::task_status>(q.integer(3));
            if (!q.is_null(4)) o.progress = q.real(4);
            o.task_name = q.text(5);
            o.resource_id = q.text(6);
            o.algorithm_type = q.text(7);
            o.code = q.text(8);
            o.message = q.text(9);
            o.error_code = q.text(10);
            o.error_msg = q.text(11);
            o.total_sample_count = q.optional_integer(12);
            o.annotated_sample_count = q.optional_integer(13);
            o.unconfirmed_sample_count = q.optional_integer(14);
            o.create_time = q.optional_time(15);
            t.last = std::move(o);
        }
        t.last_poll = q.optional_time(16);
        t.last_change = q.optional_time(17);
        t.progress_since = q.optional_time(18);
        t.finished_at = q.optional_time(19);
        t.stalled = q.flag(20);
        t.up = q.flag(21);
        t.failing_since = q.optional_time(22);
        t.failing_reported = q.flag(23);
        if (!q.is_null(24))
            t.last_error = task::poll_error{q.text(24), q.text(25), q.text(26), q.text(27)};
        t.gone = q.flag(28);
        t.event_seq = static_cast<std::uint64_t>(q.integer(29));
        t.forgotten = q.flag(30);
        t.cycle = static_cast<std::uint32_t>(q.integer(31));
        out.push_back(std::move(t));
    }
    return out;
}

namespace {

void write_state(query q, const task::task_state& t) {
    static_assert(task_column_count == 32);
    q.bind(1, t.key.project_id).bind(2, t.key.dataset_id).bind(3, t.key.task_id);
    if (t.last) {
        const auto& o = *t.last;
        const auto status = o.known_status();
        q.bind(4, status ? std::optional<std::int64_t>(modelarts::to_code(*status)) : std::nullopt);
        q.bind(5, o.known_progress()).bind(6, o.task_name);
        q.bind(7, o.resource_id).bind(8, o.algorithm_type).bind(9, o.code);
        q.bind(10, o.message).bind(11, o.error_code).bind(12, o.error_msg);
        q.bind(13, o.total_sample_count).bind(14, o.annotated_sample_count);
        q.bind(15, o.unconfirmed_sample_count).bind(16, o.create_time);
    } // else: the observation columns stay NULL (cleared bindings)
    q.bind(17, t.last_poll).bind(18, t.last_change).bind(19, t.progress_since);
    q.bind(20, t.finished_at).bind(21, t.stalled).bind(22, t.up);
    q.bind(23, t.failing_since).bind(24, t.failing_reported);
    if (t.last_error) {
        q.bind(25, t.last_error->reason).bind(26, t.last_error->error_code);
        q.bind(27, t.last_error->error_msg).bind(28, t.last_error->request_id);
    }
    q.bind(29, t.gone).bind(30, static_cast<std::int64_t>(t.event_seq));
    q.bind(31, t.forgotten).bind(32, static_cast<std::int64_t>(t.cycle));
    q.run();
}

} // namespace

void store::commit(const std::vector<change>& changes, const event_router& route) {
    if (impl_->replaced()) reopen_if_replaced();
    impl_->deliveries_queued = 0;
    impl_->transaction([&] {
        for (const auto& c : changes) {
            write_state(impl_->prepare(sql_upsert_task.c_str()), c.next);
            if (c.next.forgotten) impl_->forget_history(c.next.key);
            for (const auto& e : c.events)
                impl_->write_event(e, route);
            if (c.point && !c.next.forgotten) impl_->write_point({c.next.key, *c.point});
        }
    });
    if (impl_->deliveries_queued > 0 && impl_->on_queued) impl_->on_queued();
}

void store::commit(const std::vector<task::task_state>& states,
                   const std::vector<task::event>& events, const event_router& route,
                   std::span<const keyed_point> points, std::span<const keyed_answer> answers) {
    if (impl_->replaced()) reopen_if_replaced();
    impl_->deliveries_queued = 0;
    impl_->transaction([&] {
        for (const auto& e : events)
            impl_->write_event(e, route);
        for (const auto& p : points)
            impl_->write_point(p);
        for (const auto& a : answers)
            impl_->write_answer(a);
        // After the points and answers: a task forgotten in this batch keeps none.
        for (const auto& t : states) {
            write_state(impl_->prepare(sql_upsert_task.c_str()), t);
            if (t.forgotten) impl_->forget_history(t.key);
        }
    });
    if (impl_->deliveries_queued > 0 && impl_->on_queued) impl_->on_queued();
}

void store::on_deliveries_queued(std::function<void()> f) {
    impl_->on_queued = std::move(f);
}

bool store::reopen_if_replaced() {
    if (!impl_->replaced()) return false;
    const auto dir = impl_->path.parent_path();
    auto fresh = std::make_unique<impl>();
    try {
        fresh->open(dir);
    } catch (const store_error& e) {
        throw store_error(impl_->file + ": the database file vanished or was replaced, and " +
                              "cannot be opened again: " + e.what(),
                          impl_->file + ": the file vanished and cannot be created again (" +
                              e.reason() + ")");
    }
    fresh->on_queued = std::move(impl_->on_queued);
    impl_ = std::move(fresh);
    return true;
}

bool store::forget(const task::task_key& key) {
    bool existed = false;
    impl_->transaction([&] {
        {
            auto q = impl_->prepare(sql_forget);
            q.bind(1, key.project_id).bind(2, key.dataset_id).bind(3, key.task_id);
            q.run();
            existed = sqlite3_changes(impl_->db) > 0;
        }
        impl_->forget_history(key);
    });
    return existed;
}

std::vector<task::task_key> store::forget_finished_before(time_point before) {
    std::vector<task::task_key> out;
    impl_->transaction([&] {
        {
            auto q = impl_->prepare(sql_forget_finished);
            q.bind(1, before);
            while (q.step())
                out.push_back({q.text(0), q.text(1), q.text(2)});
        }
        for (const auto& key : out)
            impl_->forget_history(key);
    });
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<history_point> store::history(const task::task_key& key) {
    return history(key, time_point::min());
}

std::vector<history_point> store::history(const task::task_key& key, time_point since) {
    std::vector<history_point> out;
    const bool all = since == time_point::min();
    auto q = impl_->prepare(all ? sql_history : sql_history_from);
    q.bind(1, key.project_id).bind(2, key.dataset_id).bind(3, key.task_id);
    if (!all) q.bind(4, since);
    while (q.step()) {
        history_point p;
        p.time = from_ms(q.integer(0));
        if (!q.is_null(1)) p.status = static_cast<modelarts::task_status>(q.integer(1));
        if (!q.is_null(2)) p.progress = q.real(2);
        p.annotated = q.optional_integer(3);
        out.push_back(p);
    }
    return out;
}

std::optional<keyed_answer> store::last_answer(const task::task_key& key) {
    auto q = impl_->prepare(sql_answer);
    q.bind(1, key.project_id).bind(2, key.dataset_id).bind(3, key.task_id);
    if (!q.step()) return std::nullopt;
    return keyed_answer{key, from_ms(q.integer(0)), q.text(1)};
}

std::vector<keyed_point> store::history_since(time_point since) {
    std::vector<keyed_point> out;
    auto q = impl_->prepare(sql_history_since);
    q.bind(1, since);
    while (q.step()) {
        keyed_point kp;
        kp.key = {q.text(0), q.text(1), q.text(2)};
        kp.point.time = from_ms(q.integer(3));
        if (!q.is_null(4)) kp.point.status = static_cast<modelarts::task_status>(q.integer(4));
        if (!q.is_null(5)) kp.point.progress = q.real(5);
        kp.point.annotated = q.optional_integer(6);
        out.push_back(std::move(kp));
    }
    return out;
}

std::size_t store::thin_history(time_point from, time_point to, std::chrono::milliseconds bucket) {
    if (bucket.count() <= 0 || to <= from) return 0;
    std::size_t removed = 0;
    impl_->transaction([&] {
        std::vector<std::int64_t> ids;
        {
            auto q = impl_->prepare(sql_history_task_ids);
            while (q.step())
                ids.push_back(q.integer(0));
        }
        for (auto id : ids) {
            auto q = impl_->prepare(sql_thin_history);
            q.bind(1, id).bind(2, from).bind(3, to).bind(4, std::int64_t{bucket.count()});
            q.run();
            removed += static_cast<std::size_t>(sqlite3_changes(impl_->db));
        }
    });
    return removed;
}

std::vector<event_record> store::task_events(const task::task_key& key, std::size_t limit) {
    std::vector<event_record> out;
    constexpr auto max_limit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    {
        auto q = impl_->prepare(sql_task_events);
        q.bind(1, key.project_id).bind(2, key.dataset_id).bind(3, key.task_id);
        q.bind(4, static_cast<std::int64_t>(std::min(limit, max_limit)));
        while (q.step()) {
            boost::system::error_code ec;
            auto value = boost::json::parse(q.text(0), ec);
            if (ec)
                throw store_error(impl_->file + ": an outbox event is not JSON: " + ec.message());
            auto e = event_from_json(value);
            if (!e)
                throw store_error(impl_->file + ": an outbox event cannot be read: " + e.error());
            out.push_back({std::move(*e), {}});
        }
    }
    for (auto& r : out) {
        auto q = impl_->prepare(sql_event_deliveries);
        q.bind(1, r.event.id);
        while (q.step()) {
            delivery_state d;
            d.webhook = q.text(0);
            d.state = q.text(1);
            d.attempts = static_cast<std::uint32_t>(q.integer(2));
            d.next_attempt_at = from_ms(q.integer(3));
            d.last_error = q.text(4);
            d.delivered_at = q.optional_time(5);
            r.deliveries.push_back(std::move(d));
        }
    }
    return out;
}

std::vector<pending_delivery> store::due(const std::string& webhook, time_point now,
                                         std::size_t limit) {
    std::vector<pending_delivery> out;
    auto q = impl_->prepare(sql_due);
    q.bind(1, webhook).bind(2, now);
    constexpr auto max_limit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    q.bind(3, static_cast<std::int64_t>(std::min(limit, max_limit)));
    while (q.step()) {
        auto payload = q.text(0);
        boost::system::error_code ec;
        auto value = boost::json::parse(payload, ec);
        if (ec) throw store_error(impl_->file + ": an outbox event is not JSON: " + ec.message());
        auto e = event_from_json(value);
        if (!e) throw store_error(impl_->file + ": an outbox event cannot be read: " + e.error());
        pending_delivery d;
        d.event = std::move(*e);
        d.webhook = webhook;
        d.attempts = static_cast<std::uint32_t>(q.integer(1));
        d.next_attempt_at = from_ms(q.integer(2));
        d.last_error = q.text(3);
        out.push_back(std::move(d));
    }
    return out;
}

void store::mark_delivered(std::string_view event_id, std::string_view webhook, time_point now) {
    const delivery_mark m{
        std::string(event_id), std::string(webhook), delivery_mark::delivered, now, now, {}};
    mark({&m, 1});
}

void store::mark_failed(std::string_view event_id, std::string_view webhook, time_point now,
                        time_point next_attempt_at, std::string_view error, bool dead) {
    const delivery_mark m{std::string(event_id),
                          std::string(webhook),
                          dead ? delivery_mark::dead : delivery_mark::failed,
                          now,
                          next_attempt_at,
                          std::string(error)};
    mark({&m, 1});
}

void store::mark(std::span<const delivery_mark> marks) {
    if (marks.empty()) return;
    impl_->transaction([&] {
        for (const auto& m : marks) {
            if (m.outcome == delivery_mark::delivered) {
                auto q = impl_->prepare(sql_delivered);
                q.bind(1, m.event_id).bind(2, m.webhook).bind(3, m.at);
                q.run();
            } else {
                auto q = impl_->prepare(sql_failed);
                q.bind(1, m.event_id).bind(2, m.webhook).bind(3, m.next_attempt_at);
                q.bind(4, m.error).bind(5, m.outcome == delivery_mark::dead);
                q.run();
            }
        }
    });
}

std::optional<time_point> store::next_due(const std::string& webhook) {
    auto q = impl_->prepare(sql_next_due);
    q.bind(1, webhook);
    return q.step() ? q.optional_time(0) : std::nullopt;
}

std::vector<delivery_row> store::list_deliveries(bool dead_only,
                                                 const std::optional<std::string>& webhook) {
    std::vector<delivery_row> out;
    auto q = impl_->prepare(sql_list);
    q.bind(1, dead_only).bind(2, webhook);
    while (q.step()) {
        delivery_row r;
        r.event_id = q.text(0);
        r.webhook = q.text(1);
        r.dead = q.text(2) == "dead";
        r.type = q.text(3);
        r.event_time = from_ms(q.integer(4));
        r.key = {q.text(5), q.text(6), q.text(7)};
        r.attempts = static_cast<std::uint32_t>(q.integer(8));
        r.next_attempt_at = from_ms(q.integer(9));
        r.last_error = q.text(10);
        out.push_back(std::move(r));
    }
    return out;
}

std::size_t store::redeliver(std::span<const std::string> event_ids,
                             const std::optional<std::string>& webhook, time_point now) {
    std::size_t n = 0;
    impl_->transaction([&] {
        for (const auto& id : event_ids) {
            auto q = impl_->prepare(sql_redeliver_one);
            q.bind(1, id).bind(2, webhook).bind(3, now);
            q.run();
            n += static_cast<std::size_t>(sqlite3_changes(impl_->db));
        }
    });
    return n;
}

std::size_t store::redeliver_all_dead(const std::optional<std::string>& webhook, time_point now) {
    std::size_t n = 0;
    impl_->transaction([&] {
        auto q = impl_->prepare(sql_redeliver_all);
        q.bind(1, webhook).bind(2, now);
        q.run();
        n = static_cast<std::size_t>(sqlite3_changes(impl_->db));
    });
    return n;
}

std::size_t store::queue_length(const std::string& webhook) {
    auto q = impl_->prepare(sql_queue_length);
    q.bind(1, webhook);
    return q.step() ? static_cast<std::size_t>(q.integer(0)) : 0;
}

std::optional<time_point> store::oldest_pending(const std::string& webhook) {
    auto q = impl_->prepare(sql_oldest_pending);
    q.bind(1, webhook);
    return q.step() ? q.optional_time(0) : std::nullopt;
}

std::size_t store::dead_letters(const std::string& webhook) {
    auto q = impl_->prepare(sql_dead_letters);
    q.bind(1, webhook);
    return q.step() ? static_cast<std::size_t>(q.integer(0)) : 0;
}

std::size_t store::prune_delivered(time_point before) {
    auto q = impl_->prepare(sql_prune);
    q.bind(1, before);
    q.run();
    return static_cast<std::size_t>(sqlite3_changes(impl_->db));
}

} // namespace taskwatch::state
