// Text that goes into one-line error messages (config and web config loaders): values quoted,
// bounded and escaped; whole messages kept on one line whatever a path or a parser says.
#pragma once

#include "taskwatch/detail/bytes.hpp"

#include <string>
#include <string_view>

namespace taskwatch::detail {

/// `"value"`: at most 80 bytes (then "..."), control characters, quotes and backslashes as \xNN.
inline std::string quote(std::string_view v) {
    std::string out = "\"";
    constexpr std::size_t limit = 80;
    for (unsigned char c : bytes_of(v.substr(0, limit))) {
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (v.size() > limit) out += "...";
    return out + "\"";
}

/// `s` on one line: newlines as \n and \r, tabs as spaces, other control characters as '?'.
inline std::string one_line(std::string_view s) {
    std::string out;
    for (unsigned char c : bytes_of(s)) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += ' ';
        else if (c < 0x20 || c == 0x7f)
            out += '?';
        else
            out += static_cast<char>(c);
    }
    return out;
}

} // namespace taskwatch::detail
