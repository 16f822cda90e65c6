#include "taskwatch/sim/json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <charconv>
#include <cmath>

namespace taskwatch::sim {
namespace json = boost::json;

namespace {

void append_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0xf]);
            } else {
                out.push_back(ch);
            }
        }
    }
    out.push_back('"');
}

void append_double(std::string& out, double d) {
    if (!std::isfinite(d)) { // JSON has no NaN/Inf; the real service would not send them
        out += "null";
        return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view s(buf, static_cast<std::size_t>(end - buf));
    out += s;
    if (s.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

template <class Int> void append_int(std::string& out, Int v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

json::object result_json(const task_state& st) {
    return json::object{
        {"total_sample_count", st.total_sample_count},
        {"annotated_sample_count", st.annotated_sample_count},
        {"unconfirmed_sample_count", st.unconfirmed_sample_count},
    };
}

json::object config_json(const sim_task& t) {
    json::object c{
        {"ambiguity", false},        {"worker_server_num", 0},
        {"collect_sample", false},   {"algorithm_type", t.algorithm_type},
        {"image_brightness", false}, {"image_colorfulness", false},
    };
    if (t.type == task_type::auto_grouping) {
        c["n_clusters"] = t.n_clusters;
        c["result_type"] = 1;
    }
    return c;
}

} // namespace

void append_text(std::string& out, const json::value& v) {
    switch (v.kind()) {
    case json::kind::null:
        out += "null";
        break;
    case json::kind::bool_:
        out += v.get_bool() ? "true" : "false";
        break;
    case json::kind::int64:
        append_int(out, v.get_int64());
        break;
    case json::kind::uint64:
        append_int(out, v.get_uint64());
        break;
    case json::kind::double_:
        append_double(out, v.get_double());
        break;
    case json::kind::string:
        append_string(out, v.get_string());
        break;
    case json::kind::array: {
        out.push_back('[');
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first) out.push_back(',');
            first = false;
            append_text(out, e);
        }
        out.push_back(']');
        break;
    }
    case json::kind::object: {
        out.push_back('{');
        bool first = true;
        for (const auto& kv : v.get_object()) {
            if (!first) out.push_back(',');
            first = false;
            append_string(out, kv.key());
            out.push_back(':');
            append_text(out, kv.value());
        }
        out.push_back('}');
        break;
    }
    }
}

std::string to_text(const json::value& v) {
    std::string out;
    out.reserve(512);
    append_text(out, v);
    return out;
}

json::object task_json(const sim_task& t) {
    const auto& st = t.state;
    // Field order follows the seed's response example.
    json::object o{
        {"resource_id", t.resource_id},
        {"create_time", format_create_time(t.create_time)},
        {"progress", st.progress},
        {"status", static_cast<int>(st.status)},
        {"message", st.message},
        {"code", st.code},
        {"elapsed_time", st.elapsed_time},
        {"result", result_json(st)},
        {"export_type", t.export_type},
        {"config", config_json(t)},
        {"task_id", t.task_id},
        {"task_name", t.task_name},
    };
    if (st.progress_hidden) o.erase("progress");
    if (!st.error_code.empty() || !st.error_msg.empty()) {
        o["error_code"] = st.error_code;
        o["error_msg"] = st.error_msg;
    }
    return o;
}

json::object task_list_item_json(const sim_task& t) {
    const auto& st = t.state;
    json::object o{
        {"task_id", t.task_id},
        {"task_name", t.task_name},
        {"dataset_id", t.dataset_id},
        {"type", to_string(t.type)},
        {"resource_id", t.resource_id},
        {"create_time", format_create_time(t.create_time)},
        {"progress", st.progress},
        {"status", static_cast<int>(st.status)},
        {"message", st.message},
        {"code", st.code},
        {"elapsed_time", st.elapsed_time},
        {"total_sample_count", st.total_sample_count},
        {"annotated_sample_count", st.annotated_sample_count},
        {"unconfirmed_sample_count", st.unconfirmed_sample_count},
        {"export_type", t.export_type},
        {"config", config_json(t)},
        {"result", result_json(st)},
    };
    if (st.progress_hidden) o.erase("progress");
    if (!st.error_code.empty() || !st.error_msg.empty()) {
        o["error_code"] = st.error_code;
        o["error_msg"] = st.error_msg;
    }
    return o;
}

const std::string& task_body(sim_task& t) {
    if (t.cached_version != t.version || t.cached_body.empty()) {
        t.cached_body.clear();
        append_text(t.cached_body, task_json(t));
        t.cached_version = t.version;
    }
    return t.cached_body;
}

} // namespace taskwatch::sim
