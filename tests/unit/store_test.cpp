// taskwatch::state: task states and the webhook outbox in SQLite.
#include "taskwatch/state/event_json.hpp"
#include "taskwatch/state/store.hpp"
#include "taskwatch/state/write_buffer.hpp"

#include "support/files.hpp"
#include "support/outbox.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace taskwatch;
using namespace std::chrono_literals;
using state::time_point;

namespace {

const time_point t0 = time_point(std::chrono::milliseconds(1'790'000'000'000)); // late 2026

task::task_key key_of(std::string task_id) {
    return {"proj", "ds", std::move(task_id)};
}

task::task_state full_state() {
    task::task_state s;
    s.key = {"0123456789abcdef", "dataset-1", "task-1"};
    task::observation o;
    o.status = modelarts::task_status::running;
    o.progress = 0.42;
    o.task_name = "auto-label-cats";
    o.resource_id = "res-9";
    o.algorithm_type = "fast";
    o.code = "ModelArts.4701";
    o.message = "running";
    o.error_code = "E1";
    o.error_msg = "something, with \"quotes\" and ünïcode";
    o.total_sample_count = 49;
    o.annotated_sample_count = 30;
    o.unconfirmed_sample_count = 0;
    o.create_time = t0 - 3600s;
    s.last = o;
    s.last_poll = t0;
    s.last_change = t0 - 60s;
    s.progress_since = t0 - 120s;
    s.finished_at = t0 - 1ms;
    s.stalled = true;
    s.up = true;
    s.failing_since = t0 - 30s;
    s.failing_reported = true;
    s.last_error = task::poll_error{"throttled", "APIGW.0308", "too many requests", "req-1"};
    s.gone = true;
    s.forgotten = true;
    s.event_seq = 1234567;
    s.cycle = 7;
    return s;
}

task::snapshot snap(modelarts::task_status status, double progress) {
    task::snapshot s;
    s.status = status;
    s.progress = progress;
    return s;
}

// A distinct event id per (task, seq), as the diff's would be.
std::string id_of(const task::task_key& key, std::uint64_t seq) {
    return task::event_id(key, task::event_type::progress, std::to_string(seq));
}

task::event make_event(const task::task_key& key, std::uint64_t seq, time_point when,
                       task::event_type type = task::event_type::progress) {
    task::event e;
    e.id = id_of(key, seq);
    e.type = type;
    e.time = when;
    e.key = key;
    e.task_name = "name-" + key.task_id;
    e.previous = snap(modelarts::task_status::running, 0.25);
    e.current = snap(modelarts::task_status::running, 0.5);
    return e;
}

/// A change that advances `key` by one event at `when`.
state::change step(task::task_state& s, time_point when) {
    state::change c;
    c.events.push_back(make_event(s.key, s.event_seq, when));
    s.event_seq += 1;
    s.last_poll = when;
    c.next = s;
    return c;
}

state::event_router to(std::vector<std::string> webhooks) {
    return [webhooks = std::move(webhooks)](const task::event&) { return webhooks; };
}

std::vector<std::string> ids_of(const std::vector<state::pending_delivery>& ds) {
    std::vector<std::string> out;
    for (const auto& d : ds)
        out.push_back(d.event.id);
    return out;
}

// Every pending delivery to `webhook`, in enqueue order (due() hands out only each task's
// first).
std::vector<std::string> pending_ids(state::store& s, const std::string& webhook) {
    std::vector<std::string> out;
    for (const auto& r : s.list_deliveries(false, webhook))
        if (!r.dead) out.push_back(r.event_id);
    return out;
}

/// Runs SQL on a database file without taskwatch, to make foreign, older or future files.
void raw_sql(const std::string& file, const char* sql) {
    REQUIRE(test::exec_sql(file, sql) == "");
}

const time_point far_future = t0 + 24h * 365 * 100;

/// full_state() as task `task_id` of key_of() before its first event.
task::task_state full_state_of(std::string task_id) {
    auto s = full_state();
    s.key = key_of(std::move(task_id));
    s.event_seq = 0;
    return s;
}

/// A store in a fresh folder and a task "t" it has never seen, whose every step() is one event:
/// where the outbox tests start (a doctest fixture).
struct store_and_task {
    test::temp_dir dir;
    state::store s{dir.path()};
    task::task_state st = [] {
        task::task_state t;
        t.key = key_of("t");
        return t;
    }();
};

// Opening the state folder `dir` fails with a store_error that says `problem`, and the
// database file `file` in it is left byte-identical.
void check_refused_untouched(const std::filesystem::path& dir, const std::string& file,
                             const std::string& problem) {
    const auto before = test::read_file(file);
    CHECK_THROWS_WITH_AS(state::store{dir}, doctest::Contains(problem.c_str()), state::store_error);
    CHECK(test::read_file(file) == before);
}

} // namespace

