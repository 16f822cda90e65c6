// Backslash-escaped, double-quoted strings: JSON's spelling and the log's logfmt spelling,
// written by one loop so that the two cannot drift apart on quotes, backslashes and newlines.
#pragma once

#include <string>
#include <string_view>

namespace taskwatch::detail {

/// How the bytes that need escaping are spelled. Both write \" \\ \n \r \t; UTF-8 passes.
enum class escape_style {
    json,   ///< also \b \f; other bytes below 0x20 as \u00XX (as Boost.JSON escapes them)
    logfmt, ///< other bytes below 0x20, and DEL, as \xXX
};

/// Appends `s` between double quotes, escaped in `style`.
void append_quoted(std::string& out, std::string_view s, escape_style style);

} // namespace taskwatch::detail
