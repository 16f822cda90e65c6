// The log's limiter of repeated lines on an injected clock: a burst, then one line per refill,
// the lines left out counted and reported once, keys independent, memory bounded.
#include "taskwatch/log/log.hpp"

#include <doctest/doctest.h>

using namespace taskwatch::log;
using namespace std::chrono_literals;

namespace {
const rate_limiter::time_point t0 = rate_limiter::time_point{} + 1000h;

rate_limiter::settings three_per_10s() {
    rate_limiter::settings s;
    s.burst = 3;
    s.refill = 10s;
    return s;
}
} // namespace

TEST_CASE("a repeated line is written `burst` times, then once per refill with the count of the "
          "lines left out in between") {
    rate_limiter r(three_per_10s());
    for (int i = 0; i < 3; ++i) {
        auto v = r.admit("poll failed", t0);
        CHECK(v.write);
        CHECK(v.suppressed == 0);
    }
    // 1,000 more in the same second: none written.
    for (int i = 0; i < 1000; ++i)
        CHECK_FALSE(r.admit("poll failed", t0 + 1s).write);
    CHECK_FALSE(r.admit("poll failed", t0 + 9s).write);
    // A refill later: one line, carrying the 1,001 left out.
    auto v = r.admit("poll failed", t0 + 10s);
    CHECK(v.write);
    CHECK(v.suppressed == 1001);
    CHECK_FALSE(r.admit("poll failed", t0 + 11s).write);
    v = r.admit("poll failed", t0 + 20s);
    CHECK(v.write);
    CHECK(v.suppressed == 1);
}

TEST_CASE("over any long stretch a flooding key writes at most burst + elapsed/refill lines") {
    rate_limiter r(three_per_10s());
    int written = 0;
    // 100 lines a second for 10 minutes.
    for (int ms = 0; ms < 600'000; ms += 10)
        written += r.admit("listing tasks failed", t0 + std::chrono::milliseconds(ms)).write;
    CHECK(written <= 3 + 60);
    CHECK(written >= 60);
}

TEST_CASE("keys are limited independently and a quiet key gets its burst back") {
    rate_limiter r(three_per_10s());
    for (int i = 0; i < 10; ++i)
        r.admit("a", t0);
    CHECK(r.admit("b", t0).write);
    CHECK_FALSE(r.admit("a", t0).write);
    for (int i = 0; i < 3; ++i)
        CHECK(r.admit("a", t0 + 1h).write);
    CHECK_FALSE(r.admit("a", t0 + 1h).write);
}

TEST_CASE("take_suppressed reports each held-back count once") {
    rate_limiter r(three_per_10s());
    for (int i = 0; i < 5; ++i)
        r.admit("a", t0);
    r.admit("b", t0);
    auto held = r.take_suppressed();
    REQUIRE(held.size() == 1);
    CHECK(held[0].first == "a");
    CHECK(held[0].second == 2);
    CHECK(r.take_suppressed().empty());
    // Reported already: the next line written does not count them again.
    CHECK(r.admit("a", t0 + 10s).suppressed == 0);
}

TEST_CASE("beyond max_keys a new key is not tracked and never limited") {
    auto s = three_per_10s();
    s.max_keys = 2;
    rate_limiter r(s);
    r.admit("a", t0);
    r.admit("b", t0);
    for (int i = 0; i < 10; ++i)
        CHECK(r.admit("c", t0).write);
}

TEST_CASE("each level has one name, which parses back to it - nothing else parses") {
    for (const auto& [l, bound_name] : level_names) {
        const std::string_view name = bound_name; // clang 14: no structured binding in CAPTURE
        CAPTURE(name);
        CHECK(to_string(l) == name);
        CHECK(parse_level(name) == l);
    }
    CHECK(parse_level("warn") == level::warn);
    CHECK_FALSE(parse_level("warning").has_value());
    CHECK_FALSE(parse_level("INFO").has_value());
    CHECK_FALSE(parse_level("").has_value());
}