TEST_CASE("store creates the state directory and an empty database") {
    test::temp_dir dir;
    auto sub = dir.path() / "var" / "lib" / "taskwatch";
    state::store s(sub);
    CHECK(s.path() == sub / "taskwatch.db");
    CHECK(std::filesystem::exists(s.path()));
    CHECK(s.load_tasks().empty());
    CHECK(s.queue_length("w") == 0);
    CHECK_FALSE(s.oldest_pending("w").has_value());
}

TEST_CASE("a task state round-trips with every field, across a reopen") {
    test::temp_dir dir;
    auto full = full_state();
    task::task_state bare; // never observed, no error, nothing set
    bare.key = {"p", "d", "never-seen"};
    task::task_state no_counts = full;
    no_counts.key.task_id = "task-2";
    no_counts.last->total_sample_count.reset();
    no_counts.last->annotated_sample_count.reset();
    no_counts.last->unconfirmed_sample_count.reset();
    no_counts.last->create_time.reset();
    no_counts.last_error.reset();
    no_counts.stalled = no_counts.up = no_counts.failing_reported = no_counts.gone = false;
    {
        state::store s(dir.path());
        s.commit({{full, {}}, {bare, {}}, {no_counts, {}}}, {});
        auto loaded = s.load_tasks(); // ordered by key
        REQUIRE(loaded.size() == 3);
        CHECK(loaded[0] == full);
        CHECK(loaded[1] == no_counts);
        CHECK(loaded[2] == bare);
    }
    state::store s(dir.path());
    auto loaded = s.load_tasks();
    REQUIRE(loaded.size() == 3);
    CHECK(loaded[0] == full);
    CHECK(loaded[2] == bare);

    SUBCASE("a later commit replaces the state") {
        full.event_seq += 1;
        full.last->progress = 1.0;
        full.last->status = modelarts::task_status::succeeded;
        s.commit({{full, {}}}, {});
        CHECK(s.load_tasks()[0] == full);
        CHECK(s.load_tasks().size() == 3);
    }
}

TEST_CASE("a database of schema 2 gains the cycle column, 0 for every task, and keeps the rest") {
    test::temp_dir dir;
    auto st = full_state();
    st.cycle = 0;
    {
        state::store s(dir.path());
        s.commit({{st, {}}}, {});
    }
    const auto file = (dir.path() / state::store::file_name).string();
    // What version 2 wrote: no cycle column (3), no history tables (4) nor answers (5).
    raw_sql(file, "DROP TABLE answers; DROP TABLE history; DROP TABLE history_tasks; "
                  "ALTER TABLE tasks DROP COLUMN cycle; PRAGMA user_version = 2;");
    state::store s(dir.path());
    auto loaded = s.load_tasks();
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0] == st);
    st.cycle = 3;
    s.commit({{st, {}}}, {});
    CHECK(s.load_tasks().at(0).cycle == 3);
}

TEST_CASE("times are stored at millisecond precision") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto st = full_state();
    st.last_poll = t0 + 1500us;
    s.commit({{st, {}}}, {});
    CHECK(s.load_tasks()[0].last_poll == t0 + 1ms);
}

TEST_CASE("an event already in the outbox is ignored, deliveries included") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto st = full_state();
    st.event_seq = 0;
    auto c = step(st, t0);
    s.commit({c}, to({"a"}));
    REQUIRE(s.queue_length("a") == 1);
    s.mark_delivered(c.events[0].id, "a", t0 + 1s);
    CHECK(s.queue_length("a") == 0);

    // Regenerated after a restart: same id, routed again, even to a new webhook.
    s.commit({c, c}, to({"a", "b"}));
    CHECK(s.queue_length("a") == 0);
    CHECK(s.queue_length("b") == 0);
    CHECK(s.due("a", far_future, 10).empty());
}

