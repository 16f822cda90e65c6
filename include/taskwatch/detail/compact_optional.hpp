// An optional that spends no byte on its flag: one value the data never holds marks it empty.
// std::optional of an 8-byte value is 16 bytes, this is 8, for structs kept by the ten
// thousand (a watched task's times, status, progress and counts).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

namespace taskwatch::detail {

/// The value of T that marks a compact_optional<T> empty: a specialisation gives `value()`
/// and `is(v)` (a NaN is not equal to itself).
template <class T> struct empty_value;

/// std::optional's face (test, *, ->, value_or, = value, = nullopt, reset, ==) over one T,
/// empty_value<T> meaning empty. Converts to and from std::optional<T>, keeping emptiness.
template <class T> class compact_optional {
public:
    using value_type = T;

    constexpr compact_optional() noexcept = default;
    constexpr compact_optional(std::nullopt_t) noexcept {}
    constexpr compact_optional(T v) noexcept
        : v_(v) {}
    constexpr compact_optional(const std::optional<T>& v) noexcept
        : v_(v ? *v : empty_value<T>::value()) {}
    constexpr operator std::optional<T>() const noexcept {
        if (!has_value()) return std::nullopt;
        return v_;
    }

    constexpr bool has_value() const noexcept { return !empty_value<T>::is(v_); }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    constexpr const T& operator*() const noexcept { return v_; }
    constexpr const T* operator->() const noexcept { return &v_; }
    constexpr T value_or(T other) const noexcept { return has_value() ? v_ : other; }
    constexpr void reset() noexcept { v_ = empty_value<T>::value(); }

    constexpr bool operator==(const compact_optional& o) const noexcept {
        return has_value() == o.has_value() && (!has_value() || v_ == o.v_);
    }
    constexpr bool operator==(const T& v) const noexcept { return has_value() && v_ == v; }
    constexpr bool operator==(const std::optional<T>& v) const noexcept {
        return *this == compact_optional(v);
    }
    constexpr bool operator==(std::nullopt_t) const noexcept { return !has_value(); }

private:
    T v_ = empty_value<T>::value();
};

/// No time the daemon keeps is min(): a clock reading, a whole second parsed from the API
/// (min() is not one) or a millisecond read back from the database (nor is it one).
template <> struct empty_value<std::chrono::system_clock::time_point> {
    using time_point = std::chrono::system_clock::time_point;
    static constexpr time_point value() noexcept { return time_point::min(); }
    static constexpr bool is(time_point t) noexcept { return t == time_point::min(); }
};
using optional_time = compact_optional<std::chrono::system_clock::time_point>;

/// For ratios that are never NaN (a NaN read from the API is made 0 before it is kept).
template <> struct empty_value<double> {
    static constexpr double value() noexcept { return std::numeric_limits<double>::quiet_NaN(); }
    static constexpr bool is(double v) noexcept { return v != v; }
};

/// For counts and codes: the least int64 is no count or code an API sends.
template <> struct empty_value<std::int64_t> {
    static constexpr std::int64_t value() noexcept {
        return std::numeric_limits<std::int64_t>::min();
    }
    static constexpr bool is(std::int64_t v) noexcept { return v == value(); }
};

/// For an enum of codes (a task status): the least value of its type, as for counts.
template <class T>
requires std::is_enum_v<T>
struct empty_value<T> {
    using code = std::underlying_type_t<T>;
    static constexpr T value() noexcept { return static_cast<T>(std::numeric_limits<code>::min()); }
    static constexpr bool is(T v) noexcept { return v == value(); }
};

} // namespace taskwatch::detail
