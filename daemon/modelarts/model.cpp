#include "taskwatch/modelarts/model.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/string.hpp>

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

namespace taskwatch::modelarts {

namespace json = boost::json;

std::string_view to_string(task_status s) noexcept {
    return detail::name_in(task_status_names, s);
}

std::optional<task_status> task_status_from_code(std::int64_t code) noexcept {
    const auto s = static_cast<task_status>(code);
    if (!is_known(s)) return std::nullopt;
    return s;
}

bool is_terminal(task_status s) noexcept {
    return s == task_status::failed || s == task_status::succeeded || s == task_status::stopped;
}

std::string parse_error::to_string() const {
    std::string out = path.empty() ? std::string("(root)") : path;
    out += ": ";
    out += message;
    return out;
}

namespace {

// ---------------------------------------------------------------------------------------
// Field lists, one per table, in the page's order. Reading and writing both walk these, so
// a field cannot be parsed under one name and written under another.

template <class S, class T>
concept maybe_const = std::same_as<std::remove_const_t<S>, T>;

template <class V, maybe_const<flavor> S> void describe(V& v, S& x) {
    v("code", x.code);
}

template <class V, maybe_const<inf_config> S> void describe(V& v, S& x) {
    v("envs", x.envs);
    v("instance_count", x.instance_count);
    v("model_id", x.model_id);
    v("specification", x.specification);
    v("weight", x.weight);
}

template <class V, maybe_const<training_parameter> S> void describe(V& v, S& x) {
    v("label", x.label);
    v("value", x.value);
}

template <class V, maybe_const<search_label> S> void describe(V& v, S& x) {
    v("name", x.name);
    v("op", x.op);
    v("property", x.property);
    v("type", x.type);
}

template <class V, maybe_const<search_labels> S> void describe(V& v, S& x) {
    v("labels", x.labels);
    v("op", x.op);
}

template <class V, maybe_const<search_prop> S> void describe(V& v, S& x) {
    v("op", x.op);
    v("props", x.props);
}

template <class V, maybe_const<search_condition> S> void describe(V& v, S& x) {
    v("coefficient", x.coefficient);
    v("frame_in_video", x.frame_in_video);
    v("hard", x.hard);
    v("import_origin", x.import_origin);
    v("kvp", x.kvp);
    v("label_list", x.label_list);
    v("labeler", x.labeler);
    v("metadata", x.metadata);
    v("parent_sample_id", x.parent_sample_id);
    v("sample_dir", x.sample_dir);
    v("sample_name", x.sample_name);
    v("sample_time", x.sample_time);
    v("score", x.score);
    v("slice_thickness", x.slice_thickness);
    v("study_date", x.study_date);
    v("time_in_video", x.time_in_video);
}

template <class V, maybe_const<export_params> S> void describe(V& v, S& x) {
    v("clear_hard_property", x.clear_hard_property);
    v("export_dataset_version_format", x.export_dataset_version_format);
    v("export_dataset_version_name", x.export_dataset_version_name);
    v("export_dest", x.export_dest);
    v("export_new_dataset_name", x.export_new_dataset_name);
    v("export_new_dataset_work_path", x.export_new_dataset_work_path);
    v("ratio_sample_usage", x.ratio_sample_usage);
    v("sample_state", x.sample_state);
    v("samples", x.samples);
    v("search_conditions", x.search_conditions);
    v("train_sample_ratio", x.train_sample_ratio);
}

template <class V, maybe_const<sample_label_property> S> void describe(V& v, S& x) {
    v("@modelarts:content", x.modelarts_content);
    v("@modelarts:end_index", x.modelarts_end_index);
    v("@modelarts:end_time", x.modelarts_end_time);
    v("@modelarts:feature", x.modelarts_feature);
    v("@modelarts:from", x.modelarts_from);
    v("@modelarts:hard", x.modelarts_hard);
    v("@modelarts:hard_coefficient", x.modelarts_hard_coefficient);
    v("@modelarts:hard_reasons", x.modelarts_hard_reasons);
    v("@modelarts:shape", x.modelarts_shape);
    v("@modelarts:source", x.modelarts_source);
    v("@modelarts:start_index", x.modelarts_start_index);
    v("@modelarts:start_time", x.modelarts_start_time);
    v("@modelarts:to", x.modelarts_to);
}

template <class V, maybe_const<sample_metadata> S> void describe(V& v, S& x) {
    v("@modelarts:import_origin", x.modelarts_import_origin);
    v("@modelarts:hard", x.modelarts_hard);
    v("@modelarts:hard_coefficient", x.modelarts_hard_coefficient);
    v("@modelarts:hard_reasons", x.modelarts_hard_reasons);
    v("@modelarts:size", x.modelarts_size);
}

template <class V, maybe_const<sample_label> S> void describe(V& v, S& x) {
    v("annotated_by", x.annotated_by);
    v("id", x.id);
    v("name", x.name);
    v("property", x.property);
    v("score", x.score);
    v("type", x.type);
}

template <class V, maybe_const<sample_labels> S> void describe(V& v, S& x) {
    v("labels", x.labels);
    v("metadata", x.metadata);
    v("sample_id", x.sample_id);
    v("sample_type", x.sample_type);
    v("sample_usage", x.sample_usage);
    v("source", x.source);
    v("worker_id", x.worker_id);
}

template <class V, maybe_const<smart_task_config> S> void describe(V& v, S& x) {
    v("algorithm_type", x.algorithm_type);
    v("ambiguity", x.ambiguity);
    v("annotation_output", x.annotation_output);
    v("collect_rule", x.collect_rule);
    v("collect_sample", x.collect_sample);
    v("confidence_scope", x.confidence_scope);
    v("description", x.description);
    v("engine_name", x.engine_name);
    v("export_format", x.export_format);
    v("export_params", x.export_params);
    v("flavor", x.flavor);
    v("image_brightness", x.image_brightness);
    v("image_colorfulness", x.image_colorfulness);
    v("inf_cluster_id", x.inf_cluster_id);
    v("inf_config_list", x.inf_config_list);
    v("inf_output", x.inf_output);
    v("infer_result_output_dir", x.infer_result_output_dir);
    v("key_sample_output", x.key_sample_output);
    v("log_url", x.log_url);
    v("manifest_path", x.manifest_path);
    v("model_id", x.model_id);
    v("model_name", x.model_name);
    v("model_parameter", x.model_parameter);
    v("model_version", x.model_version);
    v("n_clusters", x.n_clusters);
    v("name", x.name);
    v("output_dir", x.output_dir);
    v("parameters", x.parameters);
    v("pool_id", x.pool_id);
    v("property", x.property);
    v("req_uri", x.req_uri);
    v("result_type", x.result_type);
    v("samples", x.samples);
    v("stop_time", x.stop_time);
    v("time", x.time);
    v("train_data_path", x.train_data_path);
    v("train_url", x.train_url);
    v("version_format", x.version_format);
    v("worker_server_num", x.worker_server_num);
}

template <class V, maybe_const<event> S> void describe(V& v, S& x) {
    v("create_time", x.create_time);
    v("description", x.description);
    v("elapsed_time", x.elapsed_time);
    v("error_code", x.error_code);
    v("error_message", x.error_message);
    v("events", x.events);
    v("level", x.level);
    v("name", x.name);
    v("ordinal", x.ordinal);
    v("parent_name", x.parent_name);
    v("status", x.status);
}

template <class V, maybe_const<hard_select_task> S> void describe(V& v, S& x) {
    v("create_at", x.create_at);
    v("dataset_id", x.dataset_id);
    v("dataset_name", x.dataset_name);
    v("hard_select_task_id", x.hard_select_task_id);
    v("task_status", x.task_status);
    v("time", x.time);
    v("update_at", x.update_at);
}

template <class V, maybe_const<result> S> void describe(V& v, S& x) {
    v("annotated_sample_count", x.annotated_sample_count);
    v("confidence_scope", x.confidence_scope);
    v("dataset_name", x.dataset_name);
    v("dataset_type", x.dataset_type);
    v("description", x.description);
    v("dlf_model_job_name", x.dlf_model_job_name);
    v("dlf_service_job_name", x.dlf_service_job_name);
    v("dlf_train_job_name", x.dlf_train_job_name);
    v("events", x.events);
    v("hard_example_path", x.hard_example_path);
    v("hard_select_tasks", x.hard_select_tasks);
    v("manifest_path", x.manifest_path);
    v("model_id", x.model_id);
    v("model_name", x.model_name);
    v("model_version", x.model_version);
    v("samples", x.samples);
    v("service_id", x.service_id);
    v("service_name", x.service_name);
    v("service_resource", x.service_resource);
    v("total_sample_count", x.total_sample_count);
    v("train_data_path", x.train_data_path);
    v("train_job_id", x.train_job_id);
    v("train_job_name", x.train_job_name);
    v("unconfirmed_sample_count", x.unconfirmed_sample_count);
    v("version_id", x.version_id);
    v("version_name", x.version_name);
    v("workspace_id", x.workspace_id);
}

template <class V, maybe_const<task> S> void describe(V& v, S& x) {
    v("code", x.code);
    v("config", x.config);
    v("create_time", x.create_time);
    v("elapsed_time", x.elapsed_time);
    v("error_code", x.error_code);
    v("error_detail", x.error_detail);
    v("error_msg", x.error_msg);
    v("message", x.message);
    v("progress", x.progress);
    v("resource_id", x.resource_id);
    v("result", x.result);
    v("status", x.status);
    v("task_id", x.task_id);
    v("task_name", x.task_name);
    v("export_type", x.export_type);
    v("type", x.type);
    v("dataset_id", x.dataset_id);
    v("annotated_sample_count", x.annotated_sample_count);
    v("unconfirmed_sample_count", x.unconfirmed_sample_count);
    v("total_sample_count", x.total_sample_count);
}

template <class V, maybe_const<task_list> S> void describe(V& v, S& x) {
    v("tasks", x.tasks);
    v("total_count", x.total_count);
    v("exist_running_deploy_task", x.exist_running_deploy_task);
}

// Tables whose objects also carry arbitrary keys besides the documented ones.
template <class T>
concept has_extra = requires(T& t) {
    t.extra;
};

// ---------------------------------------------------------------------------------------
// Reading

// One step from the document to the value being read. Nodes live on the stack and the path
// string is only built when reading fails, so a good body costs no path allocations.
struct path_node {
    const path_node* parent = nullptr; // nullptr: the document itself
    std::string_view key;
    std::size_t index = 0;
    bool is_index = false;
};

void append_path(std::string& out, const path_node& n) {
    if (n.parent == nullptr) return;
    append_path(out, *n.parent);
    if (n.is_index) {
        out += '[';
        out += std::to_string(n.index);
        out += ']';
    } else {
        if (!out.empty()) out += '.';
        out.append(n.key);
    }
}

// JSON's own vocabulary: every numeric kind is "number".
std::string_view kind_name(const json::value& v) noexcept {
    switch (v.kind()) {
    case json::kind::null:
        return "null";
    case json::kind::bool_:
        return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
        return "number";
    case json::kind::string:
        return "string";
    case json::kind::array:
        return "array";
    case json::kind::object:
        return "object";
    }
    return "value";
}

std::string number_text(const json::value& v) {
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double()); // shortest round-trip
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

// Keeps the first error; every read returns false once it is set so callers unwind at once.
class reader {
public:
    bool fail(const path_node& at, std::string message) {
        if (!error_) {
            parse_error e;
            append_path(e.path, at);
            e.message = std::move(message);
            error_ = std::move(e);
        }
        return false;
    }
    bool type_error(const path_node& at, std::string_view expected, const json::value& got) {
        std::string m = "expected ";
        m += expected;
        m += ", got ";
        m += kind_name(got);
        return fail(at, std::move(m));
    }
    parse_error take_error() {
        return error_ ? std::move(*error_) : parse_error{{}, "unknown error"};
    }

private:
    std::optional<parse_error> error_;
};

// codec<T>: read(reader&, const json::value&, const path_node&, T&) -> bool and
// write(const T&) -> json::value. The primary template handles the described tables.
template <class T> struct codec;

bool read_lenient(const json::value& v, task_status& out);

// Visits a table's fields, reading each present, non-null key into its member.
struct field_reader {
    reader& r;
    const json::object& obj;
    const path_node& at;
    bool ok = true;