TEST_CASE("events round-trip through the outbox") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto key = key_of("t");
    auto e = make_event(key, 0, t0, task::event_type::poll_failing);
    e.previous.reset();
    e.current->total_sample_count = 49;
    e.current->code = "c";
    e.current->message = "m";
    e.current->error_code = "ec";
    e.current->error_msg = "em";
    e.error = task::poll_error{"auth", "IAM.0001", "bad token", "r-1"};
    task::task_state st;
    st.key = key;
    st.event_seq = 1;
    s.commit({{st, {e}}}, to({"w"}));
    auto due = s.due("w", t0, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].event == e);
    CHECK(due[0].webhook == "w");
    CHECK(due[0].attempts == 0);
    CHECK(due[0].next_attempt_at == t0);
    CHECK(due[0].last_error.empty());
}

TEST_CASE("event JSON keeps progress exactly and names what is wrong") {
    auto key = key_of("t");
    for (int k = 0; k <= 1000; ++k) {
        auto e = make_event(key, static_cast<std::uint64_t>(k), t0);
        e.current->progress = k / 1000.0;
        auto text = boost::json::serialize(state::to_json(e));
        auto back = state::event_from_json(boost::json::parse(text));
        REQUIRE(back);
        CHECK(*back == e);
    }
    auto bad = state::to_json(make_event(key, 0, t0));
    bad.as_object()["type"] = "task.exploded";
    auto r = state::event_from_json(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error() == "event.type is not an event type: \"task.exploded\"");
    bad = state::to_json(make_event(key, 0, t0));
    bad.as_object()["current"].as_object().erase("status_code");
    r = state::event_from_json(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error() == "event.current: snapshot.status_code is missing");
}

TEST_CASE_FIXTURE(store_and_task, "each webhook has its own queue") {
    auto c1 = step(st, t0);
    auto c2 = step(st, t0 + 1s);
    s.commit({c1, c2}, to({"slack", "generic"}));
    auto route_only_generic = [](const task::event& e) {
        return e.id.empty() ? std::vector<std::string>{} : std::vector<std::string>{"generic"};
    };
    auto c3 = step(st, t0 + 2s);
    s.commit({c3}, route_only_generic);

    CHECK(s.queue_length("slack") == 2);
    CHECK(s.queue_length("generic") == 3);
    // slack is down: its first event backs off for an hour, and the task's next event waits
    // behind it (a task's events go in order).
    s.mark_failed(c1.events[0].id, "slack", t0 + 3s, t0 + 1h, "connection refused", false);
    CHECK(s.due("slack", t0 + 3s, 10).empty());
    CHECK(s.next_due("slack") == t0 + 1h);
    // generic is not delayed by it: its first event of the task is due.
    CHECK(ids_of(s.due("generic", t0 + 3s, 10)) == std::vector{c1.events[0].id});
    CHECK(pending_ids(s, "generic") ==
          std::vector{c1.events[0].id, c2.events[0].id, c3.events[0].id});
    s.mark_delivered(c1.events[0].id, "generic", t0 + 3s);
    CHECK(ids_of(s.due("generic", t0 + 3s, 10)) == std::vector{c2.events[0].id});
    CHECK(s.queue_length("generic") == 2);
    CHECK(s.queue_length("slack") == 2); // delivering to generic leaves slack's copy
    CHECK(s.oldest_pending("slack") == t0);
    CHECK(s.oldest_pending("generic") == t0 + 1s);
    CHECK(s.queue_length("nobody") == 0);
}

TEST_CASE("due returns the oldest first, at most limit, and honours next_attempt_at") {
    test::temp_dir dir;
    state::store s(dir.path());
    task::task_state a, b;
    a.key = key_of("a");
    b.key = key_of("b");
    std::vector<std::string> order;
    for (int i = 0; i < 3; ++i) {
        auto ca = step(a, t0 + std::chrono::seconds(i));
        auto cb = step(b, t0 + std::chrono::seconds(i));
        order.push_back(ca.events[0].id);
        order.push_back(cb.events[0].id);
        s.commit({ca, cb}, to({"w"}));
    }
    // Of each task its first pending event only, the oldest task first.
    CHECK(pending_ids(s, "w") == order);
    CHECK(ids_of(s.due("w", far_future, 100)) == std::vector{order[0], order[1]});
    CHECK(ids_of(s.due("w", far_future, 1)) == std::vector{order[0]});
    CHECK(ids_of(s.due("w", t0, 100)) == std::vector{order[0], order[1]});
    CHECK(s.due("w", t0 - 1ms, 100).empty());
    // Once a's first event is delivered, its second is next.
    s.mark_delivered(order[0], "w", t0 + 1s);
    CHECK(ids_of(s.due("w", far_future, 100)) == std::vector{order[1], order[2]});
    order.erase(order.begin());

    // a's second event fails: a waits until it is due again; b goes on.
    s.mark_failed(order[1], "w", t0 + 5s, t0 + 10s, "HTTP 503", false);
    CHECK(ids_of(s.due("w", t0 + 9s, 10)) == std::vector{order[0]});
    s.mark_delivered(order[0], "w", t0 + 9s);
    order.erase(order.begin());
    CHECK(ids_of(s.due("w", t0 + 9s, 10)) == std::vector{order[1]}); // b's second
    auto retried = s.due("w", t0 + 10s, 1);
    REQUIRE(retried.size() == 1);
    CHECK(retried[0].event.id == order[0]); // back in its place once due again
    CHECK(retried[0].attempts == 1);
    CHECK(retried[0].next_attempt_at == t0 + 10s);
    CHECK(retried[0].last_error == "HTTP 503");
}

