// The alertmanager format: alerts as Alertmanager's API v2 takes them.
#include "taskwatch/notify/format.hpp"

#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/detail/rfc3339.hpp"

#include <boost/json.hpp>

namespace taskwatch::notify {

namespace json = boost::json;

namespace {

json::object string_map(const std::map<std::string, std::string>& m) {
    json::object o;
    for (const auto& [k, v] : m)
        o[k] = v;
    return o;
}

} // namespace

std::string alertmanager_body(std::span<const alert> alerts) {
    json::array out;
    out.reserve(alerts.size());
    for (const auto& a : alerts) {
        json::object o{
            {"labels", string_map(a.labels)},
            {"annotations", string_map(a.annotations)},
            {"startsAt", detail::format_rfc3339(a.starts_at)},
        };
        // No endsAt: firing until Alertmanager's resolve_timeout, so the sender re-sends.
        if (a.ends_at) o["endsAt"] = detail::format_rfc3339(*a.ends_at);
        if (!a.generator_url.empty()) o["generatorURL"] = a.generator_url;
        out.push_back(std::move(o));
    }
    return compact_json(out);
}

} // namespace taskwatch::notify
