#include "taskwatch/detail/pretty_json.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <string_view>

namespace taskwatch {
namespace {

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
            out += boost::json::serialize(kv.key());
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
    case boost::json::kind::double_: {
        // Shortest round-trip digits ("36.5"), not Boost's "3.65E1": this output is for people.
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        std::string_view text(buf, static_cast<std::size_t>(end - buf));
        if (ec != std::errc{} || text.find_first_of("ni") != std::string_view::npos) {
            out += boost::json::serialize(v); // NaN/inf cannot occur in parsed JSON
            return;
        }
        out += text;
        if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
        return;
    }
    default:
        out += boost::json::serialize(v);
    }
}

} // namespace

std::string pretty_json(const boost::json::value& v, int indent) {
    std::string out;
    emit(out, v, indent < 0 ? 0 : indent, 0);
    return out;
}

std::string compact_json(const boost::json::value& v) {
    std::string out;
    emit(out, v, -1, 0);
    return out;
}

} // namespace taskwatch
