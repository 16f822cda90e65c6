// Names and stable ids of the watch engine's events (see types.hpp).
#include "taskwatch/task/types.hpp"

#include "taskwatch/auth/signer.hpp"

#include <array>
#include <utility>

namespace taskwatch::task {

namespace {

constexpr std::array<std::pair<event_type, std::string_view>, 7> event_names{{
    {event_type::discovered, "task.discovered"},
    {event_type::status_changed, "task.status_changed"},
    {event_type::progress, "task.progress"},
    {event_type::stalled, "task.stalled"},
    {event_type::gone, "task.gone"},
    {event_type::poll_failing, "task.poll_failing"},
    {event_type::poll_recovered, "task.poll_recovered"},
}};

} // namespace

std::string_view to_string(event_type t) {
    for (const auto& [type, name] : event_names)
        if (type == t) return name;
    return "task.unknown";
}

std::optional<event_type> event_type_from_string(std::string_view s) {
    for (const auto& [type, name] : event_names)
        if (name == s) return type;
    return std::nullopt;
}

std::string event_id(const task_key& key, std::uint64_t seq) {
    std::string input;
    input.reserve(key.project_id.size() + key.dataset_id.size() + key.task_id.size() + 24);
    input.append(key.project_id).push_back('\0');
    input.append(key.dataset_id).push_back('\0');
    input.append(key.task_id).push_back('\0');
    input.append(std::to_string(seq));
    return "evt_" + auth::sha256_hex(input).substr(0, 32);
}

} // namespace taskwatch::task
