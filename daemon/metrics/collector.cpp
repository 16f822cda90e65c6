#include "taskwatch/metrics/collector.hpp"

#include "taskwatch/config/settings.hpp"
#include "taskwatch/modelarts/api_error.hpp"

#include <boost/version.hpp>
#include <openssl/crypto.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

namespace taskwatch::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using labels = std::vector<ClientMetric::Label>;

constexpr std::string_view from_polling =
    " (from taskwatch's own polling of ModelArts, not from ModelArts itself).";

MetricFamily family(std::string name, std::string_view help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::string(help);
    f.type = type;
    return f;
}

void add(MetricFamily& f, labels l, double value) {
    ClientMetric m;
    m.label = std::move(l);
    if (f.type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

// A family of one unlabelled sample: the daemon's own counts and gauges.
MetricFamily single(std::string name, std::string_view help, MetricType type, double value) {
    auto f = family(std::move(name), help, type);
    add(f, {}, value);
    return f;
}

// A sample per name of `names` (an enum's name table), labelled `label`, every one from 0:
// rate() and increase() then see a name's first count.
template <class Names>
void add_from_zero(MetricFamily& f, const std::string& label, const Names& names,
                   const std::map<std::string, std::uint64_t>& counts) {
    std::map<std::string, std::uint64_t> all;
    for (const auto& entry : names)
        all[std::string(entry.name)] = 0;
    for (const auto& [name, count] : counts)
        all[name] = count;
    for (const auto& [name, count] : all)
        add(f, {{label, name}}, static_cast<double>(count));
}

// Failures by reason (modelarts::error_kind_names).
void add_by_reason(MetricFamily& f, const std::map<std::string, std::uint64_t>& counts) {
    add_from_zero(f, "reason", modelarts::error_kind_names, counts);
}

double seconds(task::time_point t) {
    using namespace std::chrono;
    return static_cast<double>(duration_cast<milliseconds>(t.time_since_epoch()).count()) / 1000.0;
}

// The per-task families, in exposition order.
struct family_spec {
    std::string_view name, help;
};
constexpr std::array<family_spec, 10> task_families{{
    {"modelarts_task_info", "Always 1 for a watched task that answered at least once; labels "
                            "carry its name, resource id and algorithm type"},
    {"modelarts_task_status",
     "State set: 1 for the task's status at the last successful poll, 0 for the others; "
     "unknown is a status code outside -1..5"},
    {"modelarts_task_progress_ratio", "Progress of the task at the last successful poll, 0 to 1"},
    {"modelarts_task_samples", "Sample counts of the task's result at the last successful poll, "
                               "by kind (total, annotated, unconfirmed)"},
    {"modelarts_task_created_timestamp_seconds",
     "When the task was created, as ModelArts reports it, in seconds since the Unix epoch"},
    {"modelarts_task_last_change_timestamp_seconds",
     "When taskwatch last saw the task's status or progress change, in seconds since the Unix "
     "epoch"},
    {"modelarts_task_last_poll_timestamp_seconds",
     "When the task was last polled successfully, in seconds since the Unix epoch"},
    {"modelarts_task_up", "1 if the last poll of the task succeeded, 0 if it failed"},
    {"modelarts_task_estimated_completion_timestamp_seconds",
     "When the running task is estimated to finish, in seconds since the Unix epoch, from its "
     "smoothed progress rate; no sample until there is enough data"},
    {"modelarts_task_annotation_rate",
     "Annotated samples per second of the running task, smoothed over recent progress steps"},
}};

std::string task_help(std::size_t i) {
    return std::string(task_families[i].help) + std::string(from_polling);
}

using extra_labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Every series of one task, handed to `sink` as (family index, extra labels, value) after
// sink.begin_task(key, target labels). One generator for both Collect() and render().
template <class Sink> void emit_task_series(const poll::watched_task& tt, Sink& sink) {
    const auto& st = tt.state;
    sink.begin_task(st.key, tt.target_labels());
    if (st.last) {
        const auto& o = *st.last;
        sink.sample(0,
                    {{"task_name", o.task_name},
                     {"resource_id", o.resource_id},
                     {"algorithm_type", o.algorithm_type}},
                    1);
        // A field the API did not send has no sample; a code outside -1..5 is `unknown`.
        if (o.status) {
            for (const auto& [status, name] : modelarts::task_status_names)
                sink.sample(1, {{"status", name}}, *o.status == status ? 1 : 0);
            sink.sample(1, {{"status", "unknown"}}, modelarts::is_known(*o.status) ? 0 : 1);
        }
        if (o.progress) sink.sample(2, {}, *o.progress);
        if (o.total_sample_count)
            sink.sample(3, {{"kind", "total"}}, static_cast<double>(*o.total_sample_count));
        if (o.annotated_sample_count)
            sink.sample(3, {{"kind", "annotated"}}, static_cast<double>(*o.annotated_sample_count));
        if (o.unconfirmed_sample_count)
            sink.sample(3, {{"kind", "unconfirmed"}},
                        static_cast<double>(*o.unconfirmed_sample_count));
        if (o.create_time) sink.sample(4, {}, seconds(*o.create_time));
    }
    if (st.last_change) sink.sample(5, {}, seconds(*st.last_change));
    if (st.last_poll) sink.sample(6, {}, seconds(*st.last_poll));
    // Before the first poll there is nothing to say; after it, up says how the last one went.
    if (st.last_poll || st.last_error || st.up) sink.sample(7, {}, st.up ? 1 : 0);
    // Only while running with an estimate (the estimator drops it when the task stops).
    const auto estimate = tt.estimate.current();
    if (estimate.eta) sink.sample(8, {}, seconds(*estimate.eta));
    if (estimate.samples_per_second) sink.sample(9, {}, *estimate.samples_per_second);
}

// Runs emit_task_series over the watched tasks; returns how many there are.
template <class Sink> std::size_t emit_all_tasks(const poll::task_view& tasks, Sink& sink) {
    std::size_t watched = 0;
    tasks.visit(nullptr, [&](const poll::watched_task& tt) {
        ++watched;
        emit_task_series(tt, sink);
        return true;
    });
    return watched;
}

// Builds prometheus::MetricFamily objects (Collect()).
struct family_sink {
    std::array<MetricFamily, task_families.size()> f;
    labels base;

    family_sink() {
        for (std::size_t i = 0; i < f.size(); ++i)
            f[i] = family(std::string(task_families[i].name), task_help(i), MetricType::Gauge);
    }
    void begin_task(const task::task_key& key, const std::map<std::string, std::string>& target) {
        base.clear();
        base.push_back({"project_id", key.project_id});
        base.push_back({"dataset_id", key.dataset_id});
        base.push_back({"task_id", key.task_id.str()});
        for (const auto& [name, value] : target)
            base.push_back({name, value});
    }
    void sample(std::size_t i, extra_labels extra, double value) {
        labels l;
        l.reserve(base.size() + extra.size());
        l = base;
        for (const auto& [name, v] : extra)
            l.push_back({std::string(name), std::string(v)});
        add(f[i], std::move(l), value);
    }
};

void add_histogram(MetricFamily& f, const poll::latency_histogram& h) {
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        m.histogram.bucket.push_back({cumulative, h.bounds[i]});
    }
    cumulative += h.counts[h.bounds.size()];
    // The +Inf bucket must equal the count; the serializer adds it from sample_count.
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = h.sum;
    f.metric.push_back(std::move(m));
}

// The text format, byte for byte as prometheus::TextSerializer writes it (a unit test compares
// the two), without an ostream: at 10,000 tasks TextSerializer alone takes ~200 ms, this ~20.
void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "Nan";
    } else if (std::isinf(v)) {
        out += v < 0 ? "-Inf" : "+Inf";
    } else {
        // TextSerializer prints with precision max_digits10 - 1 (16) in the default float
        // format: %.16g, which to_chars with that precision spells the same, only faster.
        char buf[64];
        std::to_chars_result r;
        if (std::abs(v) < 1e15 && v == std::trunc(v) && !(v == 0 && std::signbit(v)))
            r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
        else
            r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general,
                              std::numeric_limits<double>::max_digits10 - 1);
        out.append(buf, r.ptr);
    }
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\' || c == '"' || c == '\n') {
            out.push_back('\\');
            out.push_back(c == '\n' ? 'n' : c);
        } else {
            out.push_back(c);
        }
    }
}

