#include "taskwatch/task/diff.hpp"

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using namespace taskwatch::task;
using taskwatch::modelarts::task_status;
using namespace std::chrono_literals;

namespace {

const time_point t0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30};
time_point at(std::chrono::milliseconds offset) {
    return t0 + offset;
}

const task_key key{"p1", "d1", "t1"};

observation obs(task_status status, double progress) {
    observation o;
    o.status = status;
    o.progress = progress;
    o.task_name = "job";
    o.code = "ModelArts.4902";
    o.total_sample_count = 49;
    return o;
}

// A task seen at t0 with one event (its discovery) already sent.
task_state seen(task_status status, double progress) {
    task_state s;
    s.key = key;
    s.last = obs(status, progress);
    s.up = true;
    s.last_poll = t0;
    s.last_change = t0;
    s.progress_since = t0;
    if (taskwatch::modelarts::is_terminal(status)) s.finished_at = t0;
    s.event_seq = 1;
    return s;
}

task_state never_seen() {
    task_state s;
    s.key = key;
    return s;
}

template <class T, class F> T with(T s, F change) {
    change(s);
    return s;
}

poll_error err(std::string reason = "timeout") {
    return poll_error{std::move(reason), "", "", ""};
}

poll_outcome ok(task_status status, double progress) {
    return poll_ok{obs(status, progress)};
}

diff_settings steps(std::vector<double> v) {
    diff_settings s;
    s.progress_steps = std::move(v);
    return s;
}

struct expected_event {
    event_type type;
    std::optional<task_status> previous_status = std::nullopt;
    std::optional<task_status> current_status = std::nullopt;
    std::optional<double> previous_progress = std::nullopt;
    std::optional<double> current_progress = std::nullopt;
    bool has_error = false;
};

// Fields of the next state worth pinning; an empty member is not checked. For the optional
// time points the outer optional says "check", the inner one the expected value.
struct expected_state {
    std::optional<bool> up = {}, stalled = {}, gone = {}, failing_reported = {};
    std::optional<std::optional<time_point>> last_change = {}, progress_since = {},
                                             finished_at = {}, failing_since = {}, last_poll = {};
    std::optional<bool> has_last_error = {};
    std::optional<std::uint64_t> event_seq = {};
};

struct diff_case {
    std::string name;
    task_state prev;
    poll_outcome outcome;
    diff_settings settings;
    time_point now;
    std::vector<expected_event> events = {};
    expected_state next = {};
};

constexpr auto queuing = task_status::queuing;
constexpr auto initializing = task_status::initializing;
constexpr auto running = task_status::running;
constexpr auto failed = task_status::failed;
constexpr auto succeeded = task_status::succeeded;
constexpr auto stopping = task_status::stopping;
constexpr auto stopped = task_status::stopped;

using ev = event_type;
const std::optional<time_point> none = std::nullopt;

