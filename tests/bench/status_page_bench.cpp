// Cost of rendering the status page (GET /) and a task page with 1,000, 10,000 and 50,000
// synthetic tasks: the default view (page 1, 200 rows with sparklines of 96 history samples
// each), a text search, a status filter, the last page, and one task's page with a history of
// 2,000 samples and 50 events. Goal: the status page under 200 ms at 10,000 tasks. Prints
// milliseconds (best of a few runs) and kilobytes.
#include "taskwatch/web/status_page.hpp"
#include "taskwatch/web/task_page.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace taskwatch;

namespace {

std::string id19(std::size_t i, char prefix) {
    std::string s(19, 'a');
    s[0] = prefix;
    for (std::size_t k = 18; i > 0 && k > 0; --k, i /= 36)
        s[k] = "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
    return s;
}

poll::task_table make_tasks(std::size_t n, task::time_point now) {
    poll::task_table m;
    const modelarts::task_status cycle[] = {
        modelarts::task_status::running, modelarts::task_status::succeeded,
        modelarts::task_status::failed, modelarts::task_status::queuing,
        modelarts::task_status::running};
    for (std::size_t i = 0; i < n; ++i) {
        task::task_key key{"0123456789abcdef0123456789abcdef", id19(i / 100, 'D'), id19(i, 'T')};
        poll::watched_task tt;
        tt.state.key = key;
        task::observation o;
        o.status = cycle[i % 5];
        o.progress = static_cast<double>(i % 1000) / 1000;
        o.task_name = "auto-label-task-number-" + std::to_string(i);
        o.resource_id = id19(i, 'R');
        o.algorithm_type = "fast";
        o.message = "Start to export annotations.";
        o.total_sample_count = 1000;
        o.annotated_sample_count = static_cast<std::int64_t>(i % 1000);
        o.create_time = now - std::chrono::hours(3);
        tt.state.last = o;
        tt.state.last_poll = now;
        tt.state.last_change = now - std::chrono::minutes(2);
        tt.state.up = i % 97 != 0;
        if (!tt.state.up) tt.state.last_error = task::poll_error{"timeout", "", "", ""};
        tt.state.stalled = i % 89 == 0;
        tt.labels = poll::shared_labels({{"team", i % 3 ? "vision" : "audio"}, {"env", "prod"}});
        // A running task's estimator has seen a steady run: its ETA is computed per row.
        for (int k = 0; k < 5 && o.status == modelarts::task_status::running; ++k)
            tt.estimate.observe(now - std::chrono::minutes(5 - k), o.status, *o.progress * k / 4,
                                *o.annotated_sample_count * k / 4);
        m.tasks.emplace(key, std::move(tt));
    }
    return m;
}

std::vector<web::history_point> make_history(std::size_t n, task::time_point now) {
    std::vector<web::history_point> h;
    for (std::size_t i = 0; i < n; ++i)
        h.push_back({now - std::chrono::minutes(15) * static_cast<int>(n - i),
                     modelarts::task_status::running, static_cast<double>(i) / n,
                     static_cast<std::int64_t>(i)});
    return h;
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
    const auto now = std::chrono::system_clock::now();
    const auto day = make_history(96, now); // a day at one sample per 15 min
    std::printf("%8s %14s %14s %14s %14s %14s\n", "tasks", "/ (page 1)",
                "/?q=", "/?status=", "last page", "task page");
    for (std::size_t n : {1'000u, 10'000u, 50'000u}) {
        const auto tasks = make_tasks(n, now);
        web::page_summary sum;
        sum.now = now;
        sum.version = "bench";
        const int runs = n >= 50'000 ? 3 : 5;
        auto render = [&](std::string_view query, std::string& out) {
            web::page_options o;
            o.query = web::parse_page_query(query);
            // A copy per row, as a store read would cost at least.
            o.history = [&](const task::task_key&) { return day; };
            return best_ms(runs, [&] { out = web::render_status_page(tasks, sum, o); });
        };
        std::string a, b, c, d, e;
        const double first = render("", a);
        const double search = render("q=number-12", b);
        const double status = render("status=failed&label=team%3Dvision", c);
        const double last = render("page=1000000", d);

        web::task_page_input in;
        in.history_kept = true;
        in.history = make_history(2000, now);
        for (int i = 0; i < 50; ++i) {
            task::event ev;
            ev.id = "evt_" + std::to_string(i);
            ev.type = task::event_type::progress;
            ev.time = now - std::chrono::minutes(50 - i);
            ev.current.emplace();
            ev.current->status = modelarts::task_status::running;
            ev.current->progress = i / 50.0;
            in.events.push_back({ev, {{"ops", "delivered", 0, ev.time, "", ev.time}}});
        }
        const auto& one = tasks.tasks.begin()->second;
        const double task_ms = best_ms(runs, [&] { e = web::render_task_page(one, in, sum); });
        auto kb = [](const std::string& s) { return static_cast<double>(s.size()) / 1e3; };
        std::printf("%8zu %6.1fms %5.0fkB %6.1fms %5.0fkB %6.1fms %5.0fkB %6.1fms %5.0fkB "
                    "%6.1fms %5.0fkB\n",
                    n, first, kb(a), search, kb(b), status, kb(c), last, kb(d), task_ms, kb(e));
    }
}
