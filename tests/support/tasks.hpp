// Watched tasks as the poller leaves them after a successful poll, and observations made from
// GET bodies the way the poller makes them, for tests of what reads them: the exposition, the
// task API, the status page.
#pragma once

#include "taskwatch/modelarts/model.hpp"
#include "taskwatch/poll/task_view.hpp"
#include "taskwatch/task/types.hpp"

#include <string>
#include <string_view>

namespace taskwatch::test {

/// A task polled successfully: `status` at `progress`, named `name`, resource `resource_id`,
/// 49 samples of which 30 annotated, algorithm "fast", created at 1'700'000'000'000 ms, last
/// polled at 1'764'475'200'250 ms, last changed at 1'764'475'100'000 ms, label team=vision.
poll::watched_task successfully_polled(task::task_key key, std::string name,
                                       std::string resource_id, modelarts::task_status status,
                                       double progress);

/// Adds task `key` to `table`, polled successfully (as successfully_polled()) with what the
/// poller observes of the GET body `body` as its last observation: for statuses and fields
/// only a raw body can carry. Throws as observation_of() does.
void add_polled_from_body(poll::task_table& table, task::task_key key, std::string_view body);

/// What the poller observes of a task whose GET answered `body`. Throws std::runtime_error when
/// the body is refused or gives no observation.
task::observation observation_of(std::string_view body);

} // namespace taskwatch::test