TEST_CASE_FIXTURE(store_and_task,
                  "a dead-lettered delivery is kept and counted but no longer due") {
    auto c = step(st, t0);
    s.commit({c}, to({"w"}));
    const auto& id = c.events[0].id;
    s.mark_failed(id, "w", t0 + 1s, t0 + 2s, "HTTP 500", false);
    s.mark_failed(id, "w", t0 + 2s, t0 + 4s, "HTTP 500", true);
    CHECK(s.dead_letters("w") == 1);
    CHECK(s.queue_length("w") == 0);
    CHECK(s.due("w", far_future, 10).empty());
    CHECK_FALSE(s.oldest_pending("w").has_value());
    // Neither a late success nor pruning removes the dead letter.
    s.mark_delivered(id, "w", t0 + 5s);
    CHECK(s.prune_delivered(far_future) == 0);
    CHECK(s.dead_letters("w") == 1);
    CHECK(s.dead_letters("other") == 0);
}

TEST_CASE_FIXTURE(store_and_task,
                  "prune_delivered removes events delivered to every webhook before the cut-off") {
    auto c1 = step(st, t0);
    auto c2 = step(st, t0 + 1s);
    auto c3 = step(st, t0 + 2s);
    s.commit({c1, c2}, to({"a", "b"}));
    s.commit({c3}, {}); // routed nowhere
    s.mark_delivered(c1.events[0].id, "a", t0 + 10s);
    s.mark_delivered(c1.events[0].id, "b", t0 + 10s);
    s.mark_delivered(c2.events[0].id, "a", t0 + 10s); // b still pending
    CHECK(s.prune_delivered(t0 + 10s) == 1); // the unrouted c3; c1 was delivered at the cut-off
    CHECK(s.prune_delivered(t0 + 11s) == 1); // c1; c2 still waits for b
    CHECK(s.queue_length("b") == 1);
    CHECK(ids_of(s.due("b", far_future, 10)) == std::vector{c2.events[0].id});
    // A pruned event's id is free again: at least once, never lost.
    s.commit({c1}, to({"a"}));
    CHECK(s.queue_length("a") == 1);
}

TEST_CASE("forget deletes one task, forget_finished_before the ones finished long ago") {
    test::temp_dir dir;
    state::store s(dir.path());
    task::task_state running, old_done, new_done;
    running.key = key_of("running");
    old_done.key = key_of("old");
    old_done.finished_at = t0 - 48h;
    new_done.key = key_of("new");
    new_done.finished_at = t0 - 1h;
    auto c = step(running, t0);
    s.commit({c, {old_done, {}}, {new_done, {}}}, to({"w"}));

    CHECK(s.forget_finished_before(t0 - 24h) == std::vector{old_done.key});
    CHECK(s.forget_finished_before(t0 - 24h).empty());
    CHECK(s.load_tasks().size() == 2);
    CHECK(s.forget(running.key));
    CHECK_FALSE(s.forget(running.key));
    auto left = s.load_tasks();
    REQUIRE(left.size() == 1);
    CHECK(left[0].key == new_done.key);
    CHECK(s.queue_length("w") == 1); // its event is still to be delivered
}

TEST_CASE("a batch of 1000 changes commits in one transaction") {
    test::temp_dir dir;
    state::store s(dir.path());
    std::vector<state::change> batch;
    for (int i = 0; i < 1000; ++i) {
        task::task_state st = full_state();
        st.key.task_id = "task-" + std::to_string(i);
        st.event_seq = 0;
        batch.push_back(step(st, t0));
    }
    s.commit(batch, to({"w"}));
    CHECK(s.load_tasks().size() == 1000);
    CHECK(s.queue_length("w") == 1000);
}

