// UTF-8 validity (RFC 3629) of text that goes into metric labels, JSON and logs.
#pragma once

#include "taskwatch/detail/bytes.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

namespace taskwatch::detail {

/// The length (1 to 4) of the valid UTF-8 sequence starting at offset `i` of `s`, or 0 when
/// the byte there starts none. Strict: overlong forms, encoded surrogates (U+D800..U+DFFF),
/// code points above U+10FFFF and truncated sequences are invalid.
inline std::size_t utf8_sequence_at(std::string_view s, std::size_t i) noexcept {
    const auto b = bytes_of(s);
    const std::size_t n = b.size();
    const unsigned char c = b[i];
    if (c < 0x80) return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf; // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0; // overlong
        if (c == 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90; // overlong
        if (c == 0xf4) hi = 0x8f; // above U+10FFFF
    } else {
        return 0; // continuation byte, 0xc0, 0xc1 or 0xf5..0xff
    }
    if (n - i < len) return 0;
    if (b[i + 1] < lo || b[i + 1] > hi) return 0;
    for (std::size_t k = 2; k < len; ++k)
        if (b[i + k] < 0x80 || b[i + k] > 0xbf) return 0;
    return len;
}

/// The offset of the first byte of `s` that does not start a valid UTF-8 sequence, or
/// nullopt when `s` is valid UTF-8 (by the rules of utf8_sequence_at).
inline std::optional<std::size_t> first_invalid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t len = utf8_sequence_at(s, i);
        if (len == 0) return i;
        i += len;
    }
    return std::nullopt;
}

} // namespace taskwatch::detail
