#include "taskwatch/detail/pretty_json.hpp"

#include "taskwatch/detail/escape.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

namespace taskwatch {
namespace {

template <class Int> void emit_integer(std::string& out, Int v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

// indent < 0: compact, no whitespace at all.
void emit(std::string& out, const boost::json::value& v, int indent, int depth) {
    auto newline = [&](int d) {
        if (indent < 0) return;
        out.push_back('\n');
        out.append(static_cast<std::size_t>(indent * d), ' ');
    };
    switch (v.kind()) {
    case boost::json::kind::object: {
        const auto& o = v.get_object();
        if (o.empty()) {
            out += "{}";
            return;
        }
        out.push_back('{');
        bool first = true;
        for (const auto& kv : o) {
            if (!first) out.push_back(',');
            first = false;
            newline(depth + 1);
            append_json_string(out, kv.key());
            out += indent < 0 ? ":" : ": ";
            emit(out, kv.value(), indent, depth + 1);
        }
        newline(depth);
        out.push_back('}');
        return;
    }
    case boost::json::kind::array: {
        const auto& a = v.get_array();
        if (a.empty()) {
            out += "[]";
            return;
        }
        out.push_back('[');
        bool first = true;
        for (const auto& e : a) {
            if (!first) out.push_back(',');
            first = false;
            newline(depth + 1);
            emit(out, e, indent, depth + 1);
        }
        newline(depth);
        out.push_back(']');
        return;
    }
    case boost::json::kind::double_:
        append_json_double(out, v.get_double());
        return;
    case boost::json::kind::string:
        append_json_string(out, v.get_string());
        return;
    case boost::json::kind::int64:
        emit_integer(out, v.get_int64());
        return;
    case boost::json::kind::uint64:
        emit_integer(out, v.get_uint64());
        return;
    case boost::json::kind::bool_:
        out += v.get_bool() ? "true" : "false";
        return;
    case boost::json::kind::null:
        out += "null";
        return;
    }
}

} // namespace

std::string pretty_json(const boost::json::value& v, int indent) {
    std::string out;
    emit(out, v, indent < 0 ? 0 : indent, 0);
    return out;
}

void append_json_string(std::string& out, std::string_view s) {
    detail::append_quoted(out, s, detail::escape_style::json);
}

void append_json_double(std::string& out, double d) {
    // JSON has no infinity or NaN. A parsed number too large for a double (1e400) becomes
    // infinity in Boost.JSON; its text is gone by then, so it is written as null, as
    // JavaScript's JSON.stringify does, rather than as Boost's "Infinity", which no JSON
    // parser reads.
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    // Shortest round-trip digits ("36.5"), not Boost's "3.65E1".
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view text(buf, static_cast<std::size_t>(end - buf));
    out += text;
    if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

std::string compact_json(const boost::json::value& v) {
    std::string out;
    append_compact_json(out, v);
    return out;
}

void append_compact_json(std::string& out, const boost::json::value& v) {
    emit(out, v, -1, 0);
}

} // namespace taskwatch
