#include "taskwatch/poll/task_view.hpp"

namespace taskwatch::poll {

const label_map watched_task::no_labels;

void task_table::visit(const task::task_key* after, const visitor& f) const {
    for (auto it = after ? tasks.upper_bound(*after) : tasks.begin(); it != tasks.end(); ++it) {
        if (it->second.state.forgotten || it->second.state.gone) continue;
        if (!f(it->second)) return;
    }
}

std::size_t task_table::size() const {
    std::size_t n = 0;
    for (const auto& [key, t] : tasks)
        n += !(t.state.forgotten || t.state.gone);
    return n;
}

} // namespace taskwatch::poll
