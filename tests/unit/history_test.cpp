// A task's history: the downsampling rule (state/history.hpp), the points in the store
// (written with the batch, read back, thinned, pruned with the task), the schema migration
// from version 3, the events of one task with their deliveries, and the bytes a day costs.
#include "taskwatch/state/history.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/state/write_buffer.hpp"

#include "support/files.hpp"
#include "support/outbox.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

using namespace taskwatch;
using namespace std::chrono_literals;
using modelarts::task_status;
using state::history_point;
using state::time_point;

namespace {

const time_point t0 = time_point(std::chrono::milliseconds(1'790'000'000'000)); // late 2026

history_point pt(time_point t, task_status s, double progress, std::int64_t annotated = 0) {
    return {t, s, progress, annotated};
}

task::task_state state_of(std::string task_id) {
    task::task_state s;
    s.key = {"proj", "ds", std::move(task_id)};
    return s;
}

/// Runs SQL on a database file without taskwatch, to make foreign, older or future files.
void raw_sql(const std::string& file, const char* sql) {
    REQUIRE(test::exec_sql(file, sql) == "");
}

} // namespace

TEST_CASE("history: a point on a status change or a big step, at most one a minute while "
          "progress moves, a heartbeat while still") {
    const auto last = pt(t0, task_status::running, 0.10, 10);
    CHECK(state::history_due(std::nullopt, last)); // the first since start
    CHECK(state::history_due(last, pt(t0 + 5s, task_status::failed, 0.10, 10)));
    CHECK_FALSE(state::history_due(last, pt(t0 + 59s, task_status::running, 0.11, 11)));
    CHECK(state::history_due(last, pt(t0 + 60s, task_status::running, 0.11, 11)));
    CHECK(state::history_due(last, pt(t0 + 60s, task_status::running, 0.10, 12))); // samples
    // A step of 5 % or more is kept at once (at most 20 a run); 4.9 % waits.
    CHECK(state::history_due(last, pt(t0 + 1s, task_status::running, 0.16, 11)));
    CHECK(state::history_due(last, pt(t0 + 1s, task_status::running, 0.04, 11))); // back
    CHECK_FALSE(state::history_due(last, pt(t0 + 1s, task_status::running, 0.149, 11)));
    CHECK_FALSE(state::history_due(last, pt(t0 + 29min, task_status::running, 0.10, 10)));
    CHECK(state::history_due(last, pt(t0 + 30min, task_status::running, 0.10, 10)));
    // Finished and unchanged: nothing, however long.
    const auto done = pt(t0, task_status::succeeded, 1.0, 49);
    CHECK_FALSE(state::history_due(done, pt(t0 + 48h, task_status::succeeded, 1.0, 49)));
}

TEST_CASE("history: the last point a task keeps in memory is 32 bytes and keeps emptiness") {
    using kept = detail::compact_optional<history_point>;
    static_assert(sizeof(kept) == sizeof(history_point));
    kept none;
    CHECK_FALSE(none.has_value());
    CHECK(state::history_due(none, pt(t0, task_status::running, 0.1))); // as a first point
    const kept last = pt(t0, task_status::running, 0.10, 10);
    REQUIRE(last.has_value());
    CHECK(*last == pt(t0, task_status::running, 0.10, 10));
    CHECK_FALSE(state::history_due(last, pt(t0 + 59s, task_status::running, 0.11, 11)));
    // A point with nothing but a time is still a point.
    CHECK(kept(history_point{t0, {}, {}, {}}).has_value());
}

