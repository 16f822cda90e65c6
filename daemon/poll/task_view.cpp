#include "taskwatch/poll/task_view.hpp"

namespace taskwatch::poll {

const label_map watched_task::no_labels;

void task_table::visit(const task::task_key* after, const visitor& f) const {
    visit_map(tasks, after, f);
}

std::size_t task_table::size() const {
    return size_of_map(tasks);
}

} // namespace taskwatch::poll