std::vector<diff_case> cases() {
    const diff_settings quarter = steps({0.25});
    const diff_settings two_hooks = steps({0.25, 0.1});
    return {
        // First sight.
        {"first sight emits discovered only",
         never_seen(),
         ok(running, 0.4),
         quarter,
         at(1min),
         {{ev::discovered, std::nullopt, running, std::nullopt, 0.4}},
         {.up = true,
          .stalled = false,
          .gone = false,
          .last_change = at(1min),
          .progress_since = at(1min),
          .finished_at = none,
          .last_poll = at(1min),
          .event_seq = 1}},
        {"first sight of a finished task sets finished_at",
         never_seen(),
         ok(succeeded, 1.0),
         quarter,
         at(1min),
         {{ev::discovered, std::nullopt, succeeded}},
         {.finished_at = at(1min), .event_seq = 1}},
        {"first success after a reported failing streak also recovers",
         with(never_seen(),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.failing_reported = true;
                  s.last_error = err();
              }),
         ok(queuing, 0),
         {},
         at(20min),
         {{ev::discovered}, {ev::poll_recovered}},
         {.up = true, .failing_reported = false, .failing_since = none, .has_last_error = false}},

        // Nothing changed.
        {"unchanged poll emits nothing and keeps last_change",
         seen(running, 0.4),
         ok(running, 0.4),
         quarter,
         at(1min),
         {},
         {.up = true,
          .stalled = false,
          .last_change = t0,
          .progress_since = t0,
          .last_poll = at(1min),
          .event_seq = 1}},

        // Status changes.
        {"skipped states are not invented",
         seen(queuing, 0),
         ok(succeeded, 1.0),
         {},
         at(1min),
         {{ev::status_changed, queuing, succeeded, 0.0, 1.0}},
         {.last_change = at(1min), .finished_at = at(1min), .event_seq = 2}},
        {"status and progress change in one poll: status first",
         seen(running, 0.8),
         ok(succeeded, 1.0),
         quarter,
         at(1min),
         {{ev::status_changed, running, succeeded}, {ev::progress, running, succeeded, 0.8, 1.0}},
         {.finished_at = at(1min), .event_seq = 3}},
        {"a restarted stopped task clears finished_at",
         seen(stopped, 0.5),
         ok(running, 0.5),
         {},
         at(1h),
         {{ev::status_changed, stopped, running}},
         {.last_change = at(1h), .progress_since = at(1h), .finished_at = none}},
        {"finished_at keeps the first terminal sighting",
         seen(failed, 0.5),
         ok(stopped, 0.5),
         {},
         at(1h),
         {{ev::status_changed, failed, stopped}},
         {.finished_at = t0}},

        // Progress.
        {"0.2 -> 0.3 crosses 0.25",
         seen(running, 0.2),
         ok(running, 0.3),
         quarter,
         at(1min),
         {{ev::progress, running, running, 0.2, 0.3}},
         {.last_change = at(1min), .progress_since = at(1min)}},
        {"0.3 -> 0.4 crosses nothing but is a change",
         seen(running, 0.3),
         ok(running, 0.4),
         quarter,
         at(1min),
         {},
         {.last_change = at(1min), .progress_since = at(1min)}},
        {"0.2 -> 0.8 emits once",
         seen(running, 0.2),
         ok(running, 0.8),
         quarter,
         at(1min),
         {{ev::progress, running, running, 0.2, 0.8}},
         {.event_seq = 2}},
        {"backwards progress emits nothing but re-arms the stall",
         with(seen(running, 0.8), [](task_state& s) { s.stalled = true; }),
         ok(running, 0.5),
         quarter,
         at(1h),
         {},
         {.stalled = false, .last_change = at(1h), .progress_since = at(1h)}},
        {"reaching exactly 1.0 crosses",
         seen(running, 0.9),
         ok(running, 1.0),
         quarter,
         at(1min),
         {{ev::progress, running, running, 0.9, 1.0}}},
        {"reaching 1.0 counts even when 1.0 is no multiple of the step",
         seen(running, 0.95),
         ok(running, 1.0),
         steps({0.3}),
         at(1min),
         {{ev::progress}}},
        {"no steps configured: no progress event",
         seen(running, 0.2),
         ok(running, 0.8),
         {},
         at(1min),
         {},
         {.last_change = at(1min)}},
        {"an observation without a name keeps the last name",
         seen(running, 0.2),
         poll_ok{with(obs(running, 0.3), [](observation& o) { o.task_name.clear(); })},
         quarter,
         at(1min),
         {{ev::progress}}},
        {"two hooks: 0.1 step fires where 0.25 does not",
         seen(running, 0.3),
         ok(running, 0.41),
         two_hooks,
         at(1min),
         {{ev::progress, running, running, 0.3, 0.41}}},
        {"two hooks: within both steps nothing",
         seen(running, 0.3),
         ok(running, 0.35),
         two_hooks,
         at(1min),
         {}},
        {"two hooks: crossing both still one event",
         seen(running, 0.45),
         ok(running, 0.55),
         two_hooks,
         at(1min),
         {{ev::progress}},
         {.event_seq = 2}},
        {"landing exactly on a multiple of 0.1 crosses it",
         seen(running, 0.25),
         ok(running, 0.3),
         steps({0.1}),
         at(1min),
         {{ev::progress}}},
        {"starting exactly on a multiple of 0.1 does not re-cross it",
         seen(running, 0.3),
         ok(running, 0.39),
         steps({0.1}),
         at(1min),
         {}},
        {"bad steps are ignored",
         seen(running, 0.2),
         ok(running, 0.8),
         steps({0.0, -0.5}),
         at(1min),
         {}},

        // Stall.
        {"stall fires at stall_after",
         seen(running, 0.4),
         ok(running, 0.4),
         {},
         at(30min),
         {{ev::stalled, std::nullopt, running}},
         {.stalled = true, .last_change = t0, .event_seq = 2}},
        {"no stall just before stall_after",
         seen(running, 0.4),
         ok(running, 0.4),
         {},
         at(30min - 1ms),
         {},
         {.stalled = false}},
        {"stall fires only once",
         with(seen(running, 0.4), [](task_state& s) { s.stalled = true; }),
         ok(running, 0.4),
         {},
         at(2h),
         {},
         {.stalled = true}},
        {"progress re-arms the stall and restarts its clock",
         with(seen(running, 0.4), [](task_state& s) { s.stalled = true; }),
         ok(running, 0.45),
         {},
         at(2h),
         {},
         {.stalled = false, .progress_since = at(2h)}},
        {"no stall when not running",
         seen(queuing, 0),
         ok(queuing, 0),
         {},
         at(5h),
         {},
         {.stalled = false}},
        {"leaving running re-arms the stall",
         with(seen(running, 0.4), [](task_state& s) { s.stalled = true; }),
         ok(stopping, 0.4),
         {},
         at(2h),
         {{ev::status_changed, running, stopping}},
         {.stalled = false}},
        {"entering running restarts the stall clock",
         seen(initializing, 0),
         ok(running, 0),
         {},
         at(2h),
         {{ev::status_changed, initializing, running}},
         {.stalled = false, .progress_since = at(2h)}},
        {"configured stall_after is honoured",
         seen(running, 0.4),
         ok(running, 0.4),
         diff_settings{5min, {}},
         at(5min),
         {{ev::stalled}}},

        // Poll failures.
        {"first failure starts the streak",
         seen(running, 0.4),
         poll_failed{err()},
         {},
         at(1min),
         {},
         {.up = false,
          .failing_reported = false,
          .failing_since = at(1min),
          .last_poll = t0,
          .has_last_error = true,
          .event_seq = 1}},
        {"failing just before stall_after/3: nothing",
         with(seen(running, 0.4),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.up = false;
              }),
         poll_failed{err("auth")},
         {},
         at(10min - 1ms),
         {},
         {.failing_reported = false, .failing_since = t0}},
        {"failing exactly at stall_after/3 reports",
         with(seen(running, 0.4),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.up = false;
              }),
         poll_failed{err("auth")},
         {},
         at(10min),
         {{ev::poll_failing, std::nullopt, running, std::nullopt, 0.4, true}},
         {.failing_reported = true, .failing_since = t0, .event_seq = 2}},
        {"failing is reported once",
         with(seen(running, 0.4),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.failing_reported = true;
              }),
         poll_failed{err()},
         {},
         at(1h),
         {},
         {.failing_reported = true}},
        {"a never-seen task can report failing",
         with(never_seen(), [](task_state& s) { s.failing_since = t0; }),
         poll_failed{err()},
         {},
         at(10min),
         {{ev::poll_failing, std::nullopt, std::nullopt, std::nullopt, std::nullopt, true}}},
        {"success after a reported streak recovers",
         with(seen(running, 0.4),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.failing_reported = true;
                  s.up = false;
                  s.last_error = err();
              }),
         ok(running, 0.4),
         {},
         at(15min),
         {{ev::poll_recovered, std::nullopt, running}},
         {.up = true,
          .failing_reported = false,
          .failing_since = none,
          .last_poll = at(15min),
          .has_last_error = false}},
        {"success after an unreported streak is silent",
         with(seen(running, 0.4),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.up = false;
                  s.last_error = err();
              }),
         ok(running, 0.4),
         {},
         at(5min),
         {},
         {.up = true, .failing_since = none, .has_last_error = false}},
        {"stall and recovery in one poll: stalled first",
         with(seen(running, 0.4),
              [](task_state& s) {
                  s.failing_since = t0;
                  s.failing_reported = true;
              }),
         ok(running, 0.4),
         {},
         at(40min),
         {{ev::stalled}, {ev::poll_recovered}},
         {.event_seq = 3}},

        // Gone.
        {"a seen task that goes away emits gone",
         seen(running, 0.4),
         poll_gone{err("not_found")},
         {},
         at(1min),
         {{ev::gone, std::nullopt, running, std::nullopt, 0.4, true}},
         {.up = false, .gone = true, .has_last_error = true, .event_seq = 2}},
        {"a never-seen task goes away silently",
         never_seen(),
         poll_gone{err("not_found")},
         {},
         at(1min),
         {},
         {.gone = true, .event_seq = 0}},
        {"gone is sent once",
         with(seen(running, 0.4), [](task_state& s) { s.gone = true; }),
         poll_gone{err("not_found")},
         {},
         at(2min),
         {},
         {.gone = true, .event_seq = 1}},
        {"a reappearing task is discovered again with its state reset",
         with(seen(succeeded, 1.0),
              [](task_state& s) {
                  s.gone = true;
                  s.up = false;
                  s.stalled = true;
                  s.failing_since = t0;
                  s.failing_reported = true;
                  s.last_error = err("not_found");
                  s.event_seq = 7;
              }),
         ok(running, 0.1),
         quarter,
         at(1h),
         {{ev::discovered, std::nullopt, running}},
         {.up = true,
          .stalled = false,
          .gone = false,
          .failing_reported = false,
          .last_change = at(1h),
          .progress_since = at(1h),
          .finished_at = none,
          .failing_since = none,
          .has_last_error = false,
          .event_seq = 8}},
    };
}

