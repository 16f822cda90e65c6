#include "taskwatch/detail/escape.hpp"

#include "taskwatch/detail/bytes.hpp"

namespace taskwatch::detail {

void append_quoted(std::string& out, std::string_view s, escape_style style) {
    static constexpr char hex[] = "0123456789abcdef";
    const bool json = style == escape_style::json;
    out.push_back('"');
    for (unsigned char c : bytes_of(s)) {
        switch (c) {
        case '"':
            out += "\\\"";
            continue;
        case '\\':
            out += "\\\\";
            continue;
        case '\n':
            out += "\\n";
            continue;
        case '\r':
            out += "\\r";
            continue;
        case '\t':
            out += "\\t";
            continue;
        case '\b':
            if (!json) break;
            out += "\\b";
            continue;
        case '\f':
            if (!json) break;
            out += "\\f";
            continue;
        default:
            break;
        }
        if (c < 0x20 || (!json && c == 0x7f)) {
            out += json ? "\\u00" : "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

} // namespace taskwatch::detail
