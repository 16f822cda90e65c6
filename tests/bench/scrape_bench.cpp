// Cost of one scrape with 1,000, 10,000 and 50,000 synthetic tasks of realistic id lengths, two
// target labels each: Collect() + serialize (the MetricFamily path), prometheus::TextSerializer
// on the same families (once), collector::render() (what GET /metrics serves), GET
// /api/v1/tasks and GET /. Goal: /metrics under 100 ms at 10,000 tasks. Prints milliseconds
// (best of a few runs) and megabytes.
#include "taskwatch/metrics/collector.hpp"
#include "taskwatch/web/status_page.hpp"
#include "taskwatch/web/task_json.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <string>

using namespace taskwatch;

namespace {

std::string id19(std::size_t i, char prefix) {
    std::string s(19, 'a');
    s[0] = prefix;
    for (std::size_t k = 18; i > 0 && k > 0; --k, i /= 36)
        s[k] = "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
    return s;
}

poll::task_table make_tasks(std::size_t n) {
    poll::task_table m;
    const auto now = std::chrono::system_clock::now();
    const modelarts::task_status cycle[] = {
        modelarts::task_status::running, modelarts::task_status::succeeded,
        modelarts::task_status::failed, modelarts::task_status::queuing};
    for (std::size_t i = 0; i < n; ++i) {
        task::task_key key{"0123456789abcdef0123456789abcdef", id19(i / 100, 'D'), id19(i, 'T')};
        poll::watched_task tt;
        tt.state.key = key;
        task::observation o;
        o.status = cycle[i % 4];
        o.progress = static_cast<double>(i % 1000) / 1000;
        o.task_name = "auto-label-task-number-" + std::to_string(i);
        o.resource_id = id19(i, 'R');
        o.algorithm_type = "fast";
        o.message = "Start to export annotations.";
        o.total_sample_count = 1000;
        o.annotated_sample_count = static_cast<std::int64_t>(i % 1000);
        o.unconfirmed_sample_count = 3;
        o.create_time = now - std::chrono::hours(3);
        tt.state.last = o;
        tt.state.last_poll = now;
        tt.state.last_change = now - std::chrono::minutes(2);
        tt.state.up = true;
        tt.labels = poll::shared_labels({{"team", "vision"}, {"env", "production"}});
        m.tasks.emplace(key, std::move(tt));
    }
    return m;
}

template <class F> double best_ms(int runs, F f) {
    double best = 1e300;
    for (int r = 0; r < runs; ++r) {
        auto start = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double, std::milli>(
                                  std::chrono::steady_clock::now() - start)
                                  .count());
    }
    return best;
}

} // namespace

int main() {
    std::printf("%8s %10s %10s %12s %12s %8s %9s %8s %9s %8s\n", "tasks", "Collect()", "serialize",
                "TextSer.", "/metrics", "MB", "api", "MB", "page", "MB");
    for (std::size_t n : {1'000u, 10'000u, 50'000u}) {
        const auto tasks = make_tasks(n);
        poll::watcher_stats stats;
        metrics::collector_sources src;
        src.tasks = [&]() -> const poll::task_view& { return tasks; };
        src.stats = [&]() -> const poll::watcher_stats& { return stats; };
        src.process = [] { return metrics::read_process_stats(); };
        metrics::collector c(std::move(src));
        const int runs = n >= 50'000 ? 3 : 5;

        std::vector<prometheus::MetricFamily> families;
        std::string text, api, page;
        const double collect = best_ms(runs, [&] { families = c.Collect(); });
        const double ser = best_ms(runs, [&] { text = metrics::serialize(families); });
        std::string reference;
        const double reference_ms =
            best_ms(1, [&] { reference = metrics::serialize_with_prometheus_cpp(families); });
        const double both = best_ms(runs, [&] { text = c.render(); });
        const double api_ms = best_ms(runs, [&] { api = web::tasks_json(tasks); });
        web::page_summary sum;
        sum.now = std::chrono::system_clock::now();
        const double page_ms = best_ms(runs, [&] { page = web::render_status_page(tasks, sum); });
        std::printf("%8zu %8.1fms %8.1fms %10.1fms %10.1fms %8.1f %7.1fms %8.1f %6.1fms %8.1f\n", n,
                    collect, ser, reference_ms, both, static_cast<double>(text.size()) / 1e6,
                    api_ms, static_cast<double>(api.size()) / 1e6, page_ms,
                    static_cast<double>(page.size()) / 1e6);
    }
}
