// Which configured webhooks receive an event: each webhook's event types, progress step and
// match on the target's labels.
// The watch engine takes the result as an opaque poll::event_routing and never sees webhooks.
#pragma once

#include "taskwatch/config/settings.hpp"
#include "taskwatch/poll/watcher.hpp"
#include "taskwatch/task/types.hpp"

#include <memory>
#include <string>
#include <vector>

namespace taskwatch::notify {

/// Names of the webhooks of `s` that want `e`, in configuration order (possibly none).
/// A task.progress event goes to a webhook only when the progress crossed one of its steps; a
/// webhook with match_labels gets only events of targets whose labels include them all.
std::vector<std::string> route(const config::settings& s, const task::event& e);

/// The progress steps at which any webhook wants task.progress, in configuration order: the
/// watcher emits task.progress when a task's progress crosses one of them.
std::vector<double> progress_steps(const config::settings& s);

/// route() and progress_steps() of `s`, as the watcher takes them (the settings are kept alive
/// by the router).
poll::event_routing routing_for(std::shared_ptr<const config::settings> s);

} // namespace taskwatch::notify
