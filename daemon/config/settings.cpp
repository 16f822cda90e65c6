#include "taskwatch/config/settings.hpp"

#include <algorithm>

namespace taskwatch::config {

std::string_view to_string(webhook_format f) {
    return detail::name_in(webhook_format_names, f, "generic");
}

bool webhook::wants(task::event_type type) const {
    return std::find(events.begin(), events.end(), type) != events.end();
}

bool webhook::matches(const std::map<std::string, std::string>& labels) const {
    for (const auto& [name, value] : match_labels) {
        auto it = labels.find(name);
        if (it == labels.end() || it->second != value) return false;
    }
    return true;
}

const target* target_of(const settings& s, std::string_view project_id,
                        std::string_view dataset_id) {
    for (const auto& t : s.targets)
        if (t.dataset_id == dataset_id && project_id_of(s, t) == project_id) return &t;
    return nullptr;
}

double request_rate_of(const settings& s) {
    return s.modelarts.max_requests_per_second / static_cast<double>(s.shard.count);
}

const std::string& project_id_of(const settings& s, const target& t) {
    return t.project_id ? *t.project_id : s.modelarts.project_id;
}

const http::endpoint& endpoint_of(const settings& s, const target& t) {
    return t.endpoint ? *t.endpoint : s.modelarts.endpoint;
}

std::string describe_restart_needed(const settings& old, const settings& now) {
    std::string out;
    auto add = [&](std::string line) {
        if (!out.empty()) out += "; ";
        out += std::move(line);
    };
    auto shown = [](const std::optional<std::string>& v) {
        return v ? *v : std::string("(unset)");
    };
    if (old.listen != now.listen)
        add("listen changed from " + old.listen + " to " + now.listen + ": restart to apply");
    if (old.web_config_file != now.web_config_file)
        add("web_config_file changed from " + shown(old.web_config_file) + " to " +
            shown(now.web_config_file) + ": restart to apply");
    if (old.state_dir != now.state_dir)
        add("state_dir changed from " + old.state_dir + " to " + now.state_dir +
            ": restart to apply");
    if (old.modelarts.ca_file != now.modelarts.ca_file)
        add("modelarts.ca_file changed from " + shown(old.modelarts.ca_file) + " to " +
            shown(now.modelarts.ca_file) + ": restart to apply");
    // A proxy URL may carry a password: say that it changed, not what it is.
    if (old.modelarts.proxy != now.modelarts.proxy)
        add("modelarts.proxy changed: restart to apply");
    if (old.modelarts.max_connections != now.modelarts.max_connections)
        add("modelarts.max_connections changed from " +
            std::to_string(old.modelarts.max_connections) + " to " +
            std::to_string(now.modelarts.max_connections) + ": restart to apply");
    return out;
}

} // namespace taskwatch::config