// "name[suffix]{labels[,extra]} "
void append_head(std::string& out, const MetricFamily& f, const ClientMetric& m,
                 std::string_view suffix = {}, std::string_view extra_name = {},
                 std::string_view extra_value = {}) {
    out += f.name;
    out += suffix;
    if (!m.label.empty() || !extra_name.empty()) {
        out.push_back('{');
        bool first = true;
        for (const auto& l : m.label) {
            if (!first) out.push_back(',');
            first = false;
            out += l.name;
            out += "=\"";
            append_label_value(out, l.value);
            out.push_back('"');
        }
        if (!extra_name.empty()) {
            if (!first) out.push_back(',');
            out += extra_name;
            out += "=\"";
            out += extra_value; // le and quantile values never need escaping
            out.push_back('"');
        }
        out.push_back('}');
    }
    out.push_back(' ');
}

void append_tail(std::string& out, const ClientMetric& m) {
    if (m.timestamp_ms != 0) {
        out.push_back(' ');
        out += std::to_string(m.timestamp_ms);
    }
    out.push_back('\n');
}

std::string double_text(double v) {
    std::string s;
    append_double(s, v);
    return s;
}

// Appends text directly (render()): per family one buffer, no MetricFamily in between.
struct text_sink {
    std::array<std::string, task_families.size()> out;
    std::string base; ///< escaped `project_id="...",...` of the current task