TEST_CASE("history: points go with the batch, read back oldest first, and go with the task") {
    test::temp_dir dir;
    state::store s(dir.path());
    state::write_buffer buf;
    auto a = state_of("a");
    auto b = state_of("b");
    buf.add({a, {}, pt(t0, task_status::running, 0.1, 5)});
    buf.add({b, {}, pt(t0 + 1s, task_status::queuing, 0.0)});
    buf.add({a, {}, pt(t0 + 60s, task_status::running, 0.2, 10)});
    buf.add({a, {}, std::nullopt}); // a poll that made no point
    CHECK(buf.points() == 3);
    buf.commit_to(s, {});
    CHECK(buf.empty());

    CHECK(s.history(a.key) == std::vector{pt(t0, task_status::running, 0.1, 5),
                                          pt(t0 + 60s, task_status::running, 0.2, 10)});
    CHECK(s.history(b.key) == std::vector{pt(t0 + 1s, task_status::queuing, 0.0)});
    CHECK(s.history(state_of("unknown").key).empty());

    SUBCASE("one task's points from a time on") {
        CHECK(s.history(a.key, t0 + 1s) ==
              std::vector{pt(t0 + 60s, task_status::running, 0.2, 10)});
        CHECK(s.history(a.key, t0 + 60s).size() == 1);
        CHECK(s.history(a.key, t0) == s.history(a.key));
        CHECK(s.history(a.key, t0 + 61s).empty());
    }

    SUBCASE("every task's recent points in one read, by task then time") {
        const auto recent = s.history_since(t0 + 1s);
        REQUIRE(recent.size() == 2);
        CHECK(recent[0].key == a.key);
        CHECK(recent[0].point == pt(t0 + 60s, task_status::running, 0.2, 10));
        CHECK(recent[1].key == b.key);
        CHECK(recent[1].point == pt(t0 + 1s, task_status::queuing, 0.0));
        CHECK(s.history_since(t0 + 61s).empty());
    }
    SUBCASE("unknown fields read back as unknown") {
        s.commit({{state_of("c"), {}, history_point{t0, std::nullopt, std::nullopt, std::nullopt}}},
                 {});
        CHECK(s.history(state_of("c").key) ==
              std::vector{history_point{t0, std::nullopt, std::nullopt, std::nullopt}});
    }
    SUBCASE("forget") {
        CHECK(s.forget(a.key));
        CHECK(s.history(a.key).empty());
        CHECK(s.history(b.key).size() == 1);
    }
    SUBCASE("a forgotten tombstone written by the engine") {
        auto tomb = a;
        tomb.forgotten = true;
        buf.add({tomb, {}});
        buf.commit_to(s, {});
        CHECK(s.history(a.key).empty());
        CHECK(s.history(b.key).size() == 1);
    }
    SUBCASE("forget_finished_before") {
        auto done = b;
        done.finished_at = t0 - 48h;
        s.commit({{done, {}}}, {});
        CHECK(s.forget_finished_before(t0 - 24h) == std::vector{b.key});
        CHECK(s.history(b.key).empty());
        CHECK(s.history(a.key).size() == 2);
    }
    SUBCASE("a task that comes back after being forgotten starts a new history") {
        CHECK(s.forget(a.key));
        s.commit({{a, {}, pt(t0 + 2h, task_status::running, 0.5)}}, {});
        CHECK(s.history(a.key) == std::vector{pt(t0 + 2h, task_status::running, 0.5)});
    }
}

TEST_CASE("history: thinning keeps the last point of each status per bucket, in the range only") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto a = state_of("a");
    const auto day = std::chrono::floor<std::chrono::days>(t0); // buckets align to the epoch
    std::vector<state::change> batch;
    // Two hours, a point a minute: running for 100 minutes, then failed.
    for (int m = 0; m < 120; ++m)
        batch.push_back({a,
                         {},
                         pt(day + std::chrono::minutes(m),
                            m < 100 ? task_status::running : task_status::failed, m / 200.0)});
    s.commit(batch, {});
    // Thin the first hour and a half with 15-minute buckets.
    const auto removed = s.thin_history(day, day + 90min, 15min);
    // Buckets 0-15, ..., 75-90: six, each keeps its last point (minute 14, 29, ..., 89).
    CHECK(removed == 6 * 14);
    auto h = s.history(a.key);
    REQUIRE(h.size() == 120 - 84);
    for (int i = 0; i < 6; ++i)
        CHECK(h[static_cast<std::size_t>(i)].time == day + std::chrono::minutes(15 * i + 14));
    CHECK(h[6].time == day + 90min); // untouched from there on

    SUBCASE("a status change inside a bucket keeps the last point of each status") {
        CHECK(s.thin_history(day + 90min, day + 120min, 15min) == 13 + 14);
        h = s.history(a.key);
        REQUIRE(h.size() == 6 + 3);
        CHECK(h[6] == pt(day + 99min, task_status::running, 99 / 200.0));
        CHECK(h[7] == pt(day + 104min, task_status::failed, 104 / 200.0));
        CHECK(h[8] == pt(day + 119min, task_status::failed, 119 / 200.0));
    }
}

