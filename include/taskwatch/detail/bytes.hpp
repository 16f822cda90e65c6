// Byte-wise views of text, for checks on character classes.
#pragma once

#include <span>
#include <string_view>

namespace taskwatch::detail {

/// The bytes of `s` as unsigned values: range-for over them compares cleanly with
/// 0x20 and 0x7f, without sign-conversion warnings or sign surprises on UTF-8.
inline std::span<const unsigned char> bytes_of(std::string_view s) noexcept {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

} // namespace taskwatch::detail