    template <class T> void operator()(std::string_view key, std::optional<T>& member) {
        if (!ok) return;
        const json::value* v = obj.if_contains(key);
        if (v == nullptr || v->is_null()) return; // null = absent
        if constexpr (std::is_same_v<T, task_status>) {
            member.emplace();
            if (!read_lenient(*v, *member)) member.reset();
            return;
        }
        path_node here{&at, key};
        member.emplace();
        if (!codec<T>::read(r, *v, here, *member)) {
            member.reset();
            ok = false;
        }
    }
    // A list that is empty rather than absent (task_list::tasks).
    template <class T> void operator()(std::string_view key, std::vector<T>& member) {
        if (!ok) return;
        const json::value* v = obj.if_contains(key);
        if (v == nullptr || v->is_null()) return;
        path_node here{&at, key};
        ok = codec<std::vector<T>>::read(r, *v, here, member);
    }
};

struct field_writer {
    json::object& obj;

    template <class T> void operator()(std::string_view key, const std::optional<T>& member) {
        if (member) obj.emplace(key, codec<T>::write(*member));
    }
    template <class T> void operator()(std::string_view key, const std::vector<T>& member) {
        obj.emplace(key, codec<std::vector<T>>::write(member));
    }
};

struct key_probe {
    std::string_view key;
    bool found = false;
    template <class M> void operator()(std::string_view k, const M&) { found = found || k == key; }
};

template <class T> bool is_documented_key(std::string_view key) {
    const T probe_target{}; // no allocation: empty optionals and an empty map
    key_probe p{key};
    describe(p, probe_target);
    return p.found;
}

template <> struct codec<std::string> {
    static bool read(reader& r, const json::value& v, const path_node& at, std::string& out) {
        const json::string* s = v.if_string();
        if (s == nullptr) return r.type_error(at, "string", v);
        out.assign(s->data(), s->size());
        return true;
    }
    static json::value write(const std::string& s) { return json::value(json::string_view(s)); }
};

template <> struct codec<bool> {
    static bool read(reader& r, const json::value& v, const path_node& at, bool& out) {
        const bool* b = v.if_bool();
        if (b == nullptr) return r.type_error(at, "boolean", v);
        out = *b;
        return true;
    }
    static json::value write(bool b) { return json::value(b); }
};

template <> struct codec<std::int64_t> {
    static bool read(reader& r, const json::value& v, const path_node& at, std::int64_t& out) {
        constexpr double two_63 = 0x1p63; // exact as a double; bounds the cast below
        switch (v.kind()) {
        case json::kind::int64:
            out = v.get_int64();
            return true;
        case json::kind::uint64:
            if (v.get_uint64() <=
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                out = static_cast<std::int64_t>(v.get_uint64());
                return true;
            }
            return r.fail(at, "expected integer, got number " + number_text(v) + " (out of range)");
        case json::kind::double_: {
            // Some serialisers write every number as a float: 49.0 is still the integer 49.
            const double d = v.get_double();
            if (std::trunc(d) != d)
                return r.fail(at, "expected integer, got number " + number_text(v));
            if (d < -two_63 || d >= two_63)
                return r.fail(at,
                              "expected integer, got number " + number_text(v) + " (out of range)");
            out = static_cast<std::int64_t>(d);
            return true;
        }
        default:
            return r.type_error(at, "integer", v);
        }
    }
    static json::value write(std::int64_t i) { return json::value(i); }
};

template <> struct codec<double> {
    static bool read(reader& r, const json::value& v, const path_node& at, double& out) {
        switch (v.kind()) {
        case json::kind::double_:
            out = v.get_double();
            return true;
        case json::kind::int64:
            out = static_cast<double>(v.get_int64());
            return true;
        case json::kind::uint64:
            out = static_cast<double>(v.get_uint64());
            return true;
        default:
            return r.type_error(at, "number", v);
        }
    }
    static json::value write(double d) { return json::value(d); }
};

template <> struct codec<json::value> {
    static bool read(reader&, const json::value& v, const path_node&, json::value& out) {
        // Copy into the default resource: the source may live in a parse-local arena.
        out = json::value(v, json::storage_ptr());
        return true;
    }
    static json::value write(const json::value& v) { return json::value(v, json::storage_ptr()); }
};

template <> struct codec<task_status> {
    static bool read(reader& r, const json::value& v, const path_node& at, task_status& out) {
        std::int64_t code = 0;
        if (!codec<std::int64_t>::read(r, v, at, code)) return false;
        out = static_cast<task_status>(code); // open: a later API's status keeps its code
        return true;
    }
    static json::value write(task_status s) { return json::value(to_code(s)); }
};

// Table 2 `status` alone is read leniently (see the header): a value that is not an integer
// leaves the member absent instead of failing the whole body.
bool read_lenient(const json::value& v, task_status& out) {
    reader scratch;
    return codec<task_status>::read(scratch, v, path_node{}, out);
}

// Inside arrays and maps a null is an error unless the element type is optional.
template <class T> struct codec<std::optional<T>> {
    static bool read(reader& r, const json::value& v, const path_node& at, std::optional<T>& out) {
        if (v.is_null()) {
            out.reset();
            return true;
        }
        out.emplace();
        return codec<T>::read(r, v, at, *out);
    }
    static json::value write(const std::optional<T>& x) {
        return x ? codec<T>::write(*x) : json::value(nullptr);
    }
};

template <class T> struct codec<std::vector<T>> {
    static bool read(reader& r, const json::value& v, const path_node& at, std::vector<T>& out) {
        const json::array* a = v.if_array();
        if (a == nullptr) return r.type_error(at, "array", v);
        out.clear();
        out.resize(a->size());
        for (std::size_t i = 0; i < a->size(); ++i) {
            path_node here{&at, {}, i, true};
            if (!codec<T>::read(r, (*a)[i], here, out[i])) return false;
        }
        return true;
    }
    static json::value write(const std::vector<T>& xs) {
        json::array a;
        a.reserve(xs.size());
        for (const T& x : xs)
            a.push_back(codec<T>::write(x));
        return a;
    }
};

template <class T> struct codec<std::map<std::string, T>> {
    static bool read(reader& r, const json::value& v, const path_node& at,
                     std::map<std::string, T>& out) {
        const json::object* o = v.if_object();
        if (o == nullptr) return r.type_error(at, "object", v);
        out.clear();
        for (const auto& kv : *o) {
            path_node here{&at, kv.key()};
            T item{};
            if (!codec<T>::read(r, kv.value(), here, item)) return false;
            out.insert_or_assign(std::string(kv.key()), std::move(item));
        }
        return true;
    }
    static json::value write(const std::map<std::string, T>& xs) {
        json::object o;
        o.reserve(xs.size());
        for (const auto& [k, x] : xs)
            o.emplace(k, codec<T>::write(x));
        return o;
    }
};

// The documented tables.
template <class T> struct codec {
    static bool read(reader& r, const json::value& v, const path_node& at, T& out) {
        const json::object* o = v.if_object();
        if (o == nullptr) return r.type_error(at, "object", v);
        field_reader fields{r, *o, at};
        describe(fields, out);
        if (!fields.ok) return false;
        if constexpr (has_extra<T>) {
            for (const auto& kv : *o) {
                if (is_documented_key<T>(kv.key())) continue;
                out.extra.insert_or_assign(std::string(kv.key()),
                                           json::value(kv.value(), json::storage_ptr()));
            }
        }
        return true;
    }
    static json::value write(const T& x) {
        json::object o;
        field_writer fields{o};
        describe(fields, x);
        if constexpr (has_extra<T>) {
            for (const auto& [k, val] : x.extra)
                o.emplace(k, val); // never replaces a documented key
        }
        return o;
    }
};

template <class T> expected<T, parse_error> parse_document(const json::value& body) {
    reader r;
    const path_node root;
    T out{};
    if (!codec<T>::read(r, body, root, out)) return unexpected{r.take_error()};
    return out;
}

// Parses `body` into a DOM in `mr` and hands it to `read`. The DOM only lives until it is
// converted: an arena, starting on the stack, is enough.
template <class R, class Read>
expected<R, parse_error> with_document(std::string_view body, Read&& read) {
    unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    unsigned char parser_stack[2048]; // a task's fields without a heap allocation
    json::parse_options opt;
    opt.max_depth = 64; // nested result.events can go a little deeper than the default 32
    json::parser p(json::storage_ptr(), opt, parser_stack, sizeof parser_stack);
    p.reset(&mr);
    json::error_code ec;
    const std::size_t consumed = p.write(body.data(), body.size(), ec);
    if (ec) {
        return unexpected{parse_error{
            {}, "invalid JSON: " + ec.message() + " at offset " + std::to_string(consumed)}};
    }
    const json::value doc = p.release();
    return read(doc);
}

template <class T> expected<T, parse_error> parse_text(std::string_view body) {
    return with_document<T>(body, [](const json::value& doc) { return parse_document<T>(doc); });
}

expected<task_id_page, parse_error> read_task_ids(const json::value& doc) {
    const auto* root = doc.if_object();
    if (!root)
        return unexpected{parse_error{{}, "expected object, got " + std::string(kind_name(doc))}};
    task_id_page out;
    if (const auto* total = root->if_contains("total_count"); total && !total->is_null()) {
        if (!total->is_int64() && !total->is_uint64())
            return unexpected{parse_error{"total_count", "expected integer, got " +
                                                             std::string(kind_name(*total))}};
        out.total_count = total->is_int64() ? total->get_int64()
                                            : static_cast<std::int64_t>(std::min<std::uint64_t>(
                                                  total->get_uint64(), INT64_MAX));
    }
    const auto* tasks = root->if_contains("tasks");
    if (!tasks || tasks->is_null()) return out;
    const auto* items = tasks->if_array();
    if (!items)
        return unexpected{
            parse_error{"tasks", "expected array, got " + std::string(kind_name(*tasks))}};
    out.items = items->size();
    out.task_ids.reserve(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) {
        const auto path = [&] { return "tasks[" + std::to_string(i) + "]"; };
        const auto* item = (*items)[i].if_object();
        if (!item)
            return unexpected{
                parse_error{path(), "expected object, got " + std::string(kind_name((*items)[i]))}};
        const auto* id = item->if_contains("task_id");
        if (!id || id->is_null()) continue;
        const auto* text = id->if_string();
        if (!text)
            return unexpected{parse_error{path() + ".task_id",
                                          "expected string, got " + std::string(kind_name(*id))}};
        if (!text->empty()) out.task_ids.emplace_back(text->data(), text->size());
    }
    return out;
}

} // namespace

expected<task, parse_error> parse_task(const json::value& body) {
    return parse_document<task>(body);
}
expected<task, parse_error> parse_task(std::string_view body) {
    return parse_text<task>(body);
}

expected<task_list, parse_error> parse_task_list(const json::value& body) {
    return parse_document<task_list>(body);
}
expected<task_list, parse_error> parse_task_list(std::string_view body) {
    return parse_text<task_list>(body);
}

expected<task_id_page, parse_error> parse_task_ids(std::string_view body) {
    return with_document<task_id_page>(body, read_task_ids);
}

json::value to_json(const task& t) {
    return codec<task>::write(t);
}
json::value to_json(const task_list& l) {
    return codec<task_list>::write(l);
}

} // namespace taskwatch::modelarts