TEST_CASE("answers: the newest raw answer per task goes with the batch and with the task") {
    test::temp_dir dir;
    state::store s(dir.path());
    state::write_buffer buf;
    auto a = state_of("a");
    auto b = state_of("b");
    a.last_poll = t0;
    buf.add({a, {}, std::nullopt, R"({"task_id":"a","progress":10})"});
    b.last_poll = t0;
    buf.add({b, {}, std::nullopt, ""}); // a change without an answer (a failed poll)
    a.last_poll = t0 + 15s;
    buf.add({a, {}, std::nullopt, R"({"task_id":"a","progress":20})"});
    auto unpolled = state_of("c"); // no last_poll: its answer has no time, it is not kept
    buf.add({unpolled, {}, std::nullopt, "{}"});
    buf.commit_to(s, {});
    const auto got = s.last_answer(a.key);
    REQUIRE(got);
    CHECK(got->time == t0 + 15s);
    CHECK(got->body == R"({"task_id":"a","progress":20})");
    CHECK_FALSE(s.last_answer(b.key));
    CHECK_FALSE(s.last_answer(unpolled.key));

    SUBCASE("a later change without an answer keeps the stored one") {
        a.last_poll = t0 + 30s;
        buf.add({a, {}, std::nullopt, ""});
        buf.commit_to(s, {});
        REQUIRE(s.last_answer(a.key));
        CHECK(s.last_answer(a.key)->time == t0 + 15s);
    }
    SUBCASE("forget") {
        CHECK(s.forget(a.key));
        CHECK_FALSE(s.last_answer(a.key));
    }
    SUBCASE("a forgotten tombstone written by the engine") {
        auto tomb = a;
        tomb.forgotten = true;
        buf.add({tomb, {}});
        buf.commit_to(s, {});
        CHECK_FALSE(s.last_answer(a.key));
    }
}

TEST_CASE("answers: a version 4 database is migrated and keeps its states") {
    test::temp_dir dir;
    auto st = state_of("a");
    st.last_poll = t0;
    {
        state::store s(dir.path());
        s.commit({{st, {}}}, {});
    }
    raw_sql(dir.file("taskwatch.db"), "DROP TABLE answers; PRAGMA user_version = 4;");
    state::store s(dir.path());
    REQUIRE(s.load_tasks().size() == 1);
    state::write_buffer buf;
    buf.add({st, {}, std::nullopt, "{}"});
    buf.commit_to(s, {});
    REQUIRE(s.last_answer(st.key));
    CHECK(s.last_answer(st.key)->body == "{}");
}