    explicit text_sink(std::size_t tasks) {
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i].reserve(tasks * (i == 1 ? 7 : 1) * (i < 8 ? 200 : 50)); // 8, 9: running only
    }
    void begin_task(const task::task_key& key, const std::map<std::string, std::string>& target) {
        base.clear();
        auto label = [&](std::string_view name, std::string_view value) {
            if (!base.empty()) base.push_back(',');
            base += name;
            base += "=\"";
            append_label_value(base, value);
            base.push_back('"');
        };
        label("project_id", key.project_id);
        label("dataset_id", key.dataset_id);
        label("task_id", key.task_id);
        for (const auto& [name, value] : target)
            label(name, value);
    }
    void sample(std::size_t i, extra_labels extra, double value) {
        auto& o = out[i];
        o += task_families[i].name;
        o.push_back('{');
        o += base;
        for (const auto& [name, v] : extra) {
            o.push_back(',');
            o += name;
            o += "=\"";
            append_label_value(o, v);
            o.push_back('"');
        }
        o += "} ";
        append_double(o, value);
        o.push_back('\n');
    }
};

// Appends only family `only`'s samples (stream()): one pass over the tasks per family. The
// label prefix of a task is built when its first sample in the family comes.
struct one_family_sink {
    std::string* out = nullptr;
    std::size_t only = 0;
    bool any = false; ///< a sample was written in this family (its HELP/TYPE are out)
    const task::task_key* key = nullptr;
    const std::map<std::string, std::string>* target = nullptr;
    text_sink text{0};
    bool base_ready = false;

    void begin_task(const task::task_key& k, const std::map<std::string, std::string>& t) {
        key = &k;
        target = &t;
        base_ready = false;
    }
    void sample(std::size_t i, extra_labels extra, double value) {
        if (i != only) return;
        if (!any) {
            any = true;
            *out += "# HELP ";
            *out += task_families[i].name;
            out->push_back(' ');
            *out += task_help(i);
            *out += "\n# TYPE ";
            *out += task_families[i].name;
            *out += " gauge\n";
        }
        if (!base_ready) {
            text.begin_task(*key, *target);
            base_ready = true;
        }
        text.out[i].swap(*out); // append in place, no copy
        text.sample(i, extra, value);
        text.out[i].swap(*out);
    }
};

} // namespace

collector::collector(collector_sources s)
    : sources_(std::move(s)) {}

