// The comparisons, concatenations and stream output of a text type that reads as a
// std::string_view through view(): written once for inline_string and interned_string, so
// that code using a task key's ids as strings compiles unchanged.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace taskwatch::detail {

/// Derive `Text` from text_operators<Text>: the hidden friends below are then found for it.
/// `Text` keeps its own `==` and `<=>` with itself.
template <class Text> struct text_operators {
    friend bool operator==(const Text& a, std::string_view b) noexcept { return a.view() == b; }
    friend std::strong_ordering operator<=>(const Text& a, std::string_view b) noexcept {
        return a.view() <=> b;
    }
    friend bool operator==(const Text& a, const std::string& b) noexcept { return a.view() == b; }
    friend bool operator==(const Text& a, const char* b) noexcept { return a.view() == b; }
    friend std::string operator+(const Text& a, std::string_view b) {
        std::string s;
        s.reserve(a.view().size() + b.size());
        return s.append(a.view()).append(b);
    }
    friend std::string operator+(std::string a, const Text& b) {
        return std::move(a.append(b.view()));
    }
    friend std::string operator+(const char* a, const Text& b) {
        return std::string(a).append(b.view());
    }
    friend std::ostream& operator<<(std::ostream& os, const Text& s) { return os << s.view(); }
};

/// std::hash of such a type: its text's.
template <class Text> struct text_hash {
    std::size_t operator()(const Text& s) const noexcept {
        return std::hash<std::string_view>{}(s.view());
    }
};

} // namespace taskwatch::detail
