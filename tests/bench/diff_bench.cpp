// Cost of one diff: 10,000 tasks polled every 15 s is ~700 diffs a second, nearly all of them
// "nothing changed". Prints ns per diff for the in-place, moving and copying entry points.
#include "taskwatch/task/diff.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace taskwatch::task;
using taskwatch::modelarts::task_status;

namespace {

observation make_observation(std::size_t i, double progress) {
    observation o;
    o.status = task_status::running;
    o.progress = progress;
    o.task_name = "auto-label-task-number-" + std::to_string(i);
    o.resource_id = "XGrRZuCV1qmMxnsmD5u" + std::to_string(i);
    o.algorithm_type = "fast";
    o.code = "ModelArts.4902";
    o.message = "Start to export annotations. Export task id is jMZGm2SBp4Ymr2wrhAK";
    o.total_sample_count = 49;
    o.annotated_sample_count = 30;
    return o;
}

template <class F> double ns_per_call(std::size_t calls, F f) {
    auto start = std::chrono::steady_clock::now();
    f();
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
    return ns.count() / static_cast<double>(calls);
}

} // namespace

int main() {
    constexpr std::size_t tasks = 10'000;
    constexpr int rounds = 20;
    const time_point t0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30};
    diff_settings settings;
    settings.progress_steps = {0.25, 0.1};

    std::vector<task_state> states(tasks);
    std::vector<poll_outcome> unchanged;
    std::vector<poll_outcome> rising;
    for (std::size_t i = 0; i < tasks; ++i) {
        states[i].key = {"0a1b2c3d4e5f60718293a4b5c6d7e8f9", "dataset-" + std::to_string(i),
                         "task-id-" + std::to_string(i) + "-xxxxxxxxxxxxxxxx"};
        states[i].last = make_observation(i, 0.4);
        states[i].up = true;
        states[i].last_change = states[i].progress_since = states[i].last_poll = t0;
        unchanged.push_back(poll_ok{make_observation(i, 0.4)});
        rising.push_back(poll_ok{make_observation(i, 0.55)});
    }

    std::vector<event> events;
    std::size_t emitted = 0;
    double in_place = ns_per_call(tasks * rounds, [&] {
        for (int r = 0; r < rounds; ++r)
            for (std::size_t i = 0; i < tasks; ++i) {
                events.clear();
                advance(states[i], unchanged[i], settings, t0 + std::chrono::seconds{15 * r},
                        events);
                emitted += events.size();
            }
    });
    double copying = ns_per_call(tasks * rounds, [&] {
        for (int r = 0; r < rounds; ++r)
            for (std::size_t i = 0; i < tasks; ++i) {
                auto res = diff(states[i], unchanged[i], settings, t0);
                emitted += res.events.size();
            }
    });
    double moving = ns_per_call(tasks * rounds, [&] {
        for (int r = 0; r < rounds; ++r)
            for (std::size_t i = 0; i < tasks; ++i) {
                auto res = diff(std::move(states[i]), poll_outcome{unchanged[i]}, settings, t0);
                states[i] = std::move(res.next);
                emitted += res.events.size();
            }
    });
    double with_event = ns_per_call(tasks, [&] {
        for (std::size_t i = 0; i < tasks; ++i) {
            events.clear();
            advance(states[i], rising[i], settings, t0 + std::chrono::minutes{10}, events);
            emitted += events.size();
        }
    });
    std::printf("unchanged poll, advance() in place:     %8.1f ns/diff\n", in_place);
    std::printf("unchanged poll, diff(const&) (copies):  %8.1f ns/diff\n", copying);
    std::printf("unchanged poll, diff(&&) (moves; includes copying the outcome): %8.1f ns/diff\n",
                moving);
    std::printf("progress crossing a step, advance():    %8.1f ns/diff (1 event, id hashed)\n",
                with_event);
    std::printf("events emitted: %zu (expected %zu)\n", emitted, tasks);
    return emitted == tasks ? 0 : 1;
}
