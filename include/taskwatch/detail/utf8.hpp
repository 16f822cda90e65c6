// UTF-8 validity (RFC 3629) of text that goes into metric labels, JSON and logs.
#pragma once

#include "taskwatch/detail/bytes.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

namespace taskwatch::detail {

/// The offset of the first byte of `s` that does not start a valid UTF-8 sequence, or
/// nullopt when `s` is valid UTF-8. Strict: overlong forms, encoded surrogates
/// (U+D800..U+DFFF), code points above U+10FFFF and truncated sequences are invalid.
inline std::optional<std::size_t> first_invalid_utf8(std::string_view s) noexcept {
    const auto b = bytes_of(s);
    std::size_t i = 0;
    const std::size_t n = b.size();
    while (i < n) {
        const unsigned char c = b[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
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
            return i; // continuation byte, 0xc0, 0xc1 or 0xf5..0xff
        }
        if (n - i < len) return i;
        if (b[i + 1] < lo || b[i + 1] > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if (b[i + k] < 0x80 || b[i + k] > 0xbf) return i;
        i += len;
    }
    return std::nullopt;
}

} // namespace taskwatch::detail
