// Events <-> JSON for the outbox's payload column.
#include "taskwatch/state/event_json.hpp"

#include "taskwatch/modelarts/model.hpp"

#include <boost/json.hpp>

#include <chrono>

namespace taskwatch::state {

namespace json = boost::json;
using time_point = task::time_point;

namespace {

json::value optional_int(const std::optional<std::int64_t>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

std::int64_t to_ms(time_point t) {
    return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// Reads members of one object, remembering the first problem.
class reader {
public:
    reader(const json::value& v, std::string_view what)
        : what_(what) {
        obj_ = v.if_object();
        if (!obj_) fail("", "is not an object");
    }
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

    std::string string(std::string_view key) {
        const json::value* v = find(key);
        if (!v) return {};
        if (const auto* s = v->if_string()) return std::string(*s);
        fail(key, "is not a string");
        return {};
    }
    std::int64_t integer(std::string_view key) {
        const json::value* v = find(key);
        if (!v) return 0;
        if (const auto* i = v->if_int64()) return *i;
        if (const auto* u = v->if_uint64(); u && *u <= static_cast<std::uint64_t>(INT64_MAX))
            return static_cast<std::int64_t>(*u);
        fail(key, "is not an integer");
        return 0;
    }
    std::optional<std::int64_t> optional_integer(std::string_view key) {
        const json::value* v = find(key);
        if (!v || v->is_null()) return std::nullopt;
        return integer(key);
    }
    double number(std::string_view key) {
        const json::value* v = find(key);
        if (!v) return 0;
        if (v->is_number()) return v->to_number<double>();
        fail(key, "is not a number");
        return 0;
    }
    /// nullptr when the member is null; missing is an error.
    const json::value* nullable(std::string_view key) {
        const json::value* v = find(key);
        return v && !v->is_null() ? v : nullptr;
    }
    void fail(std::string_view key, std::string_view problem) {
        if (!error_.empty()) return;
        error_ = std::string(what_);
        if (!key.empty()) error_.append(".").append(key);
        error_.append(" ").append(problem);
    }
    void nest(std::string_view key, const std::string& inner) {
        if (error_.empty()) error_ = std::string(what_) + "." + std::string(key) + ": " + inner;
    }

private:
    const json::value* find(std::string_view key) {
        if (!obj_) return nullptr;
        const json::value* v = obj_->if_contains(key);
        if (!v) fail(key, "is missing");
        return v;
    }
    std::string_view what_;
    const json::object* obj_ = nullptr;
    std::string error_;
};

} // namespace

json::value to_json(const task::snapshot& s) {
    return json::object{
        {"status", s.status ? json::value(modelarts::to_string(*s.status)) : json::value(nullptr)},
        {"status_code",
         s.status ? json::value(modelarts::to_code(*s.status)) : json::value(nullptr)},
        {"progress", s.progress ? json::value(*s.progress) : json::value(nullptr)},
        {"code", s.code},
        {"message", s.message},
        {"error_code", s.error_code},
        {"error_msg", s.error_msg},
        {"total_sample_count", optional_int(s.total_sample_count)},
        {"annotated_sample_count", optional_int(s.annotated_sample_count)},
        {"unconfirmed_sample_count", optional_int(s.unconfirmed_sample_count)},
    };
}

json::value to_json(const task::poll_error& e) {
    return json::object{
        {"reason", e.reason},
        {"error_code", e.error_code},
        {"error_msg", e.error_msg},
        {"request_id", e.request_id},
    };
}

json::value to_json(const task::event& e) {
    return json::object{
        {"id", e.id},
        {"type", task::to_string(e.type)},
        {"time_ms", to_ms(e.time)},
        {"project_id", e.key.project_id},
        {"dataset_id", e.key.dataset_id},
        {"task_id", e.key.task_id},
        {"task_name", e.task_name},
        {"previous", e.previous ? to_json(*e.previous) : json::value(nullptr)},
        {"current", e.current ? to_json(*e.current) : json::value(nullptr)},
        {"error", e.error ? to_json(*e.error) : json::value(nullptr)},
    };
}

expected<task::snapshot, std::string> snapshot_from_json(const json::value& v) {
    reader r(v, "snapshot");
    task::snapshot s;
    // Any code: one outside -1..5 is an unknown status (a later API's), null one not sent.
    if (auto code = r.optional_integer("status_code"))
        s.status = static_cast<modelarts::task_status>(*code);
    if (r.nullable("progress")) s.progress = r.number("progress");
    s.code = r.string("code");
    s.message = r.string("message");
    s.error_code = r.string("error_code");
    s.error_msg = r.string("error_msg");
    s.total_sample_count = r.optional_integer("total_sample_count");
    s.annotated_sample_count = r.optional_integer("annotated_sample_count");
    s.unconfirmed_sample_count = r.optional_integer("unconfirmed_sample_count");
    if (!r.ok()) return unexpected{r.error()};
    return s;
}

expected<task::poll_error, std::string> poll_error_from_json(const json::value& v) {
    reader r(v, "error");
    task::poll_error e;
    e.reason = r.string("reason");
    e.error_code = r.string("error_code");
    e.error_msg = r.string("error_msg");
    e.request_id = r.string("request_id");
    if (!r.ok()) return unexpected{r.error()};
    return e;
}

expected<task::event, std::string> event_from_json(const json::value& v) {
    reader r(v, "event");
    task::event e;
    e.id = r.string("id");
    auto type = r.string("type");
    if (r.ok()) {
        if (auto t = task::event_type_from_string(type))
            e.type = *t;
        else
            r.fail("type", "is not an event type: \"" + type + "\"");
    }
    e.time = time_point(std::chrono::milliseconds(r.integer("time_ms")));
    e.key.project_id = r.string("project_id");
    e.key.dataset_id = r.string("dataset_id");
    e.key.task_id = r.string("task_id");
    e.task_name = r.string("task_name");
    for (auto [key, target] :
         {std::pair{"previous", &e.previous}, std::pair{"current", &e.current}}) {
        if (const auto* s = r.nullable(key)) {
            auto parsed = snapshot_from_json(*s);
            if (parsed)
                *target = std::move(*parsed);
            else
                r.nest(key, parsed.error());
        }
    }
    if (const auto* err = r.nullable("error")) {
        auto parsed = poll_error_from_json(*err);
        if (parsed)
            e.error = std::move(*parsed);
        else
            r.nest("error", parsed.error());
    }
    if (!r.ok()) return unexpected{r.error()};
    return e;
}

} // namespace taskwatch::state