std::function<bool(std::string&)> collector::stream(std::size_t piece_bytes) const {
    struct state {
        std::size_t family = 0;
        std::optional<task::task_key> after; ///< the last task written in this family
        bool family_started = false;
        std::size_t watched = 0;
        bool done = false;
    };
    auto st = std::make_shared<state>();
    return [this, st, piece_bytes](std::string& out) {
        if (st->done) return false;
        const auto limit = out.size() + piece_bytes; // `out` may hold earlier pieces
        if (sources_.tasks) {
            while (st->family < task_families.size() && out.size() < limit) {
                // The view is read afresh for every piece: tasks may come and go in between.
                const auto& tasks = sources_.tasks();
                one_family_sink sink;
                sink.out = &out;
                sink.only = st->family;
                sink.any = st->family_started;
                bool full = false;
                tasks.visit(st->after ? &*st->after : nullptr, [&](const poll::watched_task& tt) {
                    if (out.size() >= limit) {
                        full = true;
                        return false;
                    }
                    st->after = tt.state.key;
                    if (st->family == 0) ++st->watched;
                    emit_task_series(tt, sink);
                    return true;
                });
                st->family_started = sink.any;
                if (!full) {
                    ++st->family;
                    st->after.reset();
                    st->family_started = false;
                }
            }
            if (st->family < task_families.size()) return true;
        }
        out +=
            serialize(daemon_families(sources_.tasks ? std::optional(st->watched) : std::nullopt));
        st->done = true;
        return false;
    };
}

std::vector<MetricFamily> collector::Collect() const {
    std::vector<MetricFamily> out;
    std::optional<std::size_t> watched;
    if (sources_.tasks) {
        family_sink sink;
        watched = emit_all_tasks(sources_.tasks(), sink);
        for (auto& f : sink.f)
            if (!f.metric.empty()) out.push_back(std::move(f));
    }
    auto rest = daemon_families(watched);
    std::move(rest.begin(), rest.end(), std::back_inserter(out));
    return out;
}

std::string collector::render() const {
    std::string out;
    std::optional<std::size_t> watched;
    if (sources_.tasks) {
        const auto& tasks = sources_.tasks();
        text_sink sink(tasks.size());
        watched = emit_all_tasks(tasks, sink);
        std::size_t size = 0;
        for (const auto& b : sink.out)
            size += b.size() + 400;
        out.reserve(size + 16384);
        for (std::size_t i = 0; i < sink.out.size(); ++i) {
            if (sink.out[i].empty()) continue;
            out += "# HELP ";
            out += task_families[i].name;
            out.push_back(' ');
            out += task_help(i);
            out += "\n# TYPE ";
            out += task_families[i].name;
            out += " gauge\n";
            out += sink.out[i];
            std::string().swap(sink.out[i]); // give the memory back as we go
        }
    }
    out += serialize(daemon_families(watched));
    return out;
}

