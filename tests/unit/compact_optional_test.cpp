// detail::compact_optional, the 8-byte optional of a watched task's times, status, progress and
// counts: empty by default, the same answers as std::optional for tests, values and
// comparisons, and conversions both ways that keep emptiness.
#include "taskwatch/detail/compact_optional.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>

using taskwatch::detail::compact_optional;
using taskwatch::detail::optional_time;
using time_point = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

namespace {
const time_point t0{std::chrono::sys_days{std::chrono::year{2025} / 11 / 30}};
} // namespace

TEST_CASE("an optional time is 8 bytes, empty until set, and empty again after reset") {
    static_assert(sizeof(optional_time) == 8);
    optional_time t;
    CHECK_FALSE(t);
    CHECK(t == std::nullopt);
    t = t0;
    REQUIRE(t.has_value());
    CHECK(*t == t0);
    CHECK(t->time_since_epoch() == t0.time_since_epoch());
    t.reset();
    CHECK_FALSE(t.has_value());
    t = t0 + 1s;
    t = std::nullopt;
    CHECK_FALSE(t);
}

TEST_CASE("the epoch and times before it are values, not empty") {
    CHECK(optional_time(time_point{}).has_value());
    CHECK(optional_time(time_point{} - 24h * 365 * 200).has_value());
}

TEST_CASE("an optional time converts to and from std::optional keeping emptiness") {
    std::optional<time_point> none;
    CHECK_FALSE(optional_time(none));
    std::optional<time_point> some = t0;
    CHECK(*optional_time(some) == t0);
    const std::optional<time_point> back = optional_time(t0);
    CHECK(back == t0);
    const std::optional<time_point> back_empty = optional_time();
    CHECK_FALSE(back_empty);
}

TEST_CASE("optional times compare as std::optional does: empty equals empty only") {
    CHECK(optional_time() == optional_time());
    CHECK(optional_time(t0) == optional_time(t0));
    CHECK_FALSE(optional_time(t0) == optional_time(t0 + 1ms));
    CHECK_FALSE(optional_time(t0) == optional_time());
    CHECK(optional_time(t0) == t0);
    CHECK_FALSE(optional_time() == t0);
    CHECK(optional_time() == std::optional<time_point>());
    CHECK(std::optional<time_point>() == optional_time());
    CHECK_FALSE(std::optional<time_point>(t0) == optional_time());
    CHECK(optional_time(t0).value_or(t0 + 1s) == t0);
    CHECK(optional_time().value_or(t0 + 1s) == t0 + 1s);
}

TEST_CASE("a compact optional double is empty as NaN, and 0 is a value") {
    static_assert(sizeof(compact_optional<double>) == 8);
    compact_optional<double> p;
    CHECK_FALSE(p);
    CHECK(p == compact_optional<double>()); // empty equals empty, though NaN != NaN
    p = 0.0;
    REQUIRE(p.has_value());
    CHECK(*p == 0.0);
    CHECK(p == 0.0);
    CHECK_FALSE(p == compact_optional<double>());
    const std::optional<double> back = p;
    CHECK(back == 0.0);
}

TEST_CASE("a compact optional count or code keeps 0 and negative values") {
    enum class code : std::int64_t { queuing = -1, initializing = 0 };
    static_assert(sizeof(compact_optional<std::int64_t>) == 8);
    static_assert(sizeof(compact_optional<code>) == 8);
    compact_optional<std::int64_t> n = std::int64_t{0};
    CHECK(n.has_value());
    n = std::int64_t{-5};
    CHECK(*n == -5);
    compact_optional<code> c = code::queuing;
    CHECK(c == code::queuing);
    c.reset();
    CHECK_FALSE(c);
    CHECK(c == std::optional<code>());
}