TEST_CASE("a file that is not SQLite is refused and left byte-identical") {
    test::temp_dir dir;
    std::string junk;
    for (int i = 0; i < 200; ++i)
        junk += "this is not a database, it is a text file\n";
    auto file = dir.write("taskwatch.db", junk);
    check_refused_untouched(dir.path(), file, file + " is not a SQLite database");
}

TEST_CASE("a SQLite file of another application is refused and left byte-identical") {
    test::temp_dir dir;
    auto file = dir.file("taskwatch.db");
    raw_sql(
        file,
        "PRAGMA application_id = 305419896; CREATE TABLE mine (x); INSERT INTO mine VALUES (1);");
    check_refused_untouched(dir.path(), file,
                            file + " is not a taskwatch state database (application_id 0x12345678");

    SUBCASE("also without an application_id, when it has tables") {
        test::temp_dir other;
        auto f = other.file("taskwatch.db");
        raw_sql(f, "CREATE TABLE mine (x);");
        check_refused_untouched(other.path(), f, "(application_id 0x00000000");
    }
}

TEST_CASE("a database from a newer taskwatch is refused and left byte-identical") {
    test::temp_dir dir;
    {
        state::store s(dir.path());
        s.commit({{full_state(), {}}}, {});
    }
    auto file = dir.file("taskwatch.db");
    raw_sql(file, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99;");
    check_refused_untouched(dir.path(), file, file + " has schema version 99, newer than");
}

TEST_CASE("a corrupt database is refused") {
    test::temp_dir dir;
    {
        state::store s(dir.path());
        std::vector<state::change> batch;
        for (int i = 0; i < 300; ++i) {
            task::task_state st = full_state();
            st.key.task_id = "task-" + std::to_string(i);
            batch.push_back({st, {}});
        }
        s.commit(batch, {});
    }
    auto file = dir.file("taskwatch.db");
    raw_sql(file, "PRAGMA journal_mode = DELETE;");
    auto bytes = test::read_file(file);
    REQUIRE(bytes.size() > 4096 * 4);
    // Scribble over the second page onwards, keeping the header intact.
    for (std::size_t i = 4096; i < bytes.size(); i += 7)
        bytes[i] = '\x5a';
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    check_refused_untouched(dir.path(), file, file + " is corrupt");
}

TEST_CASE("a commit killed at any moment is either whole or absent") {
    test::temp_dir dir;
    constexpr std::size_t task_count = 40;
    std::random_device rd;
    auto seed = rd();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    std::size_t events_before = 0;
    for (int round = 0; round < 6; ++round) {
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            ::close(ready[0]);
            try {
                state::store s(dir.path());
                std::vector<task::task_state> tasks = s.load_tasks();
                if (tasks.empty())
                    for (std::size_t i = 0; i < task_count; ++i) {
                        task::task_state st;
                        st.key = key_of("task-" + std::to_string(i));
                        tasks.push_back(st);
                    }
                for (std::int64_t batch_no = 0;; ++batch_no) {
                    std::vector<state::change> batch;
                    for (auto& st : tasks) {
                        state::change c;
                        auto n = 1 + (st.event_seq + static_cast<std::uint64_t>(batch_no)) % 3;
                        for (std::uint64_t k = 0; k < n; ++k)
                            c.events.push_back(make_event(st.key, st.event_seq++, t0));
                        st.last_poll =
                            t0 + std::chrono::milliseconds(static_cast<std::int64_t>(st.event_seq));
                        st.failing_since = t0 + std::chrono::milliseconds(batch_no);
                        c.next = st;
                        batch.push_back(std::move(c));
                    }
                    s.commit(batch, to({"w"}));
                    if (batch_no == 0 && ::write(ready[1], "x", 1) != 1) ::_exit(3);
                }
            } catch (...) {
                ::_exit(2);
            }
        }
        ::close(ready[1]);
        char c = 0;
        REQUIRE(::read(ready[0], &c, 1) == 1); // one batch is committed: now kill it anywhere
        ::close(ready[0]);
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::uniform_int_distribution<int>(0, 40'000)(rng)));
        REQUIRE(::kill(child, SIGKILL) == 0);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        REQUIRE(WIFSIGNALED(status)); // killed while committing, not failed on its own
        CHECK(WTERMSIG(status) == SIGKILL);

        state::store s(dir.path());
        auto tasks = s.load_tasks();
        REQUIRE(tasks.size() == task_count);
        auto pending = s.list_deliveries(false, "w");
        std::set<std::string> unique;
        std::map<task::task_key, std::vector<std::string>> by_task;
        for (const auto& d : pending) {
            unique.insert(d.event_id);
            by_task[d.key].push_back(d.event_id);
        }
        CHECK(unique.size() == pending.size());
        CHECK(s.queue_length("w") == pending.size());
        CHECK(pending.size() > events_before); // the child committed at least one batch more
        events_before = pending.size();
        for (const auto& st : tasks) {
            CHECK(st.failing_since == tasks.front().failing_since); // every task in the last batch
            const auto& ids = by_task[st.key];
            REQUIRE(ids.size() == st.event_seq);
            for (std::uint64_t i = 0; i < st.event_seq; ++i)
                CHECK(ids[i] == id_of(st.key, i));
        }
    }
}

// --- the database file vanishing or failing under a running store (the reliability issue's
// defect 3: a storage failure was visible only in the log)

namespace {

/// Every event id in the outbox with how often it is stored, read without taskwatch.
std::map<std::string, int> stored_event_ids(const std::string& file) {
    std::map<std::string, int> out;
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT id FROM events", -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        ++out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))];
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

} // namespace

TEST_CASE("a deleted database file is noticed at the next commit, created again and written") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto a = full_state_of("a");
    s.commit({step(a, t0)}, to({"w"}));

    std::filesystem::remove(s.path());
    // Until now the commit went into the deleted file's inode, invisible to everyone.
    auto c = step(a, t0 + 1s);
    s.commit({c}, to({"w"}));
    REQUIRE(std::filesystem::exists(s.path()));
    state::store reader(dir.path());
    auto loaded = reader.load_tasks();
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0] == a);
    CHECK(stored_event_ids(s.path().string()) == std::map<std::string, int>{{c.events[0].id, 1}});
    CHECK(reader.queue_length("w") == 1);
}