void check_case(const diff_case& c) {
    auto r = diff(c.prev, c.outcome, c.settings, c.now);
    REQUIRE(r.events.size() == c.events.size());
    for (std::size_t i = 0; i < c.events.size(); ++i) {
        const event& got = r.events[i];
        const expected_event& want = c.events[i];
        CAPTURE(i);
        CHECK(to_string(got.type) == to_string(want.type));
        CHECK(got.time == c.now);
        CHECK(got.key == key);
        CHECK(got.id.starts_with("evt_"));
        CHECK(got.id.size() == 36);
        for (std::size_t j = 0; j < i; ++j)
            CHECK(got.id != r.events[j].id);
        if (c.prev.last || std::holds_alternative<poll_ok>(c.outcome))
            CHECK(got.task_name == "job");
        if (want.previous_status) {
            REQUIRE(got.previous);
            CHECK(got.previous->status == *want.previous_status);
        }
        if (want.current_status) {
            REQUIRE(got.current);
            CHECK(got.current->status == *want.current_status);
        }
        if (want.previous_progress) CHECK(got.previous->progress == *want.previous_progress);
        if (want.current_progress) CHECK(got.current->progress == *want.current_progress);
        CHECK(got.error.has_value() == want.has_error);
    }
    const task_state& n = r.next;
    const expected_state& w = c.next;
    CHECK(n.key == key);
    if (w.up) CHECK(n.up == *w.up);
    if (w.stalled) CHECK(n.stalled == *w.stalled);
    if (w.gone) CHECK(n.gone == *w.gone);
    if (w.failing_reported) CHECK(n.failing_reported == *w.failing_reported);
    if (w.last_change) CHECK(n.last_change == *w.last_change);
    if (w.progress_since) CHECK(n.progress_since == *w.progress_since);
    if (w.finished_at) CHECK(n.finished_at == *w.finished_at);
    if (w.failing_since) CHECK(n.failing_since == *w.failing_since);
    if (w.last_poll) CHECK(n.last_poll == *w.last_poll);
    if (w.has_last_error) CHECK(n.last_error.has_value() == *w.has_last_error);
    if (w.event_seq) CHECK(n.event_seq == *w.event_seq);
    CHECK(n.event_seq == c.prev.event_seq + r.events.size());
    if (auto* o = std::get_if<poll_ok>(&c.outcome)) CHECK(n.last == o->seen);
}

} // namespace

