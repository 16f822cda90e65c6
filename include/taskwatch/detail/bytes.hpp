// Byte-wise views of text, for checks on character classes, and ASCII case folding.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace taskwatch::detail {

/// The bytes of `s` as unsigned values: range-for over them compares cleanly with
/// 0x20 and 0x7f, without sign-conversion warnings or sign surprises on UTF-8.
inline std::span<const unsigned char> bytes_of(std::string_view s) noexcept {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

/// `ch` with A-Z made a-z; every other byte as it is (no locale).
constexpr char ascii_lower(char ch) noexcept {
    return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + ('a' - 'A')) : ch;
}

/// `s` with A-Z made a-z (header names, schemes, hex).
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& ch : out)
        ch = ascii_lower(ch);
    return out;
}

} // namespace taskwatch::detail
