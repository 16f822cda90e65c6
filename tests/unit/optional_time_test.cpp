// detail::optional_time, the 8-byte optional time point of a watched task's times: empty by
// default, the same answers as std::optional<time_point> for tests, values and comparisons,
// and conversions both ways that keep emptiness.
#include "taskwatch/detail/optional_time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <optional>

using taskwatch::detail::optional_time;
using namespace std::chrono_literals;

namespace {
const optional_time::time_point t0{std::chrono::sys_days{std::chrono::year{2025} / 11 / 30}};
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
    CHECK(optional_time(optional_time::time_point{}).has_value());
    CHECK(optional_time(optional_time::time_point{} - 24h * 365 * 200).has_value());
}

TEST_CASE("an optional time converts to and from std::optional keeping emptiness") {
    std::optional<optional_time::time_point> none;
    CHECK_FALSE(optional_time(none));
    std::optional<optional_time::time_point> some = t0;
    CHECK(*optional_time(some) == t0);
    const std::optional<optional_time::time_point> back = optional_time(t0);
    CHECK(back == t0);
    const std::optional<optional_time::time_point> back_empty = optional_time();
    CHECK_FALSE(back_empty);
}

TEST_CASE("optional times compare as std::optional does: empty equals empty only") {
    CHECK(optional_time() == optional_time());
    CHECK(optional_time(t0) == optional_time(t0));
    CHECK_FALSE(optional_time(t0) == optional_time(t0 + 1ms));
    CHECK_FALSE(optional_time(t0) == optional_time());
    CHECK(optional_time(t0) == t0);
    CHECK_FALSE(optional_time() == t0);
    CHECK(optional_time() == std::optional<optional_time::time_point>());
    CHECK(std::optional<optional_time::time_point>() == optional_time());
    CHECK_FALSE(std::optional<optional_time::time_point>(t0) == optional_time());
    CHECK(optional_time(t0).value_or(t0 + 1s) == t0);
    CHECK(optional_time().value_or(t0 + 1s) == t0 + 1s);
}
