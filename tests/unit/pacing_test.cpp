#include "taskwatch/poll/pacing.hpp"

#include <doctest/doctest.h>

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