std::vector<MetricFamily> collector::daemon_families(std::optional<std::size_t> watched) const {
    std::vector<MetricFamily> out;
    if (watched) {
        out.push_back(single("taskwatch_tasks", "Tasks taskwatch is watching", MetricType::Gauge,
                             static_cast<double>(*watched)));
    }

    auto build = family("taskwatch_build_info",
                        "Always 1; labels carry the version of taskwatch and of its libraries",
                        MetricType::Gauge);
    add(build,
        {{"version", sources_.version},
         {"boost_version", std::to_string(BOOST_VERSION / 100000) + "." +
                               std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                               std::to_string(BOOST_VERSION % 100)},
         {"openssl_version", OpenSSL_version(OPENSSL_VERSION_STRING)}},
        1);
    out.push_back(std::move(build));

    if (sources_.shard) {
        // Two plain numbers rather than labels: `count(taskwatch_shard_index)` against
        // `max(taskwatch_shards)` finds a missing shard, `count_values` a doubled one. Not
        // `_count`: the text format reserves that suffix for summaries and histograms.
        const auto sh = sources_.shard();
        out.push_back(single("taskwatch_shard_index",
                             "The shard this instance watches, 0 to taskwatch_shards - 1",
                             MetricType::Gauge, static_cast<double>(sh.index)));
        out.push_back(single("taskwatch_shards",
                             "How many shards split the tasks (1: this instance watches all)",
                             MetricType::Gauge, static_cast<double>(sh.count)));
    }

    if (sources_.stats) {
        const auto& s = sources_.stats();
        out.push_back(single("taskwatch_polls_total",
                             "Task polls (GET of one task) taskwatch made, failed ones included",
                             MetricType::Counter, static_cast<double>(s.polls)));

        auto failures = family("taskwatch_poll_failures_total",
                               "Task polls that failed, by reason (the class of the error)",
                               MetricType::Counter);
        add_by_reason(failures, s.failures_by_reason);
        out.push_back(std::move(failures));

        out.push_back(single("taskwatch_listings_total",
                             "List requests discovery made (one per target and task type each "
                             "round), failed ones included",
                             MetricType::Counter, static_cast<double>(s.listings)));
        auto listing_failures =
            family("taskwatch_listing_failures_total",
                   "Discovery's list requests that failed, by reason (the class of the error)",
                   MetricType::Counter);
        add_by_reason(listing_failures, s.listing_failures_by_reason);
        out.push_back(std::move(listing_failures));
        if (!s.discovery.empty()) {
            auto up = family("taskwatch_discovery_up",
                             "1 when the target's last discovery round listed every task type, 0 "
                             "when a listing failed (its new tasks are not seen meanwhile)",
                             MetricType::Gauge);
            for (const auto& [target, error] : s.discovery)
                add(up, {{"project_id", target.first}, {"dataset_id", target.second}},
                    error.empty() ? 1.0 : 0.0);
            out.push_back(std::move(up));
        }

        auto duration =
            family("taskwatch_poll_duration_seconds",
                   "How long task polls took, failed ones included", MetricType::Histogram);
        add_histogram(duration, s.poll_duration);
        out.push_back(std::move(duration));

        auto events = family("taskwatch_events_total",
                             "Events taskwatch emitted and committed to its outbox, by type",
                             MetricType::Counter);
        add_from_zero(events, "type", task::event_type_names, s.events_by_type);
        out.push_back(std::move(events));

        out.push_back(single("taskwatch_state_write_failures_total",
                             "Commits to the state database that failed (disk full, "
                             "read-only, file gone); retried every 200 ms",
                             MetricType::Counter, static_cast<double>(s.commit_failures)));
        out.push_back(single("taskwatch_state_pending_writes",
                             "Task states and events waiting in memory to be written to the "
                             "state database",
                             MetricType::Gauge, static_cast<double>(s.pending_writes)));
        out.push_back(single("taskwatch_state_held_polls_total",
                             "Polls not applied because 100,000 events were waiting to be written "
                             "to the state database (their changes are seen again later)",
                             MetricType::Counter, static_cast<double>(s.held_polls)));
    }

    if (sources_.webhooks) {
        auto hooks = sources_.webhooks();
        auto delivered = family("taskwatch_webhook_deliveries_total",
                                "Events a webhook receiver accepted", MetricType::Counter);
        auto failed =
            family("taskwatch_webhook_delivery_failures_total",
                   "Failed delivery attempts to a webhook, by reason", MetricType::Counter);
        auto queue = family("taskwatch_webhook_queue_length",
                            "Events waiting for delivery to a webhook (due or backing off)",
                            MetricType::Gauge);
        auto oldest = family("taskwatch_webhook_oldest_pending_timestamp_seconds",
                             "When the oldest event still waiting for a webhook was emitted, in "
                             "seconds since the Unix epoch; 0 when nothing waits",
                             MetricType::Gauge);
        auto dead = family("taskwatch_webhook_dead_letters",
                           "Events given up for a webhook after max_attempts, kept in the outbox",
                           MetricType::Gauge);
        for (const auto& h : hooks) {
            labels l{{"webhook", h.name}};
            add(delivered, l, static_cast<double>(h.delivered));
            for (const auto& [reason, count] : h.failures)
                add(failed, {{"webhook", h.name}, {"reason", reason}}, static_cast<double>(count));
            add(queue, l, static_cast<double>(h.queue_length));
            add(oldest, l, h.oldest_pending ? seconds(*h.oldest_pending) : 0);
            add(dead, std::move(l), static_cast<double>(h.dead_letters));
        }
        for (auto* fam : {&delivered, &failed, &queue, &oldest, &dead})
            if (!fam->metric.empty()) out.push_back(std::move(*fam));
    }

    if (sources_.process) {
        if (auto p = sources_.process()) {
            auto one = [&](const char* name, std::string_view help, MetricType type, double v) {
                out.push_back(single(name, help, type, v));
            };
            one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                MetricType::Counter, p->cpu_seconds);
            one("process_resident_memory_bytes", "Resident memory size in bytes", MetricType::Gauge,
                p->resident_memory_bytes);
            one("process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::Gauge,
                p->virtual_memory_bytes);
            one("process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds", MetricType::Gauge,
                p->start_time_seconds);
            one("process_open_fds", "Number of open file descriptors", MetricType::Gauge,
                p->open_fds);
            one("process_max_fds", "Maximum number of open file descriptors", MetricType::Gauge,
                p->max_fds);
        }
    }
    return out;
}