TEST_CASE("diff: table of transitions") {
    for (const diff_case& c : cases()) {
        SUBCASE(c.name.c_str()) {
            check_case(c);
        }
    }
}

TEST_CASE("diff: every pair of the seven statuses gives one status_changed or nothing") {
    constexpr std::array all{queuing, initializing, running, failed, succeeded, stopping, stopped};
    for (auto from : all) {
        for (auto to : all) {
            CAPTURE(taskwatch::modelarts::to_string(from));
            CAPTURE(taskwatch::modelarts::to_string(to));
            auto r = diff(seen(from, 0.5), ok(to, 0.5), {}, at(1min));
            if (from == to) {
                CHECK(r.events.empty());
                CHECK(r.next.last_change == t0);
            } else {
                REQUIRE(r.events.size() == 1);
                const event& e = r.events[0];
                CHECK(e.type == event_type::status_changed);
                REQUIRE(e.previous);
                REQUIRE(e.current);
                CHECK(e.previous->status == from);
                CHECK(e.current->status == to);
                CHECK(e.current->code == "ModelArts.4902");
                CHECK(e.current->total_sample_count == 49);
                CHECK(r.next.last_change == at(1min));
                CHECK(r.next.finished_at.has_value() == taskwatch::modelarts::is_terminal(to));
            }
        }
    }
}

TEST_CASE("diff: event_seq counts the events, each of which has its own id") {
    auto prev = with(seen(running, 0.2), [](task_state& s) { s.event_seq = 5; });
    auto r = diff(prev, ok(succeeded, 1.0), steps({0.25}), at(1min));
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0].id == event_id(key, event_type::status_changed, "0|1>3"));
    CHECK(r.events[1].id == event_id(key, event_type::progress, "0|0.20000000000000001>1"));
    CHECK(r.events[0].id != r.events[1].id);
    CHECK(r.next.event_seq == 7);

    auto r2 = diff(r.next, poll_gone{err("not_found")}, {}, at(2min));
    REQUIRE(r2.events.size() == 1);
    CHECK(r2.events[0].id == event_id(key, event_type::gone, "0|created=-"));
}

