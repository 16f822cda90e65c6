#include "taskwatch/web/task_json.hpp"

#include "taskwatch/detail/pretty_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <ctime>

namespace taskwatch::web {
namespace json = boost::json;

std::string format_rfc3339(task::time_point t) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto secs = static_cast<std::time_t>(ms / 1000);
    auto frac = ms % 1000;
    if (frac < 0) { // before 1970: floor, so the fraction stays positive
        frac += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(frac));
    return buf;
}

namespace {

json::value time_or_null(const std::optional<task::time_point>& t) {
    return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
}

json::value count_or_null(const std::optional<std::int64_t>& n) {
    return n ? json::value(*n) : json::value(nullptr);
}

// Empty strings from the API are "not set": null reads better than "".
json::value text_or_null(const std::string& s) {
    return s.empty() ? json::value(nullptr) : json::value(s);
}

} // namespace

json::object task_json(const task::task_key& key, const poll::tracked_task& tt) {
    const auto& st = tt.state;
    const auto* o = st.last ? &*st.last : nullptr;
    json::object out;
    out["project_id"] = key.project_id;
    out["dataset_id"] = key.dataset_id;
    out["task_id"] = key.task_id;
    out["task_name"] = o ? json::value(o->task_name) : json::value(nullptr);
    json::object labels;
    for (const auto& [k, v] : tt.target_labels())
        labels[k] = v;
    out["labels"] = std::move(labels);
    out["status"] =
        o ? json::value(std::string(modelarts::to_string(o->status))) : json::value(nullptr);
    out["status_code"] = o ? json::value(modelarts::to_code(o->status)) : json::value(nullptr);
    out["progress"] = o ? json::value(o->progress) : json::value(nullptr);
    out["up"] = st.up;
    out["stalled"] = st.stalled;
    out["created"] = o ? time_or_null(o->create_time) : json::value(nullptr);
    out["last_change"] = time_or_null(st.last_change);
    out["last_poll"] = time_or_null(st.last_poll);
    if (st.last_error) {
        const auto& e = *st.last_error;
        out["last_error"] = json::object{{"reason", e.reason},
                                         {"error_code", text_or_null(e.error_code)},
                                         {"error_msg", text_or_null(e.error_msg)},
                                         {"request_id", text_or_null(e.request_id)}};
    } else {
        out["last_error"] = nullptr;
    }
    if (o)
        out["result"] = json::object{{"total_sample_count", count_or_null(o->total_sample_count)},
                                     {"annotated_sample_count",
                                      count_or_null(o->annotated_sample_count)},
                                     {"unconfirmed_sample_count",
                                      count_or_null(o->unconfirmed_sample_count)}};
    else
        out["result"] = nullptr;
    out["resource_id"] = o ? text_or_null(o->resource_id) : json::value(nullptr);
    out["algorithm_type"] = o ? text_or_null(o->algorithm_type) : json::value(nullptr);
    out["code"] = o ? text_or_null(o->code) : json::value(nullptr);
    out["message"] = o ? text_or_null(o->message) : json::value(nullptr);
    out["error_code"] = o ? text_or_null(o->error_code) : json::value(nullptr);
    out["error_msg"] = o ? text_or_null(o->error_msg) : json::value(nullptr);
    return out;
}

std::string tasks_json(const metrics::task_map& tasks) {
    json::array a;
    a.reserve(tasks.size());
    for (const auto& [key, tt] : tasks)
        if (!tt.state.forgotten && !tt.state.gone) a.emplace_back(task_json(key, tt));
    return compact_json(a);
}

} // namespace taskwatch::web
