// A value or an error, for steady-state failures that are expected (STYLE.md: errors as values).
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace taskwatch {

template <class E> struct unexpected {
    // A constructor, not an aggregate: clang 14 has no parenthesized aggregate initialization.
    unexpected(E e)
        : error(std::move(e)) {}
    E error;
};
template <class E> unexpected(E) -> unexpected<E>;

template <class T, class E> class expected {
public:
    expected(T value)
        : v_(std::in_place_index<0>, std::move(value)) {}
    template <class G>
    expected(unexpected<G> e)
        : v_(std::in_place_index<1>, E(std::move(e.error))) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        assert(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    E& error() & {
        assert(!has_value());
        return std::get<1>(v_);
    }
    const E& error() const& {
        assert(!has_value());
        return std::get<1>(v_);
    }
    E&& error() && {
        assert(!has_value());
        return std::get<1>(std::move(v_));
    }

private:
    std::variant<T, E> v_;
};

/// expected<void, E>: success carries nothing.
struct ok_t {};
inline constexpr ok_t ok{};

} // namespace taskwatch