TEST_CASE("event_id: evt_ and the first 16 bytes of SHA-256 of key, type and transition") {
    // python3: hashlib.sha256(b'p1\0d1\0t1\0' + type.encode() + b'\0' + transition.encode())
    //          .hexdigest()[:32]
    CHECK(event_id(key, event_type::status_changed, "0|1>2") ==
          "evt_d59349f745759c4f6f7c789bb80a7a21");
    CHECK(event_id(key, event_type::discovered, "0|created=-") ==
          "evt_81bf6a2468d34e55d0f1966e73939875");
    CHECK(event_id(key, event_type::status_changed, "1|1>2") ==
          "evt_b1da7ba1858c99efa89518ccc264c92f");
    // The NUL separators keep "ab"+"c" apart from "a"+"bc".
    CHECK(event_id({"ab", "c", "t"}, event_type::gone, "") !=
          event_id({"a", "bc", "t"}, event_type::gone, ""));
    CHECK(event_id({"p1", "d1", "t2"}, event_type::gone, "") !=
          event_id(key, event_type::gone, ""));
}

TEST_CASE("diff: replicas with different histories give the same change the same id") {
    // One replica has watched the task for long (many events, other polls), the other has just
    // discovered it; both see it go from running to failed, at different moments.
    const auto veteran = with(seen(running, 0.4), [](task_state& s) { s.event_seq = 9; });
    const auto newcomer = seen(running, 0.4);
    auto a = diff(veteran, ok(failed, 0.4), steps({0.25}), at(1min));
    auto b = diff(newcomer, ok(failed, 0.4), steps({0.25}), at(1min) + 7s);
    REQUIRE(a.events.size() == 1);
    REQUIRE(b.events.size() == 1);
    CHECK(a.events[0].id == b.events[0].id);
    CHECK(a.events[0].id == event_id(key, event_type::status_changed, "0|1>2"));
    // A restart re-running the same diff gives it again.
    CHECK(diff(veteran, ok(failed, 0.4), steps({0.25}), at(5min)).events[0].id == a.events[0].id);
    // Discovery depends on the task, not on when it was found.
    auto d1 = diff(never_seen(), ok(running, 0.1), {}, at(1min));
    auto d2 = diff(never_seen(), ok(running, 0.3), {}, at(9min));
    CHECK(d1.events.at(0).id == d2.events.at(0).id);
}

TEST_CASE("diff: a transition seen again after a step back gets a new id") {
    auto first = diff(seen(running, 0.4), ok(failed, 0.4), {}, at(1min));
    CHECK(first.next.cycle == 0);
    auto back = diff(first.next, ok(running, 0.4), {}, at(2min)); // failed -> running: back
    CHECK(back.next.cycle == 1);
    auto again = diff(back.next, ok(failed, 0.4), {}, at(3min));
    REQUIRE(again.events.size() == 1);
    CHECK(again.events[0].id == event_id(key, event_type::status_changed, "1|1>2"));
    CHECK(again.events[0].id != first.events.at(0).id);
    // Progress going down is a step back too; a step forward is not.
    CHECK(diff(seen(running, 0.4), ok(running, 0.3), {}, at(1min)).next.cycle == 1);
    CHECK(diff(seen(running, 0.4), ok(succeeded, 1.0), {}, at(1min)).next.cycle == 0);
    // Gone and back is a new task under an old key: a new cycle, a new discovery id.
    auto gone = diff(seen(running, 0.4), poll_gone{err("not_found")}, {}, at(1min));
    auto reborn = diff(gone.next, ok(queuing, 0), {}, at(2min));
    REQUIRE(reborn.events.size() == 1);
    CHECK(reborn.events[0].type == event_type::discovered);
    CHECK(reborn.next.cycle == 1);
    CHECK(reborn.events[0].id != diff(never_seen(), ok(queuing, 0), {}, at(2min)).events[0].id);
}

TEST_CASE("diff: re-running from the same state gives byte-identical events") {
    const auto prev = with(seen(running, 0.2), [](task_state& s) {
        s.failing_since = t0;
        s.failing_reported = true;
        s.event_seq = 3;
    });
    const poll_outcome outcome = ok(failed, 0.6);
    auto a = diff(prev, outcome, steps({0.25, 0.1}), at(45min));
    auto b = diff(prev, outcome, steps({0.25, 0.1}), at(45min));
    REQUIRE(a.events.size() == 3); // status_changed, progress, poll_recovered
    CHECK(a.events == b.events);
    CHECK(a.next == b.next);
    // The moving overload and advance() agree with the copying one.
    auto c = diff(task_state{prev}, poll_outcome{outcome}, steps({0.25, 0.1}), at(45min));
    CHECK(c.events == a.events);
    CHECK(c.next == a.next);
    task_state in_place = prev;
    std::vector<event> events;
    advance(in_place, outcome, steps({0.25, 0.1}), at(45min), events);
    CHECK(events == a.events);
    CHECK(in_place == a.next);
}

