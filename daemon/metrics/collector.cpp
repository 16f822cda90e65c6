#include "taskwatch/metrics/collector.hpp"

#include "taskwatch/config/settings.hpp"
#include "taskwatch/modelarts/api_error.hpp"

#include <boost/version.hpp>
#include <openssl/crypto.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <chrono>
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

constexpr std::array<modelarts::task_status, 7> all_statuses{
    modelarts::task_status::queuing,   modelarts::task_status::initializing,
    modelarts::task_status::running,   modelarts::task_status::failed,
    modelarts::task_status::succeeded, modelarts::task_status::stopping,
    modelarts::task_status::stopped,
};

constexpr std::array<modelarts::error_kind, 15> all_error_kinds{
    modelarts::error_kind::dns,          modelarts::error_kind::connect,
    modelarts::error_kind::proxy,        modelarts::error_kind::tls,
    modelarts::error_kind::timeout,      modelarts::error_kind::io,
    modelarts::error_kind::protocol,     modelarts::error_kind::body_too_large,
    modelarts::error_kind::cancelled,    modelarts::error_kind::auth,
    modelarts::error_kind::throttled,    modelarts::error_kind::not_found,
    modelarts::error_kind::client_error, modelarts::error_kind::server_error,
    modelarts::error_kind::malformed,
};

MetricFamily family(std::string name, std::string_view help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::string(help);
    f.type = type;
    return f;
}

MetricFamily task_family(std::string name, std::string_view help) {
    return family(std::move(name), std::string(help) + std::string(from_polling),
                  MetricType::Gauge);
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

labels with(const labels& base, std::string name, std::string value) {
    labels l;
    l.reserve(base.size() + 1);
    l = base;
    l.push_back({std::move(name), std::move(value)});
    return l;
}

double seconds(task::time_point t) {
    using namespace std::chrono;
    return static_cast<double>(duration_cast<milliseconds>(t.time_since_epoch()).count()) / 1000.0;
}

void add_task_series(const task::task_key& key, const poll::tracked_task& tt,
                     std::array<MetricFamily, 8>& f) {
    const auto& st = tt.state;
    labels base;
    base.reserve(3 + tt.target_labels().size() + 1);
    base.push_back({"project_id", key.project_id});
    base.push_back({"dataset_id", key.dataset_id});
    base.push_back({"task_id", key.task_id});
    for (const auto& [name, value] : tt.target_labels())
        base.push_back({name, value});

    if (st.last) {
        const auto& o = *st.last;
        auto info = base;
        info.push_back({"task_name", o.task_name});
        info.push_back({"resource_id", o.resource_id});
        info.push_back({"algorithm_type", o.algorithm_type});
        add(f[0], std::move(info), 1);
        for (auto s : all_statuses)
            add(f[1], with(base, "status", std::string(modelarts::to_string(s))),
                o.status == s ? 1 : 0);
        add(f[2], base, o.progress);
        if (o.total_sample_count)
            add(f[3], with(base, "kind", "total"), static_cast<double>(*o.total_sample_count));
        if (o.annotated_sample_count)
            add(f[3], with(base, "kind", "annotated"),
                static_cast<double>(*o.annotated_sample_count));
        if (o.unconfirmed_sample_count)
            add(f[3], with(base, "kind", "unconfirmed"),
                static_cast<double>(*o.unconfirmed_sample_count));
        if (o.create_time) add(f[4], base, seconds(*o.create_time));
    }
    if (st.last_change) add(f[5], base, seconds(*st.last_change));
    if (st.last_poll) add(f[6], base, seconds(*st.last_poll));
    // Before the first poll there is nothing to say; after it, up says how the last one went.
    if (st.last_poll || st.last_error || st.up) add(f[7], std::move(base), st.up ? 1 : 0);
}

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

} // namespace

collector::collector(collector_sources s) : sources_(std::move(s)) {}

