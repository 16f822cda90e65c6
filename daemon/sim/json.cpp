#include "taskwatch/sim/json.hpp"

#include "taskwatch/detail/pretty_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

namespace taskwatch::sim {
namespace json = boost::json;

namespace {

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

// What both task bodies do with the state beyond their fixed fields: hide the progress, add
// the error.
void add_state_fields(json::object& o, const task_state& st) {
    if (st.progress_hidden) o.erase("progress");
    if (!st.error_code.empty() || !st.error_msg.empty()) {
        o["error_code"] = st.error_code;
        o["error_msg"] = st.error_msg;
    }
}

} // namespace

void append_text(std::string& out, const json::value& v) {
    append_compact_json(out, v);
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
    add_state_fields(o, st);
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
    add_state_fields(o, st);
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
