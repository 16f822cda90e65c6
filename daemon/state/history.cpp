// The history downsampling rule (see history.hpp).
#include "taskwatch/state/history.hpp"

#include <cmath>

namespace taskwatch::state {

history_point point_of(const task::observation& o, task::time_point t) {
    return {t, o.known_status(), o.known_progress(), o.annotated_sample_count};
}

bool history_due(const std::optional<history_point>& last, const history_point& next) {
    if (!last || next.status != last->status) return true;
    const auto since = next.time - last->time;
    const bool moved = next.progress != last->progress || next.annotated != last->annotated;
    if (moved) {
        const bool big = next.progress && last->progress &&
                         std::abs(*next.progress - *last->progress) >= history_policy::big_step;
        return big || since >= history_policy::min_spacing;
    }
    const bool finished = next.status && modelarts::is_terminal(*next.status);
    return !finished && since >= history_policy::heartbeat;
}

} // namespace taskwatch::state