TEST_CASE("diff: a poll sequence from discovery to gone") {
    diff_settings s = steps({0.5});
    auto st = never_seen();
    std::vector<event_type> types;
    auto step = [&](poll_outcome o, time_point now) {
        auto r = diff(st, o, s, now);
        for (auto& e : r.events)
            types.push_back(e.type);
        st = std::move(r.next);
    };
    step(ok(queuing, 0), at(0min));
    step(ok(running, 0.1), at(1min));
    step(ok(running, 0.1), at(31min));   // stalled
    step(ok(running, 0.1), at(40min));   // nothing
    step(poll_failed{err()}, at(41min)); // streak starts
    step(poll_failed{err()}, at(51min)); // poll_failing
    step(ok(running, 0.6), at(52min));   // progress, poll_recovered (stall re-armed)
    step(ok(succeeded, 1.0), at(53min)); // status_changed, progress
    step(poll_gone{err("not_found")}, at(54min));
    step(poll_gone{err("not_found")}, at(55min));
    CHECK(types == std::vector<event_type>{
                       event_type::discovered, event_type::status_changed, event_type::stalled,
                       event_type::poll_failing, event_type::progress, event_type::poll_recovered,
                       event_type::status_changed, event_type::progress, event_type::gone});
    CHECK(st.event_seq == 9);
    CHECK(st.finished_at == at(53min));
}

TEST_CASE("crosses_progress_step: only rising across a multiple or onto 1.0") {
    const std::vector<double> q{0.25};
    CHECK(crosses_progress_step(0.2, 0.25, q));
    CHECK_FALSE(crosses_progress_step(0.25, 0.3, q));
    CHECK_FALSE(crosses_progress_step(0.3, 0.2, q));
    CHECK_FALSE(crosses_progress_step(0.4, 0.4, q));
    CHECK(crosses_progress_step(0.99, 1.0, {0.3}));
    CHECK_FALSE(crosses_progress_step(0.2, 1.0, {})); // no webhook wants progress
    CHECK_FALSE(crosses_progress_step(1.0, 1.0, q));
    CHECK(crosses_progress_step(0.69, 0.7, {0.1}));
}

TEST_CASE("event types: names as in the contract, and back") {
    const std::array<std::pair<event_type, std::string_view>, 7> names{{
        {event_type::discovered, "task.discovered"},
        {event_type::status_changed, "task.status_changed"},
        {event_type::progress, "task.progress"},
        {event_type::stalled, "task.stalled"},
        {event_type::gone, "task.gone"},
        {event_type::poll_failing, "task.poll_failing"},
        {event_type::poll_recovered, "task.poll_recovered"},
    }};
    for (auto [type, name] : names) {
        CHECK(to_string(type) == name);
        CHECK(event_type_from_string(name) == type);
    }
    // The table that config, metrics and the store read is the contract's list, no more.
    CHECK(std::size(event_type_names) == names.size());
    CHECK_FALSE(event_type_from_string("discovered"));
    CHECK_FALSE(event_type_from_string("task.Discovered"));
    CHECK_FALSE(event_type_from_string(""));
}

TEST_CASE("observe: progress percent becomes a ratio clamped to 0..1, absent when not sent") {
    taskwatch::modelarts::task t;
    CHECK_FALSE(observe(t)); // no field of a task: nothing to observe
    t.status = running;
    CHECK_FALSE(observe(t)->progress); // not sent: unknown, not 0
    t.status.reset();
    t.progress = 10;
    REQUIRE(observe(t)); // no status: unknown, the rest is still observed
    CHECK_FALSE(observe(t)->status);
    t.status = running;
    t.progress = 42.5;
    CHECK(*observe(t)->progress == doctest::Approx(0.425));
    t.progress = 150;
    CHECK(observe(t)->progress == 1.0);
    t.progress = -5;
    CHECK(observe(t)->progress == 0.0);
    t.progress = 100;
    CHECK(observe(t)->progress == 1.0);
}