std::vector<MetricFamily> collector::Collect() const {
    std::vector<MetricFamily> out;

    if (sources_.tasks) {
        const auto& tasks = sources_.tasks();
        std::array<MetricFamily, 8> f{
            task_family("modelarts_task_info",
                        "Always 1 for a watched task that answered at least once; labels carry "
                        "its name, resource id and algorithm type"),
            task_family("modelarts_task_status",
                        "State set: 1 for the task's status at the last successful poll, 0 for "
                        "the others"),
            task_family("modelarts_task_progress_ratio",
                        "Progress of the task at the last successful poll, 0 to 1"),
            task_family("modelarts_task_samples",
                        "Sample counts of the task's result at the last successful poll, by kind "
                        "(total, annotated, unconfirmed)"),
            task_family("modelarts_task_created_timestamp_seconds",
                        "When the task was created, as ModelArts reports it, in seconds since "
                        "the Unix epoch"),
            task_family("modelarts_task_last_change_timestamp_seconds",
                        "When taskwatch last saw the task's status or progress change, in "
                        "seconds since the Unix epoch"),
            task_family("modelarts_task_last_poll_timestamp_seconds",
                        "When the task was last polled successfully, in seconds since the Unix "
                        "epoch"),
            task_family("modelarts_task_up",
                        "1 if the last poll of the task succeeded, 0 if it failed"),
        };
        std::size_t watched = 0;
        for (auto& fam : f)
            fam.metric.reserve(tasks.size() * (&fam == &f[1] ? all_statuses.size() : 1));
        for (const auto& [key, tt] : tasks) {
            if (tt.state.forgotten || tt.state.gone) continue;
            ++watched;
            add_task_series(key, tt, f);
        }
        for (auto& fam : f)
            if (!fam.metric.empty()) out.push_back(std::move(fam));

        auto n = family("taskwatch_tasks", "Tasks taskwatch is watching", MetricType::Gauge);
        add(n, {}, static_cast<double>(watched));
        out.push_back(std::move(n));
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

    if (sources_.stats) {
        const auto& s = sources_.stats();
        auto polls = family("taskwatch_polls_total",
                            "Task polls (GET of one task) taskwatch made, failed ones included",
                            MetricType::Counter);
        add(polls, {}, static_cast<double>(s.polls));
        out.push_back(std::move(polls));

        auto failures = family("taskwatch_poll_failures_total",
                               "Task polls that failed, by reason (the class of the error)",
                               MetricType::Counter);
        std::map<std::string, std::uint64_t> by_reason;
        for (auto k : all_error_kinds)
            by_reason[std::string(modelarts::to_string(k))] = 0;
        for (const auto& [reason, count] : s.failures_by_reason)
            by_reason[reason] = count;
        for (const auto& [reason, count] : by_reason)
            add(failures, {{"reason", reason}}, static_cast<double>(count));
        out.push_back(std::move(failures));

        auto duration = family("taskwatch_poll_duration_seconds",
                               "How long task polls took, failed ones included",
                               MetricType::Histogram);
        add_histogram(duration, s.poll_duration);
        out.push_back(std::move(duration));

        auto events = family("taskwatch_events_total",
                             "Events taskwatch emitted and committed to its outbox, by type",
                             MetricType::Counter);
        std::map<std::string, std::uint64_t> by_type;
        for (auto t : config::event_types)
            by_type[std::string(t)] = 0;
        for (const auto& [type, count] : s.events_by_type)
            by_type[type] = count;
        for (const auto& [type, count] : by_type)
            add(events, {{"type", type}}, static_cast<double>(count));
        out.push_back(std::move(events));
    }

    if (sources_.webhooks) {
        auto hooks = sources_.webhooks();
        auto delivered = family("taskwatch_webhook_deliveries_total",
                                "Events a webhook receiver accepted", MetricType::Counter);
        auto failed = family("taskwatch_webhook_delivery_failures_total",
                             "Failed delivery attempts to a webhook, by reason",
                             MetricType::Counter);
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
            add(delivered, l,
                static_cast<double>(sources_.deliveries ? sources_.deliveries->deliveries(h.name)
                                                        : 0));
            if (sources_.deliveries)
                for (const auto& [k, count] : sources_.deliveries->failures())
                    if (k.first == h.name)
                        add(failed, {{"webhook", h.name}, {"reason", k.second}},
                            static_cast<double>(count));
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
                auto f = family(name, help, type);
                add(f, {}, v);
                out.push_back(std::move(f));
            };
            one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                MetricType::Counter, p->cpu_seconds);
            one("process_resident_memory_bytes", "Resident memory size in bytes",
                MetricType::Gauge, p->resident_memory_bytes);
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
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return std::move(out).str();
}

} // namespace taskwatch::metrics
