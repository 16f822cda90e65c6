#include "support/tasks.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

namespace taskwatch::test {

namespace {

task::time_point at_ms(std::int64_t ms) {
    return task::time_point(std::chrono::milliseconds(ms));
}

} // namespace

poll::watched_task successfully_polled(task::task_key key, std::string name,
                                       std::string resource_id, modelarts::task_status status,
                                       double progress) {
    poll::watched_task tt;
    tt.state.key = std::move(key);
    task::observation o;
    o.status = status;
    o.progress = progress;
    o.task_name = std::move(name);
    o.resource_id = std::move(resource_id);
    o.algorithm_type = "fast";
    o.total_sample_count = 49;
    o.annotated_sample_count = 30;
    o.create_time = at_ms(1'700'000'000'000);
    tt.state.last = o;
    tt.state.last_poll = at_ms(1'764'475'200'250);
    tt.state.last_change = at_ms(1'764'475'100'000);
    tt.state.up = true;
    tt.labels = poll::shared_labels({{"team", "vision"}});
    return tt;
}

task::observation observation_of(std::string_view body) {
    auto t = modelarts::parse_task(body);
    if (!t) throw std::runtime_error("the body is refused: " + t.error().to_string());
    auto o = task::observe(*t);
    if (!o) throw std::runtime_error("no observation of " + std::string(body));
    return *o;
}

void add_polled_from_body(poll::task_table& table, task::task_key key, std::string_view body) {
    auto tt = successfully_polled(key, {}, {}, modelarts::task_status::running, 0);
    tt.state.last = observation_of(body);
    table.tasks.insert_or_assign(std::move(key), std::move(tt));
}

} // namespace taskwatch::test
