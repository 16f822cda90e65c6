// Quoted strings in both spellings: JSON (as Boost.JSON writes them) and the log's logfmt.
#include "taskwatch/detail/escape.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/log/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <doctest/doctest.h>

using taskwatch::detail::append_quoted;
using taskwatch::detail::escape_style;

namespace {
std::string quoted(std::string_view s, escape_style style) {
    std::string out;
    append_quoted(out, s, style);
    return out;
}
} // namespace

TEST_CASE("JSON style has short escapes for \\b and \\f, \\u00XX for other control bytes, and "
          "passes DEL and UTF-8") {
    const std::string_view s = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f\xc3\xa9";
    CHECK(quoted(s, escape_style::json) ==
          "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\xc3\xa9\"");
    CHECK(quoted(s, escape_style::json) == boost::json::serialize(boost::json::string(s)));
}

TEST_CASE("logfmt style spells \\b, \\f, other control bytes and DEL as \\xXX") {
    const std::string_view s = "a\"b\\c\n\r\t\b\f\x01\x7f\xc3\xa9";
    CHECK(quoted(s, escape_style::logfmt) ==
          "\"a\\\"b\\\\c\\n\\r\\t\\x08\\x0c\\x01\\x7f\xc3\xa9\"");
}

TEST_CASE("a log value is quoted only when it must be") {
    CHECK(taskwatch::log::quote("plain") == "plain");
    CHECK(taskwatch::log::quote("") == "\"\"");
    CHECK(taskwatch::log::quote("a b") == "\"a b\"");
    CHECK(taskwatch::log::quote("k=v\x01") == "\"k=v\\x01\"");
}

TEST_CASE("append_json_string and append_compact_json append to what is there") {
    std::string out = "x";
    taskwatch::append_json_string(out, "\t");
    taskwatch::append_compact_json(out, boost::json::value{{"a", 1.0}});
    CHECK(out == "x\"\\t\"{\"a\":1.0}");
}
