// Task observations made from GET bodies the way the poller makes them, for tests that feed the
// exposition, the task API or the status page.
#pragma once

#include "taskwatch/task/types.hpp"

#include <string_view>

namespace taskwatch::test {

/// What the poller observes of a task whose GET answered `body`. Throws std::runtime_error when
/// the body is refused or gives no observation.
task::observation observation_of(std::string_view body);

} // namespace taskwatch::test
