#include "taskwatch/notify/routing.hpp"

#include "taskwatch/task/diff.hpp"

namespace taskwatch::notify {

std::vector<std::string> route(const config::settings& s, const task::event& e) {
    std::vector<std::string> out;
    for (const auto& w : s.webhooks) {
        if (!w.wants(e.type)) continue;
        if (!w.match_labels.empty()) {
            const auto* t = config::target_of(s, e.key.project_id, e.key.dataset_id);
            if (!t || !w.matches(t->labels)) continue;
        }
        if (e.type == task::event_type::progress) {
            if (!w.progress_step || !e.previous || !e.current || !e.previous->progress ||
                !e.current->progress)
                continue;
            if (!task::crosses_progress_step(*e.previous->progress, *e.current->progress,
                                             {*w.progress_step}))
                continue;
        }
        out.push_back(w.name);
    }
    return out;
}

std::vector<double> progress_steps(const config::settings& s) {
    std::vector<double> out;
    for (const auto& w : s.webhooks)
        if (w.progress_step && w.wants(task::event_type::progress)) out.push_back(*w.progress_step);
    return out;
}

poll::event_routing routing_for(std::shared_ptr<const config::settings> s) {
    poll::event_routing r;
    r.progress_steps = progress_steps(*s);
    r.route = [s = std::move(s)](const task::event& e) { return route(*s, e); };
    return r;
}

} // namespace taskwatch::notify
