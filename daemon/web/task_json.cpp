#include "taskwatch/web/task_json.hpp"

#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/detail/rfc3339.hpp"
#include "taskwatch/state/event_json.hpp"

namespace taskwatch::web {

std::string format_rfc3339(task::time_point t) {
    return detail::format_rfc3339(t, detail::time_precision::milliseconds);
}

namespace {

// Writes one JSON object member by member; no boost::json::object in between (10,000 tasks).
struct object_writer {
    std::string& out;
    bool first = true;

    void key(std::string_view k) {
        out.push_back(first ? '{' : ',');
        first = false;
        append_json_string(out, k);
        out.push_back(':');
    }
    void null(std::string_view k) {
        key(k);
        out += "null";
    }
    void string(std::string_view k, std::string_view v) {
        key(k);
        append_json_string(out, v);
    }
    // Empty strings from the API are "not set": null reads better than "".
    void text_or_null(std::string_view k, std::string_view v) {
        if (v.empty())
            null(k);
        else
            string(k, v);
    }
    void integer(std::string_view k, std::int64_t v) {
        key(k);
        out += std::to_string(v);
    }
    void count_or_null(std::string_view k, const std::optional<std::int64_t>& v) {
        if (v)
            integer(k, *v);
        else
            null(k);
    }
    void number(std::string_view k, double v) {
        key(k);
        append_json_double(out, v);
    }
    void boolean(std::string_view k, bool v) {
        key(k);
        out += v ? "true" : "false";
    }
    void time_or_null(std::string_view k, const std::optional<task::time_point>& t) {
        if (t)
            string(k, format_rfc3339(*t));
        else
            null(k);
    }
    void end() { out += first ? "{}" : "}"; }
};

} // namespace

void append_task_json(std::string& out, const poll::watched_task& tt) {
    const auto& st = tt.state;
    const auto& key = st.key;
    const auto* o = st.last ? &*st.last : nullptr;
    object_writer w{out};
    w.string("project_id", key.project_id);
    w.string("dataset_id", key.dataset_id);
    w.string("task_id", key.task_id);
    if (o)
        w.string("task_name", o->task_name);
    else
        w.null("task_name");
    w.key("labels");
    object_writer labels{out};
    for (const auto& [k, v] : tt.target_labels())
        labels.string(k, v);
    labels.end();
    // Null for what the last poll did not send; "unknown" with the raw code for a later API's.
    if (o && o->status) {
        w.string("status", modelarts::to_string(*o->status));
        w.integer("status_code", modelarts::to_code(*o->status));
    } else {
        w.null("status");
        w.null("status_code");
    }
    if (o && o->progress)
        w.number("progress", *o->progress);
    else
        w.null("progress");
    w.boolean("up", st.up);
    w.boolean("stalled", st.stalled);
    if (o)
        w.time_or_null("created", o->create_time);
    else
        w.null("created");
    w.time_or_null("last_change", st.last_change);
    w.time_or_null("last_poll", st.last_poll);
    // While running, once the estimator has measured a rate (task/estimate.hpp).
    const auto estimate = tt.estimate.current();
    w.time_or_null("eta", estimate.eta);
    if (estimate.progress_per_second) {
        w.key("rate");
        object_writer r{out};
        r.number("progress_per_second", *estimate.progress_per_second);
        if (estimate.samples_per_second)
            r.number("samples_per_second", *estimate.samples_per_second);
        else
            r.null("samples_per_second");
        r.end();
    } else {
        w.null("rate");
    }
    if (st.last_error) {
        const auto& e = *st.last_error;
        w.key("last_error");
        object_writer err{out};
        err.string("reason", e.reason);
        err.text_or_null("error_code", e.error_code);
        err.text_or_null("error_msg", e.error_msg);
        err.text_or_null("request_id", e.request_id);
        err.end();
    } else {
        w.null("last_error");
    }
    if (o) {
        w.key("result");
        object_writer r{out};
        r.count_or_null("total_sample_count", o->total_sample_count);
        r.count_or_null("annotated_sample_count", o->annotated_sample_count);
        r.count_or_null("unconfirmed_sample_count", o->unconfirmed_sample_count);
        r.end();
    } else {
        w.null("result");
    }
    const auto text = [o](auto task::observation::*field) -> std::string_view {
        return o ? std::string_view((*o).*field) : std::string_view();
    };
    w.text_or_null("resource_id", text(&task::observation::resource_id));
    w.text_or_null("algorithm_type", text(&task::observation::algorithm_type));
    w.text_or_null("code", text(&task::observation::code));
    w.text_or_null("message", text(&task::observation::message));
    w.text_or_null("error_code", text(&task::observation::error_code));
    w.text_or_null("error_msg", text(&task::observation::error_msg));
    w.end();
}

std::string tasks_json(const poll::task_view& tasks) {
    std::string out;
    out.reserve(64 + tasks.size() * 720);
    out.push_back('[');
    bool first = true;
    tasks.visit(nullptr, [&](const poll::watched_task& tt) {
        if (!first) out.push_back(',');
        first = false;
        append_task_json(out, tt);
        return true;
    });
    out.push_back(']');
    return out;
}

std::string task_detail_json(const poll::watched_task& task,
                             const std::vector<state::history_point>& history,
                             const std::vector<state::event_record>& events) {
    std::string out;
    out.reserve(1024 + history.size() * 90 + events.size() * 600);
    append_task_json(out, task);
    out.pop_back(); // the task object's '}': two more members follow
    out += ",\"history\":[";
    bool first = true;
    for (const auto& p : history) {
        if (!first) out.push_back(',');
        first = false;
        object_writer w{out};
        w.string("time", format_rfc3339(p.time));
        if (p.status)
            w.string("status", modelarts::to_string(*p.status));
        else
            w.null("status");
        if (p.progress)
            w.number("progress", *p.progress);
        else
            w.null("progress");
        w.count_or_null("annotated", p.annotated);
        w.end();
    }
    out += "],\"events\":";
    boost::json::array list;
    for (const auto& r : events) {
        const auto& e = r.event;
        boost::json::object o;
        o["id"] = e.id;
        o["type"] = task::to_string(e.type);
        o["time"] = format_rfc3339(e.time);
        o["previous"] = e.previous ? state::to_json(*e.previous) : boost::json::value(nullptr);
        o["current"] = e.current ? state::to_json(*e.current) : boost::json::value(nullptr);
        o["error"] = e.error ? state::to_json(*e.error) : boost::json::value(nullptr);
        boost::json::array deliveries;
        for (const auto& d : r.deliveries) {
            boost::json::object dj;
            dj["webhook"] = d.webhook;
            dj["state"] = d.state;
            dj["attempts"] = d.attempts;
            dj["next_attempt_at"] = d.state == "pending"
                                        ? boost::json::value(format_rfc3339(d.next_attempt_at))
                                        : boost::json::value(nullptr);
            dj["delivered_at"] = d.delivered_at
                                     ? boost::json::value(format_rfc3339(*d.delivered_at))
                                     : boost::json::value(nullptr);
            dj["last_error"] = d.last_error.empty() ? boost::json::value(nullptr)
                                                    : boost::json::value(d.last_error);
            deliveries.push_back(std::move(dj));
        }
        o["deliveries"] = std::move(deliveries);
        list.push_back(std::move(o));
    }
    append_compact_json(out, list); // doubles in decimal, as everywhere in the API
    out.push_back('}');
    return out;
}

const poll::watched_task* find_task(const poll::task_view& tasks, std::string_view dataset_id,
                                    std::string_view task_id) {
    const poll::watched_task* found = nullptr;
    tasks.visit(nullptr, [&](const poll::watched_task& tt) {
        if (tt.state.key.dataset_id == dataset_id && tt.state.key.task_id == task_id) found = &tt;
        return found == nullptr;
    });
    return found;
}

} // namespace taskwatch::web