TEST_CASE("a deleted state directory is created again at the next commit") {
    test::temp_dir dir;
    const auto state_dir = dir.path() / "state";
    state::store s(state_dir);
    auto a = full_state();
    a.key = key_of("a");
    s.commit({{a, {}}}, {});
    std::filesystem::remove_all(state_dir);

    a.event_seq += 7;
    s.commit({{a, {}}}, {});
    REQUIRE(std::filesystem::exists(state_dir / "taskwatch.db"));
    auto loaded = state::store(state_dir).load_tasks();
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].event_seq == a.event_seq);
}

TEST_CASE("a database file replaced by a directory fails commits, naming the file, until it is "
          "removed") {
    test::temp_dir dir;
    state::store s(dir.path());
    auto a = full_state_of("a");
    s.commit({step(a, t0)}, {});

    std::filesystem::remove(s.path());
    std::filesystem::create_directory(s.path());
    auto c = step(a, t0 + 1s);
    try {
        s.commit({c}, {});
        FAIL("the commit succeeded with a directory in place of the database file");
    } catch (const state::store_error& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find(s.path().string()) != std::string::npos);
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
    std::filesystem::remove(s.path());
    s.commit({c}, {});
    REQUIRE(std::filesystem::is_regular_file(s.path()));
    CHECK(stored_event_ids(s.path().string()) == std::map<std::string, int>{{c.events[0].id, 1}});
}

// --- write_buffer: what waits for the database, bounded

TEST_CASE("write_buffer keeps the newest state per task and every event in emission order") {
    state::write_buffer buf;
    CHECK(buf.empty());
    std::map<std::string, task::task_state> tasks;
    std::vector<std::string> emitted;
    // 50 polls of 4 tasks, each with a new state, every fifth with an event.
    for (int poll = 0; poll < 50; ++poll) {
        for (const auto* id : {"a", "b", "c", "d"}) {
            auto& st = tasks[id];
            st.key = key_of(id);
            st.last_poll = t0 + std::chrono::seconds(poll);
            state::change c;
            if (poll % 5 == 0) {
                c.events.push_back(make_event(st.key, st.event_seq++, *st.last_poll));
                emitted.push_back(c.events.back().id);
            }
            c.next = st;
            buf.add(std::move(c));
        }
    }
    CHECK(buf.states() == 4);
    CHECK(buf.events() == emitted.size());
    CHECK(buf.size() == 4 + emitted.size());
    CHECK_FALSE(buf.full());

    test::temp_dir dir;
    state::store s(dir.path());
    buf.commit_to(s, to({"w"}));
    CHECK(buf.empty());
    auto loaded = s.load_tasks();
    REQUIRE(loaded.size() == 4);
    for (const auto& t : loaded)
        CHECK(t == tasks[t.key.task_id.str()]);
    // The outbox's order is the emission order, across tasks.
    CHECK(pending_ids(s, "w") == emitted);
}