TEST_CASE("observe: a task given by rvalue is observed as the same task given by reference") {
    taskwatch::modelarts::task t;
    t.status = running;
    t.progress = 42;
    t.task_name = "a task name longer than fifteen characters";
    t.resource_id = "resource-id-of-twenty-chars";
    t.code = "ModelArts.4100";
    t.message = "a running message that needs the heap";
    t.error_code = "ModelArts.0001";
    t.error_msg = "an error message that needs the heap";
    t.config.emplace().algorithm_type = "accurate-and-long-enough";
    t.create_time = "2020-11-23 11:08:20";
    const auto copied = observe(t);
    REQUIRE(copied);
    CHECK(copied->task_name == "a task name longer than fifteen characters");
    CHECK(copied->algorithm_type == "accurate-and-long-enough");
    CHECK(observe(std::move(t)) == copied);
}

TEST_CASE("observe: the texts many tasks send alike are kept once, however many tasks send them") {
    taskwatch::modelarts::task a, b;
    a.status = b.status = running;
    a.message = b.message = "Running inference on unlabeled samples.";
    a.code = b.code = "ModelArts.4902";
    a.error_code = b.error_code = "ModelArts.4355";
    a.config.emplace().algorithm_type = "fast";
    b.config.emplace().algorithm_type = "fast";
    const auto x = observe(a), y = observe(b);
    REQUIRE((x && y));
    CHECK(x->message == "Running inference on unlabeled samples.");
    CHECK(&x->message.str() == &y->message.str()); // one text, not a copy per task
    CHECK(&x->code.str() == &y->code.str());
    CHECK(&x->error_code.str() == &y->error_code.str());
    CHECK(&x->algorithm_type.str() == &y->algorithm_type.str());
}

TEST_CASE("observe: create_time is read as UTC, absent when unparsable") {
    taskwatch::modelarts::task t;
    t.status = running;
    using namespace std::chrono;
    auto parse = [&](std::string s) {
        t.create_time = std::move(s);
        return observe(t)->create_time;
    };
    CHECK(parse("2020-11-23 11:08:20") ==
          taskwatch::task::time_point{sys_days{year{2020} / 11 / 23} + 11h + 8min + 20s});
    CHECK(parse("2024-02-29 23:59:59") ==
          taskwatch::task::time_point{sys_days{year{2024} / 2 / 29} + 23h + 59min + 59s});
    CHECK_FALSE(parse("2023-02-29 00:00:00")); // no such day
    CHECK_FALSE(parse("2020-13-01 00:00:00"));
    CHECK_FALSE(parse("2020-11-23 24:00:00"));
    CHECK_FALSE(parse("2020-11-23 11:08"));
    CHECK_FALSE(parse("2020-11-23 11:08:20Z"));
    CHECK_FALSE(parse("2020/11/23 11:08:20"));
    CHECK_FALSE(parse("2020-11-2x 11:08:20"));
    CHECK_FALSE(parse(""));
    t.create_time.reset();
    CHECK_FALSE(observe(t)->create_time);
}

TEST_CASE("observe: counts from result, falling back to the list item's") {
    taskwatch::modelarts::task t;
    t.status = succeeded;
    t.total_sample_count = 10;
    t.annotated_sample_count = 5;
    t.unconfirmed_sample_count = 1;
    CHECK(observe(t)->total_sample_count == 10); // list item: top level only

    t.result = taskwatch::modelarts::result{};
    t.result->total_sample_count = 49;
    t.result->annotated_sample_count = 30;
    auto o = observe(t);
    CHECK(o->total_sample_count == 49);
    CHECK(o->annotated_sample_count == 30);
    CHECK(o->unconfirmed_sample_count == 1); // absent in result: top level

    taskwatch::modelarts::task bare;
    bare.status = succeeded;
    CHECK_FALSE(observe(bare)->total_sample_count);
}

TEST_CASE("observe: names, codes and algorithm_type are carried over") {
    taskwatch::modelarts::task t;
    t.status = running;
    t.task_name = "label-cats";
    t.resource_id = "XGrRZuCV1qmMxnsmD5u";
    t.code = "ModelArts.4902";
    t.message = "exporting";
    t.error_code = "ModelArts.0001";
    t.error_msg = "oops";
    t.config = taskwatch::modelarts::smart_task_config{};
    t.config->algorithm_type = "fast";
    auto o = observe(t);
    REQUIRE(o);
    CHECK(o->status == running);
    CHECK(o->task_name == "label-cats");
    CHECK(o->resource_id == "XGrRZuCV1qmMxnsmD5u");
    CHECK(o->algorithm_type == "fast");
    CHECK(o->code == "ModelArts.4902");
    CHECK(o->message == "exporting");
    CHECK(o->error_code == "ModelArts.0001");
    CHECK(o->error_msg == "oops");
    t.config->algorithm_type.reset();
    CHECK(observe(t)->algorithm_type.empty());
}

// --- Fields the API leaves out or sends with a value from a later API version ----------------

