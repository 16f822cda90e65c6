// An optional time point that spends no byte on its flag: std::optional<time_point> is 16
// bytes, this is 8, for structs kept by the ten thousand (a watched task's times).
#pragma once

#include <chrono>
#include <optional>

namespace taskwatch::detail {

/// std::optional's face (test, *, ->, value_or, = value, = nullopt, reset, ==) over a
/// system_clock time point, with time_point::min() meaning empty. No time the daemon keeps
/// can be min(): a clock reading, a whole second parsed from the API (min() is not one) or
/// a millisecond read back from the database (nor is it one).
class optional_time {
public:
    using time_point = std::chrono::system_clock::time_point;

    constexpr optional_time() noexcept = default;
    constexpr optional_time(std::nullopt_t) noexcept {}
    constexpr optional_time(time_point t) noexcept
        : t_(t) {}
    constexpr optional_time(const std::optional<time_point>& t) noexcept
        : t_(t.value_or(empty)) {}
    constexpr operator std::optional<time_point>() const noexcept {
        if (!has_value()) return std::nullopt;
        return t_;
    }

    constexpr bool has_value() const noexcept { return t_ != empty; }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    constexpr const time_point& operator*() const noexcept { return t_; }
    constexpr const time_point* operator->() const noexcept { return &t_; }
    constexpr time_point value_or(time_point other) const noexcept {
        return has_value() ? t_ : other;
    }
    constexpr void reset() noexcept { t_ = empty; }

    constexpr bool operator==(const optional_time&) const noexcept = default;
    constexpr bool operator==(time_point t) const noexcept { return has_value() && t_ == t; }
    constexpr bool operator==(const std::optional<time_point>& t) const noexcept {
        return *this == optional_time(t);
    }
    constexpr bool operator==(std::nullopt_t) const noexcept { return !has_value(); }

private:
    static constexpr time_point empty = time_point::min();
    time_point t_ = empty;
};

} // namespace taskwatch::detail
