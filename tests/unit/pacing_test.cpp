#include "taskwatch/poll/pacing.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <utility>
#include <vector>

using namespace taskwatch::poll;
using namespace std::chrono_literals;

namespace {
const clock::time_point t0 = clock::time_point{} + 1000h;
}

TEST_CASE("the token bucket spends its burst at once, then spaces requests at the rate") {
    token_bucket b(10, 3, t0);
    CHECK(b.reserve(t0) == t0);
    CHECK(b.reserve(t0) == t0);
    CHECK(b.reserve(t0) == t0);
    CHECK(b.reserve(t0) == t0 + 100ms);
    CHECK(b.reserve(t0) == t0 + 200ms);
    // 1,000 reservations at one instant: the last goes out (1000-3)/10 s later.
    clock::time_point last{};
    for (int i = 0; i < 995; ++i)
        last = b.reserve(t0);
    CHECK(last == t0 + 99'700ms);
}

TEST_CASE("the token bucket refills up to its burst only") {
    token_bucket b(2, 2, t0);
    b.reserve(t0);
    b.reserve(t0);
    auto later = t0 + 10s; // would earn 20 tokens, keeps 2
    CHECK(b.reserve(later) == later);
    CHECK(b.reserve(later) == later);
    CHECK(b.reserve(later) == later + 500ms);
}

TEST_CASE("slowing the bucket spaces the queue wider and shrinks the saved-up burst") {
    token_bucket b(10, 1, t0);
    b.reserve(t0);
    b.set_rate(1, t0);
    CHECK(b.reserve(t0) == t0 + 1s);
    CHECK(b.rate() == 1);
    token_bucket full(50, 50, t0); // 50 tokens saved up
    full.set_rate(2, t0);
    CHECK(full.reserve(t0) == t0);
    CHECK(full.reserve(t0) == t0);
    CHECK(full.reserve(t0) == t0 + 500ms); // not 48 more at once
}

TEST_CASE("429 with Retry-After pauses the endpoint exactly that long and halves its rate") {
    endpoint_throttle th;
    CHECK(th.rate_factor(t0) == 1.0);
    th.on_throttled(t0, 3000ms);
    CHECK(th.paused_until() == t0 + 3s);
    CHECK(th.rate_factor(t0 + 1s) == 0.5);
    th.on_throttled(t0 + 1s, 1000ms); // a shorter Retry-After never shortens the pause
    CHECK(th.paused_until() == t0 + 3s);
    th.on_throttled(t0 + 2s, 5000ms); // a longer one lengthens it
    CHECK(th.paused_until() == t0 + 7s);
    // Answers that arrive during the pause were sent before it: one throttle.
    CHECK(th.rate_factor(t0 + 2s) == 0.5);
    CHECK(th.consecutive_throttles() == 1);
    th.on_throttled(t0 + 7s, 1000ms); // after the pause: a new throttle
    CHECK(th.consecutive_throttles() == 2);
    CHECK(th.rate_factor(t0 + 7s) == 0.25);
}

TEST_CASE("thirty parallel 429s without Retry-After back off once, not thirty times") {
    endpoint_throttle th;
    for (int i = 0; i < 30; ++i)
        th.on_throttled(t0 + std::chrono::milliseconds(i), std::nullopt);
    CHECK(th.consecutive_throttles() == 1);
    CHECK(th.paused_until() <= t0 + 1s);
    CHECK(th.rate_factor(t0) == 0.5);
}

TEST_CASE("throttling without Retry-After backs off exponentially with jitter, capped") {
    endpoint_throttle::settings s;
    s.first_backoff = 1000ms;
    s.max_backoff = 8000ms;
    endpoint_throttle th(s, 7);
    auto now = t0;
    for (unsigned i = 0; i < 6; ++i) {
        th.on_throttled(now, std::nullopt);
        auto pause = th.paused_until() - now;
        auto step = std::min<std::int64_t>(8000, 1000LL << i);
        CHECK(pause >= std::chrono::milliseconds(step / 2));
        CHECK(pause <= std::chrono::milliseconds(step));
        now = th.paused_until();
    }
}

TEST_CASE("the rate recovers gradually after the pause, back to the full rate") {
    endpoint_throttle::settings s;
    s.recovery_step = 0;
    s.recovery_every = 10s;
    endpoint_throttle th(s);
    auto now = t0;
    for (int i = 0; i < 3; ++i) { // 1/2, 1/4, 1/8, each after the previous pause
        th.on_throttled(now, 1000ms);
        now = th.paused_until();
    }
    const auto start = th.paused_until() - 1s; // the last pause began here
    CHECK(th.rate_factor(start + 1s) == 0.125);
    CHECK(th.rate_factor(start + 10s) == 0.125);
    CHECK(th.rate_factor(start + 11s) == 0.25);
    CHECK(th.rate_factor(start + 21s) == 0.5);
    CHECK(th.rate_factor(start + 31s) == 1.0);
    CHECK(th.rate_factor(start + 1h) == 1.0);
    th.on_success(start + 2s);
    CHECK(th.consecutive_throttles() == 0);
}

TEST_CASE("the rate never falls below its floor") {
    endpoint_throttle th;
    auto now = t0;
    for (int i = 0; i < 20; ++i) {
        th.on_throttled(now, 10ms);
        now = th.paused_until();
    }
    CHECK(th.rate_factor(now) == doctest::Approx(1.0 / 64));
}

TEST_CASE("failure back-off doubles per failure within +-25% and is capped") {
    std::mt19937_64 rng(3);
    for (unsigned f = 1; f <= 12; ++f) {
        auto raw = std::min<std::int64_t>(60'000, 1000LL << (f - 1));
        auto d = failure_backoff(f, 1000ms, 60'000ms, rng);
        CHECK(d.count() >= raw * 3 / 4);
        CHECK(d.count() <= raw * 5 / 4);
    }
}

TEST_CASE("jittered intervals stay within +-jitter and spread out") {
    std::mt19937_64 rng(11);
    std::int64_t lo = 1 << 30, hi = 0;
    for (int i = 0; i < 1000; ++i) {
        auto d = jittered(15'000ms, 0.1, rng).count();
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    CHECK(lo >= 13'500);
    CHECK(hi <= 16'500);
    CHECK(hi - lo > 2'000); // actually spread, not constant
    CHECK(jittered(15'000ms, 0, rng) == 15'000ms);
}

TEST_CASE(
    "unproven credentials allow one request in flight, the probe - a success opens the gate") {
    credential_gate g;
    CHECK_FALSE(g.proven());
    CHECK(g.next_send(t0) == t0);
    auto probe = g.try_send(t0);
    REQUIRE(probe);
    CHECK(probe->probe);
    // Every task is due at start-up: none of the others may go while the probe is out.
    for (int i = 0; i < 16; ++i)
        CHECK_FALSE(g.try_send(t0 + std::chrono::milliseconds(i)));
    CHECK(g.next_send(t0) == clock::time_point::max());
    CHECK_FALSE(g.on_success(*probe)); // the first proof ends no spell of rejections
    CHECK(g.proven());
    for (int i = 0; i < 16; ++i) {
        auto t = g.try_send(t0);
        REQUIRE(t);
        CHECK_FALSE(t->probe);
    }
    CHECK(g.next_send(t0) == t0);
}

TEST_CASE("a probe without a verdict frees its place without proving anything") {
    credential_gate g;
    auto probe = g.try_send(t0);
    REQUIRE(probe);
    g.on_no_verdict(*probe); // e.g. a timeout
    CHECK_FALSE(g.proven());
    auto next = g.try_send(t0 + 1s);
    REQUIRE(next);
    CHECK(next->probe);
    CHECK_FALSE(g.try_send(t0 + 1s));
}

TEST_CASE("a 401 stops every request for at least 30 s, then lets exactly one probe go") {
    credential_gate g;
    auto probe = g.try_send(t0);
    REQUIRE(probe);
    CHECK(g.on_rejected(*probe, t0 + 200ms));
    CHECK_FALSE(g.proven());
    CHECK(g.paused_until() == t0 + 200ms + 30s);
    CHECK(g.next_send(t0 + 1s) == t0 + 200ms + 30s);
    CHECK_FALSE(g.try_send(t0 + 200ms + 29'999ms));
    auto second = g.try_send(t0 + 200ms + 30s);
    REQUIRE(second);
    CHECK(second->probe);
    CHECK_FALSE(g.try_send(t0 + 200ms + 30s));
    CHECK(g.failures_within_window(t0 + 200ms + 30s) == 1);
}

TEST_CASE("answers to requests in flight when the first 401 came are not new failures") {
    credential_gate g;
    g.on_success(*g.try_send(t0)); // proven: 16 connections send at once
    std::vector<credential_gate::ticket> out;
    for (int i = 0; i < 16; ++i)
        out.push_back(*g.try_send(t0 + 1s));
    // The key becomes wrong (rotated): every one of them comes back 401.
    CHECK(g.on_rejected(out[0], t0 + 1100ms));
    for (std::size_t i = 1; i < out.size(); ++i)
        CHECK_FALSE(g.on_rejected(out[i], t0 + 1100ms + std::chrono::milliseconds(i)));
    CHECK(g.paused_until() == t0 + 1100ms + 30s);
    CHECK(g.failures_within_window(t0 + 2s) == 1);
    // Nor is a late success of an old request a proof for the key as it is now.
    CHECK_FALSE(g.on_success(out[0]));
    CHECK_FALSE(g.proven());
    CHECK_FALSE(g.try_send(t0 + 20s));
}

namespace {

// A wrong key for `span` of simulated time: many tasks ask every 100 ms, each allowed request
// is answered 401 after `latency`. Returns the times of the rejected requests.
std::vector<clock::time_point> simulate_wrong_key(credential_gate& g, clock::time_point from,
                                                  clock::duration span,
                                                  milliseconds latency = 150ms) {
    std::vector<clock::time_point> failures;
    std::optional<std::pair<credential_gate::ticket, clock::time_point>> in_flight;
    for (auto now = from; now < from + span; now += 100ms) {
        if (in_flight && in_flight->second <= now) {
            if (g.on_rejected(in_flight->first, in_flight->second))
                failures.push_back(in_flight->second);
            in_flight.reset();
        }
        for (int task = 0; task < 50; ++task) {
            if (auto t = g.try_send(now)) {
                REQUIRE_FALSE(in_flight); // one request in flight at most
                in_flight.emplace(*t, now + latency);
            }
        }
    }
    return failures;
}

} // namespace

TEST_CASE("a wrong key for an hour: never more than 3 rejections in any 5 minutes, pauses grow") {
    credential_gate g;
    const auto failures = simulate_wrong_key(g, t0, 1h);
    REQUIRE(failures.size() >= 2);
    CHECK(failures.size() <= 12); // 3 in the first 5 minutes, then one per 10 minutes at most
    CHECK(failures.size() >= 8);  // and it keeps probing: the daemon recovers by itself
    CHECK(failures[1] - failures[0] >= 30s);
    for (std::size_t i = 2; i < failures.size(); ++i) // growing (within the 100 ms steps)
        CHECK(failures[i] - failures[i - 1] + 200ms >= failures[i - 1] - failures[i - 2]);
    for (std::size_t i = 3; i < failures.size(); ++i)
        CHECK_MESSAGE(failures[i] - failures[i - 3] >= 5min, "failure " << i);
    for (std::size_t i = 1; i < failures.size(); ++i)
        CHECK(failures[i] - failures[i - 1] <= 10min + 1s);
}

TEST_CASE("credentials that work again open the gate - a later 401 is bounded by the same window") {
    credential_gate g;
    auto failures = simulate_wrong_key(g, t0, 100s); // rejections at about 0, 30 s, 90 s
    REQUIRE(failures.size() == 3);
    const auto probe_at = g.paused_until();
    CHECK(probe_at >= failures[0] + 5min);
    auto probe = g.try_send(probe_at);
    REQUIRE(probe);
    CHECK(g.on_success(*probe)); // the operator fixed the clock: "credentials work again"
    CHECK(g.proven());
    // Broken again at once: the window still holds the three rejections: one more after
    // failures[1] + 5 min at the earliest.
    auto again = g.try_send(probe_at + 1s);
    REQUIRE(again);
    CHECK(g.on_rejected(*again, probe_at + 1s));
    CHECK(g.paused_until() >= failures[1] + 5min);
    CHECK(g.paused_until() >= probe_at + 1s + 30s);
}

TEST_CASE("new credentials are a new key: a probe may go at once, still one at a time") {
    credential_gate g;
    auto failures = simulate_wrong_key(g, t0, 100s);
    REQUIRE(failures.size() == 3);
    const auto now = t0 + 101s;
    REQUIRE_FALSE(g.try_send(now));
    g.reset(now);
    auto probe = g.try_send(now);
    REQUIRE(probe);
    CHECK(probe->probe);
    CHECK_FALSE(g.try_send(now));
    CHECK(g.on_rejected(*probe, now + 100ms));
    CHECK(g.paused_until() == now + 100ms + 30s);
}

TEST_CASE("a reload while the probe is out waits for its answer, which then counts for nothing") {
    credential_gate g;
    auto old_probe = g.try_send(t0);
    REQUIRE(old_probe);
    g.reset(t0 + 10ms);
    CHECK_FALSE(g.try_send(t0 + 10ms));                 // still one request in flight at most
    CHECK_FALSE(g.on_rejected(*old_probe, t0 + 100ms)); // signed with the old key
    CHECK(g.failures_within_window(t0 + 100ms) == 0);
    auto probe = g.try_send(t0 + 100ms);
    REQUIRE(probe);
    CHECK(probe->probe);
}

TEST_CASE("the first success after rejections says so, also when new credentials came between") {
    credential_gate g;
    auto probe = g.try_send(t0);
    g.on_rejected(*probe, t0);
    g.reset(t0 + 1s);
    probe = g.try_send(t0 + 1s);
    REQUIRE(probe);
    CHECK(g.on_success(*probe));
    CHECK_FALSE(g.on_success(*g.try_send(t0 + 2s)));
}
