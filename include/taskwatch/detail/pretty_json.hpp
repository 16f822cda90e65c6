// Indented JSON for people (`taskwatchd get`); machines get boost::json::serialize.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace taskwatch {
std::string pretty_json(const boost::json::value& v, int indent = 2);
/// The same numbers ("0.42", not Boost's "4.2E-1") without any whitespace: for HTTP APIs.
std::string compact_json(const boost::json::value& v);
/// compact_json(v) appended to `out`.
void append_compact_json(std::string& out, const boost::json::value& v);
/// Appends `s` as a JSON string literal, escaped as Boost.JSON escapes it.
void append_json_string(std::string& out, std::string_view s);
/// Appends a double as compact_json spells it ("0.42", "1.0"); infinity and NaN, which JSON
/// cannot spell, as null. pretty_json and compact_json write them so too.
void append_json_double(std::string& out, double d);
} // namespace taskwatch