std::string serialize(const std::vector<MetricFamily>& families) {
    std::size_t series = 0;
    for (const auto& f : families)
        series += f.metric.size();
    std::string out;
    out.reserve(series * 200 + families.size() * 160);
    for (const auto& f : families) {
        if (!f.help.empty()) {
            out += "# HELP ";
            out += f.name;
            out.push_back(' ');
            out += f.help;
            out.push_back('\n');
        }
        out += "# TYPE ";
        out += f.name;
        switch (f.type) {
        case MetricType::Counter:
            out += " counter\n";
            break;
        case MetricType::Gauge:
            out += " gauge\n";
            break;
        case MetricType::Summary:
            out += " summary\n";
            break;
        case MetricType::Untyped:
            out += " untyped\n";
            break;
        case MetricType::Histogram:
            out += " histogram\n";
            break;
        default:
            out += " untyped\n";
            break;
        }
        for (const auto& m : f.metric) {
            switch (f.type) {
            case MetricType::Counter:
                append_head(out, f, m);
                append_double(out, m.counter.value);
                append_tail(out, m);
                break;
            case MetricType::Gauge:
                append_head(out, f, m);
                append_double(out, m.gauge.value);
                append_tail(out, m);
                break;
            case MetricType::Summary:
                append_head(out, f, m, "_count");
                append_uint(out, m.summary.sample_count);
                append_tail(out, m);
                append_head(out, f, m, "_sum");
                append_double(out, m.summary.sample_sum);
                append_tail(out, m);
                for (const auto& q : m.summary.quantile) {
                    append_head(out, f, m, "", "quantile", double_text(q.quantile));
                    append_double(out, q.value);
                    append_tail(out, m);
                }
                break;
            case MetricType::Histogram: {
                append_head(out, f, m, "_count");
                append_uint(out, m.histogram.sample_count);
                append_tail(out, m);
                append_head(out, f, m, "_sum");
                append_double(out, m.histogram.sample_sum);
                append_tail(out, m);
                double last = -std::numeric_limits<double>::infinity();
                for (const auto& b : m.histogram.bucket) {
                    append_head(out, f, m, "_bucket", "le", double_text(b.upper_bound));
                    last = b.upper_bound;
                    append_uint(out, b.cumulative_count);
                    append_tail(out, m);
                }
                if (last != std::numeric_limits<double>::infinity()) {
                    append_head(out, f, m, "_bucket", "le", "+Inf");
                    append_uint(out, m.histogram.sample_count);
                    append_tail(out, m);
                }
                break;
            }
            default:
                append_head(out, f, m);
                append_double(out, m.untyped.value);
                append_tail(out, m);
                break;
            }
        }
    }
    return out;
}

std::string serialize_with_prometheus_cpp(const std::vector<MetricFamily>& families) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return std::move(out).str();
}

} // namespace taskwatch::metrics
