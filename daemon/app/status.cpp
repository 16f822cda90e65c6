// The status table and its sources (see status.hpp).
#include "taskwatch/app/status.hpp"

#include "taskwatch/detail/rfc3339.hpp"
#include "taskwatch/task/estimate.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace taskwatch::app {

namespace {

std::string seconds_text(std::optional<task::time_point> t) {
    return t ? detail::format_rfc3339(*t, detail::time_precision::seconds) : std::string();
}

// "2026-11-30T04:00:00.250Z" -> "2026-11-30T04:00:00Z": the table shows whole seconds.
std::string without_fraction(std::string_view t) {
    const auto dot = t.find('.');
    const auto zone = t.find_first_of("Z+", dot == std::string_view::npos ? 0 : dot);
    if (dot == std::string_view::npos || zone == std::string_view::npos) return std::string(t);
    return std::string(t.substr(0, dot)) + std::string(t.substr(zone));
}

std::string percent_text(std::optional<double> progress) {
    if (!progress) return {};
    const double pct = *progress * 100;
    char buf[32];
    if (std::fabs(pct - std::round(pct)) < 1e-9)
        std::snprintf(buf, sizeof buf, "%.0f%%", pct);
    else
        std::snprintf(buf, sizeof buf, "%.1f%%", pct);
    return buf;
}

} // namespace

expected<std::vector<status_row>, std::string> status_rows_from_api(std::string_view body) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec) return unexpected("the answer is not JSON: " + ec.message());
    if (!v.is_array()) return unexpected(std::string("the answer is not a JSON array"));
    std::vector<status_row> out;
    for (const auto& item : v.as_array()) {
        const auto* o = item.if_object();
        if (!o) return unexpected(std::string("a task is not a JSON object"));
        auto text = [&](std::string_view key) -> std::string {
            const auto* f = o->if_contains(key);
            return f && f->is_string() ? std::string(f->as_string()) : std::string();
        };
        status_row r;
        r.task = text("dataset_id") + "/" + text("task_id");
        r.status = text("status");
        if (const auto* p = o->if_contains("progress"); p && p->is_number())
            r.progress = p->to_number<double>();
        r.eta = without_fraction(text("eta"));
        r.last_change = without_fraction(text("last_change"));
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<status_row> status_rows_from_store(state::store& s) {
    std::vector<status_row> out;
    for (const auto& t : s.load_tasks()) {
        if (t.forgotten || t.gone) continue;
        status_row r;
        r.task = t.key.dataset_id + "/" + t.key.task_id;
        std::optional<modelarts::task_status> status;
        if (t.last) {
            status = t.last->known_status();
            if (status) r.status = modelarts::to_string(*status);
            r.progress = t.last->known_progress();
        }
        if (status == modelarts::task_status::running) {
            task::progress_estimator est;
            for (const auto& p : s.history(t.key))
                est.observe(p.time, p.status, p.progress, p.annotated);
            r.eta = seconds_text(est.current().eta);
        }
        r.last_change = seconds_text(t.last_change);
        out.push_back(std::move(r));
    }
    return out;
}

std::string format_status_table(const std::vector<status_row>& rows) {
    constexpr std::size_t columns = 5;
    using line = std::array<std::string, columns>;
    std::vector<line> lines;
    lines.push_back({"TASK", "STATUS", "PROGRESS", "ETA", "LAST CHANGE"});
    auto or_dash = [](std::string s) { return s.empty() ? std::string("-") : s; };
    for (const auto& r : rows)
        lines.push_back({or_dash(r.task), or_dash(r.status), or_dash(percent_text(r.progress)),
                         or_dash(r.eta), or_dash(r.last_change)});
    std::array<std::size_t, columns> width{};
    for (const auto& l : lines)
        for (std::size_t c = 0; c < columns; ++c)
            width[c] = std::max(width[c], l[c].size());
    std::string out;
    for (const auto& l : lines) {
        for (std::size_t c = 0; c < columns; ++c) {
            out += l[c];
            if (c + 1 < columns) out.append(width[c] - l[c].size() + 2, ' ');
        }
        out.push_back('\n');
    }
    return out;
}

} // namespace taskwatch::app