TEST_CASE("history: a version 3 database is migrated, its states kept, history written") {
    test::temp_dir dir;
    auto st = state_of("a");
    st.event_seq = 7;
    {
        state::store s(dir.path());
        s.commit({{st, {}}}, {});
    }
    // Version 4 is version 3 plus the history tables (5 adds answers): without them, a version 3
    // file.
    raw_sql(dir.file("taskwatch.db"), "DROP TABLE answers; DROP TABLE history; "
                                      "DROP TABLE history_tasks; PRAGMA user_version = 3;");
    state::store s(dir.path());
    auto tasks = s.load_tasks();
    REQUIRE(tasks.size() == 1);
    CHECK(tasks[0].event_seq == 7);
    s.commit({{st, {}, pt(t0, task_status::running, 0.3)}}, {});
    CHECK(s.history(st.key) == std::vector{pt(t0, task_status::running, 0.3)});
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("taskwatch.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == state::store::schema_version);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

TEST_CASE("history: a task's events come with each webhook's delivery state") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto a = state_of("a");
    auto other = state_of("other");
    const auto type_of = [](std::uint64_t seq) {
        return seq == 0 ? task::event_type::discovered : task::event_type::status_changed;
    };
    const auto id_of = [&](const task::task_key& key, std::uint64_t seq) {
        return task::event_id(key, type_of(seq), std::to_string(seq));
    };
    auto ev = [&](const task::task_key& key, std::uint64_t seq, time_point t) {
        task::event e;
        e.id = id_of(key, seq);
        e.type = type_of(seq);
        e.time = t;
        e.key = key;
        e.task_name = "n";
        return e;
    };
    const auto route = [](const task::event&) { return std::vector<std::string>{"chat", "ops"}; };
    s.commit({{a, {ev(a.key, 0, t0), ev(a.key, 1, t0 + 1s)}}, {other, {ev(other.key, 0, t0)}}},
             route);
    s.mark_delivered(id_of(a.key, 0), "chat", t0 + 2s);
    s.mark_failed(id_of(a.key, 0), "ops", t0 + 2s, t0 + 10s, "HTTP 503", false);
    s.mark_failed(id_of(a.key, 1), "ops", t0 + 3s, t0 + 3s, "HTTP 410", true);

    auto events = s.task_events(a.key, 10);
    REQUIRE(events.size() == 2);
    CHECK(events[0].event == ev(a.key, 0, t0));
    REQUIRE(events[0].deliveries.size() == 2);
    const auto& chat = events[0].deliveries[0];
    CHECK(chat.webhook == "chat");
    CHECK(chat.state == "delivered");
    CHECK(chat.delivered_at == t0 + 2s);
    const auto& ops = events[0].deliveries[1];
    CHECK(ops.webhook == "ops");
    CHECK(ops.state == "pending");
    CHECK(ops.attempts == 1);
    CHECK(ops.next_attempt_at == t0 + 10s);
    CHECK(ops.last_error == "HTTP 503");
    CHECK_FALSE(ops.delivered_at);
    CHECK(events[1].deliveries[0].state == "pending");
    CHECK(events[1].deliveries[1].state == "dead");
    // The newest only, still oldest first.
    auto newest = s.task_events(a.key, 1);
    REQUIRE(newest.size() == 1);
    CHECK(newest[0].event.id == id_of(a.key, 1));
    CHECK(s.task_events(state_of("unknown").key, 10).empty());
}

// The measured bound (README "History"): a task whose progress moves at every 30 s poll for a
// day, the worst case of the rule (a point a minute), stored for 100 tasks; the file's growth
// divided by 100. Prints the figure: unit_tests -tc='*bytes per task*' -s
TEST_CASE("history: bytes per task per day at the worst case of the rule") {
    test::temp_dir dir;
    constexpr int tasks = 100;
    std::uintmax_t before = 0;
    {
        state::store s(dir.path());
        std::vector<state::change> states;
        for (int i = 0; i < tasks; ++i)
            states.push_back({state_of("task-" + std::to_string(i)), {}});
        s.commit(states, {});
        raw_sql(dir.file("taskwatch.db"), "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;");
        before = std::filesystem::file_size(dir.file("taskwatch.db"));

        std::vector<std::optional<history_point>> last(tasks);
        std::size_t points = 0;
        state::write_buffer buf;
        for (int poll = 0; poll < 2 * 60 * 24; ++poll) { // every 30 s for a day
            const auto t = t0 + std::chrono::seconds(30 * poll);
            for (int i = 0; i < tasks; ++i) {
                // Moves at every poll: 1,000 samples, 1e-4 progress each time.
                auto p = pt(t, task_status::running, poll / 3000.0, 1000 + poll * 7 + i);
                if (!state::history_due(last[static_cast<std::size_t>(i)], p)) continue;
                last[static_cast<std::size_t>(i)] = p;
                buf.add({state_of("task-" + std::to_string(i)), {}, p});
                ++points;
            }
            if (poll % 120 == 119) buf.commit_to(s, {}); // an hour's points a commit
        }
        CHECK(points == std::size_t{tasks} * 1440); // one a minute
    }
    raw_sql(dir.file("taskwatch.db"), "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;");
    const auto after = std::filesystem::file_size(dir.file("taskwatch.db"));
    const double per_task_day = static_cast<double>(after - before) / tasks;
    MESSAGE("history: " << per_task_day << " bytes per task per day (1440 points, "
                        << per_task_day / 1440 << " bytes per point)");
    CHECK(per_task_day < 64 * 1024.0);
    CHECK(per_task_day > 1440 * 8.0); // something was stored: at least the times
}
