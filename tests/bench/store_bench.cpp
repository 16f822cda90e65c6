// Prints how long the state store takes to commit per-tick batches and to drain the outbox.
// Usage: store_bench [DIR] (default: a fresh folder under $TMPDIR; synchronous=FULL applies).
#include "support/files.hpp"
#include "taskwatch/state/store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

using namespace taskwatch;
using clock_type = std::chrono::steady_clock;

namespace {

double ms_since(clock_type::time_point start) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
    std::optional<test::temp_dir> scratch;
    std::string dir = argc > 1 ? argv[1] : "";
    if (dir.empty()) dir = scratch.emplace("store-bench").str();
    state::store s(dir);
    const auto t0 = task::time_point(std::chrono::milliseconds(1'790'000'000'000));
    const auto route = [](const task::event&) { return std::vector<std::string>{"a", "b"}; };
    constexpr int tasks = 1000, batches = 10;
    std::vector<task::task_state> states(tasks);
    for (int i = 0; i < tasks; ++i)
        states[static_cast<std::size_t>(i)].key = {"proj", "ds", "task-" + std::to_string(i)};

    double worst = 0, total = 0;
    for (int b = 0; b < batches; ++b) {
        std::vector<state::change> batch;
        for (auto& st : states) {
            task::event e;
            e.id =
                task::event_id(st.key, task::event_type::progress, std::to_string(st.event_seq++));
            e.type = task::event_type::progress;
            e.time = t0 + std::chrono::seconds(b);
            e.key = st.key;
            e.current = task::snapshot{};
            st.last_poll = e.time;
            batch.push_back({st, {e}});
        }
        auto start = clock_type::now();
        s.commit(batch, route);
        double ms = ms_since(start);
        worst = std::max(worst, ms);
        total += ms;
    }
    std::printf("commit: %d batches of %d changes (1 event, 2 webhooks each): mean %.1f ms, worst "
                "%.1f ms\n",
                batches, tasks, total / batches, worst);

    auto start = clock_type::now();
    std::size_t delivered = 0;
    for (;;) {
        auto due = s.due("a", t0 + std::chrono::hours(1), 100);
        if (due.empty()) break;
        for (const auto& d : due)
            s.mark_delivered(d.event.id, "a", t0 + std::chrono::hours(1));
        delivered += due.size();
    }
    double ms = ms_since(start);
    std::printf("drain: %zu deliveries (due 100 + mark_delivered each) in %.0f ms: %.2f ms each\n",
                delivered, ms, ms / static_cast<double>(delivered));
    start = clock_type::now();
    auto n = s.load_tasks().size();
    std::printf("load_tasks: %zu tasks in %.1f ms\n", n, ms_since(start));
}