namespace {

// The observation of a GET body, as the watcher makes it.
observation from_api(std::string_view body) {
    auto t = taskwatch::modelarts::parse_task(body);
    if (!t) FAIL("the body is refused: " << t.error().to_string());
    auto o = observe(*t);
    if (!o) FAIL("no observation of " << body);
    return *o;
}

// Readable whether the field is optional or not.
std::optional<std::int64_t> code_of(std::optional<task_status> s) {
    return s ? std::optional<std::int64_t>(taskwatch::modelarts::to_code(*s)) : std::nullopt;
}
double value_of(std::optional<double> d) {
    return d.value_or(-1.0);
}

} // namespace

TEST_CASE("diff: a poll without progress is no progress change: no event, last_change and the "
          "stall clock stay") {
    const auto prev = seen(running, 0.4);
    auto r = diff(prev, poll_ok{from_api(R"({"status": 1, "task_name": "job"})")}, steps({0.1}),
                  at(1min));
    CHECK(r.events.empty());
    CHECK(r.next.last_change == t0);
    CHECK(r.next.progress_since == t0);
    CHECK(r.next.up);
    CHECK(r.next.last_poll == at(1min));

    // When progress comes back it is compared with the last one the API sent.
    auto r2 =
        diff(r.next, poll_ok{from_api(R"({"status": 1, "progress": 52.0, "task_name": "job"})")},
             steps({0.25}), at(2min));
    REQUIRE(r2.events.size() == 1);
    CHECK(r2.events[0].type == event_type::progress);
    CHECK(value_of(r2.events[0].previous->progress) == doctest::Approx(0.4));
    CHECK(value_of(r2.events[0].current->progress) == doctest::Approx(0.52));
    CHECK(r2.next.last_change == at(2min));
}

TEST_CASE("diff: a status from a later API version is unknown with its code - the task stays up "
          "and its other fields update") {
    const auto prev = seen(running, 0.4);
    auto r = diff(prev, poll_ok{from_api(R"({"status": 9, "progress": 50.0, "task_name": "job",
                                       "message": "a new stage", "future_field": [1]})")},
                  steps({}), at(1min));
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].type == event_type::status_changed);
    CHECK(code_of(r.events[0].previous->status) == 1);
    CHECK(code_of(r.events[0].current->status) == 9);
    CHECK(r.next.up);
    CHECK_FALSE(r.next.last_error);
    REQUIRE(r.next.last);
    CHECK(r.next.last->message == "a new stage");
    CHECK(value_of(r.next.last->progress) == doctest::Approx(0.5));
    CHECK(r.next.last_change == at(1min));
    CHECK_FALSE(r.next.finished_at);
    CHECK_FALSE(r.next.stalled);

    // From the unknown status to a known one is a real change, and finishes the task.
    auto r2 =
        diff(r.next, poll_ok{from_api(R"({"status": 3, "progress": 100.0, "task_name": "job"})")},
             steps({}), at(2min));
    REQUIRE(r2.events.size() == 1);
    CHECK(r2.events[0].type == event_type::status_changed);
    CHECK(code_of(r2.events[0].previous->status) == 9);
    CHECK(code_of(r2.events[0].current->status) == 3);
    CHECK(r2.next.finished_at == at(2min));
}

TEST_CASE("diff: a poll without status changes no status - the next status is compared with the "
          "last one sent") {
    const auto prev = seen(running, 0.4);
    auto r = diff(prev, poll_ok{from_api(R"({"progress": 60.0, "task_name": "job"})")}, steps({}),
                  at(1min));
    CHECK(r.events.empty());
    CHECK(r.next.up);
    REQUIRE(r.next.last);
    CHECK(value_of(r.next.last->progress) == doctest::Approx(0.6));
    CHECK(r.next.last_change == at(1min)); // progress moved
    CHECK_FALSE(r.next.finished_at);

    auto r2 =
        diff(r.next, poll_ok{from_api(R"({"status": 2, "progress": 60.0})")}, steps({}), at(2min));
    REQUIRE(r2.events.size() == 1);
    CHECK(r2.events[0].type == event_type::status_changed);
    CHECK(code_of(r2.events[0].previous->status) == 1);
    CHECK(code_of(r2.events[0].current->status) == 2);
    CHECK(r2.next.finished_at == at(2min));
}

TEST_CASE("observe: a body with no field of a task is not a task") {
    taskwatch::modelarts::task t;
    CHECK_FALSE(observe(t));
    t.error_code = "ModelArts.0001";
    t.error_msg = "an error answered with 200";
    CHECK_FALSE(observe(t));
    t.task_id = "t1";
    CHECK(observe(t));
}