TEST_CASE("write_buffer gives back what a burst left once a small batch follows it") {
    test::temp_dir dir;
    state::store s(dir.path());
    state::write_buffer buf;
    const auto fill = [&](int tasks, int second) {
        for (int i = 0; i < tasks; ++i) {
            task::task_state st;
            st.key = key_of("t" + std::to_string(i));
            st.last_poll = t0 + std::chrono::seconds(second);
            state::change c;
            c.next = std::move(st);
            buf.add(std::move(c));
        }
    };
    fill(2000, 1); // the first round: every task's state
    CHECK(buf.reserved() >= 2000);
    buf.commit_to(s, to({"w"}));
    CHECK(buf.reserved() >= 2000); // a full batch: a steady load like it keeps its storage
    fill(5, 2);
    buf.commit_to(s, to({"w"}));
    CHECK(buf.empty());
    CHECK(buf.reserved() == 0); // five of ~2,000: given back
    fill(5, 3);
    CHECK(buf.states() == 5);
    buf.commit_to(s, to({"w"}));
    CHECK(buf.reserved() >= 5);
    CHECK(s.load_tasks().size() == 2000);
    // A burst followed by nothing at all: the watcher's quiet commit tick clears it.
    fill(2000, 4);
    buf.commit_to(s, to({"w"}));
    CHECK(buf.reserved() >= 2000);
    buf.clear();
    CHECK(buf.reserved() == 0);
}

TEST_CASE("write_buffer is full at max_events - a failed commit keeps everything and the next one "
          "writes each event once") {
    state::write_buffer buf(6);
    CHECK(buf.max_events() == 6);
    auto st = full_state_of("a");
    std::vector<std::string> emitted;
    for (int i = 0; i < 3; ++i) {
        auto c = step(st, t0 + std::chrono::seconds(i));
        c.events.push_back(make_event(st.key, st.event_seq++, t0 + std::chrono::seconds(i)));
        c.next = st;
        for (const auto& e : c.events)
            emitted.push_back(e.id);
        CHECK_FALSE(buf.full());
        buf.add(std::move(c));
    }
    CHECK(buf.full());
    CHECK(buf.states() == 1);
    CHECK(buf.events() == 6);

    test::temp_dir dir;
    state::store s(dir.path());
    std::filesystem::remove(s.path());
    std::filesystem::create_directory(s.path()); // nothing can be written there
    CHECK_THROWS_AS(buf.commit_to(s, to({"w"})), state::store_error);
    CHECK(buf.events() == 6);
    CHECK(buf.states() == 1);
    CHECK_THROWS_AS(buf.commit_to(s, to({"w"})), state::store_error);

    std::filesystem::remove(s.path());
    buf.commit_to(s, to({"w"}));
    CHECK(buf.empty());
    CHECK_FALSE(buf.full());
    std::map<std::string, int> once;
    for (const auto& id : emitted)
        once[id] = 1;
    CHECK(stored_event_ids(s.path().string()) == once);
    CHECK(pending_ids(s, "w") == emitted);
    CHECK(s.load_tasks().at(0) == st);
}

TEST_CASE("a store error's reason is one line naming the file and SQLite's words") {
    test::temp_dir dir;
    state::store s(dir.path());
    std::filesystem::remove(s.path());
    std::filesystem::create_directory(s.path());
    try {
        s.commit({{full_state(), {}}}, {});
        FAIL("the commit succeeded");
    } catch (const state::store_error& e) {
        INFO(e.reason());
        CHECK(e.reason().starts_with(s.path().string() + ": "));
        CHECK(e.reason().find('\n') == std::string::npos);
    }
}

TEST_CASE("a state with an unknown status code, or without status and progress, is stored and "
          "loaded") {
    test::temp_dir dir;
    auto future = full_state();
    future.key = key_of("future");
    future.last->status = static_cast<modelarts::task_status>(9);
    auto blank = full_state();
    blank.key = key_of("blank");
    blank.last->status.reset();
    blank.last->progress.reset();
    blank.last->task_name.clear();
    {
        state::store s(dir.path());
        s.commit({{future, {}}, {blank, {}}}, {});
    }
    state::store s(dir.path());
    auto loaded = s.load_tasks();
    REQUIRE(loaded.size() == 2);
    CHECK(loaded[0] == blank); // observed, although no status, progress or name was sent
    CHECK(loaded[1] == future);

    // A poll that left a field out stores the last value sent: it is what the next poll is
    // compared with, and what shows until then.
    auto gap = full_state();
    gap.key = key_of("gap");
    gap.last->progress.reset();
    gap.last->earlier_progress = 0.3;
    s.commit({{gap, {}}}, {});
    for (const auto& t : s.load_tasks())
        if (t.key.task_id == "gap") {
            REQUIRE(t.last);
            CHECK(t.last->progress == 0.3);
            CHECK(t.last->known_progress() == 0.3);
        }
}

