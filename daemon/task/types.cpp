#include "taskwatch/task/types.hpp"

#include "taskwatch/detail/crypto.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <memory>
#include <type_traits>

namespace taskwatch::task {

namespace {

// Reads exactly `n` decimal digits at s[pos..pos+n); nullopt if any is not a digit.
std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        char c = s[i];
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

// "YYYY-MM-DD HH:MM:SS"; the API does not state a zone, so it is read as UTC (API-NOTES).
std::optional<time_point> parse_create_time(std::string_view s) {
    if (s.size() != 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':')
        return std::nullopt;
    auto y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
    auto h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
    if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
    if (*h > 23 || *mi > 59 || *se > 59) return std::nullopt;
    std::chrono::year_month_day ymd{std::chrono::year{*y},
                                    std::chrono::month{static_cast<unsigned>(*mo)},
                                    std::chrono::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) return std::nullopt;
    std::chrono::sys_seconds t = std::chrono::sys_days{ymd} + std::chrono::hours{*h} +
                                 std::chrono::minutes{*mi} + std::chrono::seconds{*se};
    return time_point{t};
}

// Task is `const modelarts::task` (copies its strings) or `modelarts::task` (moves them).
template <class Task> std::optional<observation> observe_impl(Task& t) {
    constexpr bool take = !std::is_const_v<Task>;
    const auto text = [](auto& field) -> std::string {
        if (!field) return {};
        if constexpr (take)
            return std::move(*field);
        else
            return *field;
    };
    if (!t.status && !t.progress && !t.task_id && !t.task_name && !t.resource_id &&
        !t.create_time && !t.result && !t.config)
        return std::nullopt;
    observation o;
    o.status = t.status;
    if (t.progress) {
        const double ratio = *t.progress / 100.0;
        o.progress = std::isnan(ratio) ? 0.0 : std::clamp(ratio, 0.0, 1.0);
    }
    o.task_name = text(t.task_name);
    o.resource_id = text(t.resource_id);
    if (t.config) o.algorithm_type = text(t.config->algorithm_type);
    o.code = text(t.code);
    o.message = text(t.message);
    o.error_code = text(t.error_code);
    o.error_msg = text(t.error_msg);
    // GET puts the counts under `result`; list items carry them at the top level.
    const auto pick = [&](std::optional<std::int64_t> modelarts::result::*in_result,
                          const std::optional<std::int64_t>& top) {
        if (t.result && (*t.result).*in_result) return (*t.result).*in_result;
        return top;
    };
    o.total_sample_count = pick(&modelarts::result::total_sample_count, t.total_sample_count);
    o.annotated_sample_count =
        pick(&modelarts::result::annotated_sample_count, t.annotated_sample_count);
    o.unconfirmed_sample_count =
        pick(&modelarts::result::unconfirmed_sample_count, t.unconfirmed_sample_count);
    if (t.create_time) o.create_time = parse_create_time(*t.create_time);
    return o;
}

} // namespace

std::optional<observation> observe(const modelarts::task& t) {
    return observe_impl(t);
}

std::optional<observation> observe(modelarts::task&& t) {
    return observe_impl(t);
}

snapshot to_snapshot(const observation& o) {
    return snapshot{o.known_status(),     o.known_progress(),       o.code.str(),
                    o.message.str(),      o.error_code.str(),       o.error_msg.str(),
                    o.total_sample_count, o.annotated_sample_count, o.unconfirmed_sample_count};
}

std::string_view to_string(event_type t) {
    return detail::name_in(event_type_names, t, "task.unknown");
}

std::optional<event_type> event_type_from_string(std::string_view s) {
    return detail::value_in(event_type_names, s);
}

std::string event_id(const task_key& key, event_type type, std::string_view transition) {
    const std::string_view nul("\0", 1);
    const auto digest = detail::sha256({key.project_id, nul, key.dataset_id, nul, key.task_id, nul,
                                        to_string(type), nul, transition});
    std::string id = "evt_";
    id.reserve(4 + 32);
    detail::append_hex(id, digest.data(), 16);
    return id;
}

} // namespace taskwatch::task