TEST_CASE("event JSON keeps an unknown status code and nulls, and reads the previous version's") {
    auto key = key_of("t");
    auto e = make_event(key, 0, t0);
    e.previous = snap(static_cast<modelarts::task_status>(9), 0.5);
    e.current->status.reset();
    e.current->progress.reset();
    auto v = state::to_json(e);
    CHECK(v.at("previous").at("status") == "unknown");
    CHECK(v.at("previous").at("status_code") == 9);
    CHECK(v.at("current").at("status").is_null());
    CHECK(v.at("current").at("status_code").is_null());
    CHECK(v.at("current").at("progress").is_null());
    auto back = state::event_from_json(boost::json::parse(boost::json::serialize(v)));
    REQUIRE(back);
    CHECK(*back == e);

    // As the previous version wrote it: every status a number, progress always a number.
    auto old = boost::json::parse(R"({"id":"evt_1","type":"task.status_changed","time_ms":1,
        "project_id":"p","dataset_id":"d","task_id":"t","task_name":"n",
        "previous":{"status":"running","status_code":1,"progress":0.42,"code":"","message":"",
                    "error_code":"","error_msg":"","total_sample_count":null,
                    "annotated_sample_count":null,"unconfirmed_sample_count":null},
        "current":null,"error":null})");
    auto read = state::event_from_json(old);
    REQUIRE(read);
    CHECK(read->previous->status == modelarts::task_status::running);
    CHECK(read->previous->progress == 0.42);
}

TEST_CASE("marks written in one batch - dead letters listed, and put back by redeliver") {
    test::temp_dir dir;
    state::store s(dir.path());
    task::task_state a, b;
    a.key = key_of("a");
    b.key = key_of("b");
    auto ca = step(a, t0), cb = step(b, t0);
    s.commit({ca, cb}, to({"w", "v"}));
    const auto& ida = ca.events[0].id;
    const auto& idb = cb.events[0].id;
    const state::delivery_mark marks[] = {
        {ida, "w", state::delivery_mark::dead, t0 + 1s, t0 + 1s, "HTTP 400: bad"},
        {idb, "w", state::delivery_mark::delivered, t0 + 1s, t0 + 1s, {}},
        {ida, "v", state::delivery_mark::failed, t0 + 1s, t0 + 5s, "timeout"},
    };
    s.mark(marks);
    CHECK(s.dead_letters("w") == 1);
    CHECK(s.queue_length("w") == 0);
    CHECK(s.queue_length("v") == 2);
    CHECK(s.next_due("v") == t0); // b's event to v was never tried

    auto dead = s.list_deliveries(true, std::nullopt);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].event_id == ida);
    CHECK(dead[0].webhook == "w");
    CHECK(dead[0].dead);
    CHECK(dead[0].type == "task.progress");
    CHECK(dead[0].attempts == 1);
    CHECK(dead[0].last_error == "HTTP 400: bad");
    CHECK(s.list_deliveries(false, std::string("v")).size() == 2);
    CHECK(s.list_deliveries(false, std::string("nobody")).empty());

    // Redelivering what is not a dead letter changes nothing.
    const std::string not_dead[] = {idb};
    CHECK(s.redeliver(not_dead, std::nullopt, t0 + 2s) == 0);
    const std::string ids[] = {ida};
    CHECK(s.redeliver(ids, std::string("other"), t0 + 2s) == 0);
    CHECK(s.redeliver(ids, std::nullopt, t0 + 2s) == 1);
    CHECK(s.dead_letters("w") == 0);
    auto back = s.due("w", t0 + 2s, 10);
    REQUIRE(back.size() == 1);
    CHECK(back[0].event.id == ida);
    CHECK(back[0].attempts == 0); // a fresh start
    CHECK(back[0].last_error.empty());
    s.mark_failed(ida, "w", t0 + 3s, t0 + 3s, "x", true);
    CHECK(s.redeliver_all_dead(std::nullopt, t0 + 4s) == 1);
    CHECK(s.queue_length("w") == 1);
}
