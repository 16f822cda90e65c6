#include "taskwatch/web/chart.hpp"

#include "taskwatch/web/html.hpp"
#include "taskwatch/web/task_json.hpp"

#include <algorithm>
#include <cmath>

namespace taskwatch::web {
namespace {

double seconds_between(task::time_point a, task::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Two decimals are finer than any screen shows and keep the markup short.
std::string coord(double v) {
    auto s = fixed_text(v, 2);
    while (s.ends_with('0'))
        s.pop_back();
    if (s.ends_with('.')) s.pop_back();
    return s == "-0" ? "0" : s;
}

void append_points(std::string& out, const std::vector<plot_point>& pts, double dx, double dy) {
    bool first = true;
    for (const auto& p : pts) {
        if (!first) out += ' ';
        first = false;
        out += coord(p.x + dx) + "," + coord(p.y + dy);
    }
}

// The chart's axis labels in UTC, as fine as the span needs: "04:05:06" under 10 minutes,
// "04:05" under 20 hours, "11-30 04:05" beyond.
std::string axis_time(task::time_point t, task::time_point::duration span) {
    const auto s = format_rfc3339(t); // 2026-11-30T04:05:06.000Z
    if (span < std::chrono::minutes(10)) return s.substr(11, 8);
    if (span < std::chrono::hours(20)) return s.substr(11, 5);
    return s.substr(5, 5) + " " + s.substr(11, 5);
}

task::time_point last_progress_time(std::span<const history_point> history) {
    task::time_point t{};
    for (const auto& h : history)
        if (h.progress) t = std::max(t, h.time);
    return t;
}

} // namespace

std::vector<plot_point> plot_progress(std::span<const history_point> history, double width,
                                      double height, std::optional<time_range> range) {
    if (!range) {
        for (const auto& h : history) {
            if (!h.progress) continue;
            if (!range) range = time_range{h.time, h.time};
            range->from = std::min(range->from, h.time);
            range->to = std::max(range->to, h.time);
        }
        if (!range) return {};
    }
    std::vector<plot_point> out;
    const double span = seconds_between(range->from, range->to);
    for (const auto& h : history) {
        if (!h.progress) continue;
        const double x = span > 0 ? seconds_between(range->from, h.time) / span * width : width / 2;
        const double y = (1 - std::clamp(*h.progress, 0.0, 1.0)) * height;
        out.push_back({x, y});
    }
    return out;
}

std::vector<status_spell> status_spells(std::span<const history_point> history,
                                        task::time_point now) {
    std::vector<status_spell> out;
    for (const auto& h : history) {
        if (!out.empty() && (!h.status || h.status == out.back().status)) continue;
        if (!out.empty()) out.back().to = h.time;
        out.push_back({h.status, h.time, h.time});
    }
    if (!out.empty()) out.back().to = std::max(out.back().from, now);
    return out;
}

std::string sparkline_svg(std::span<const history_point> history) {
    constexpr double w = 120, h = 24;
    const auto all = plot_progress(history, w, h - 2);
    if (all.empty()) return {};
    // At most one point per unit of width (the last of each), the first kept: a long history
    // would only make the row heavier, not the line finer.
    std::vector<plot_point> pts;
    for (const auto& p : all) {
        if (pts.size() > 1 && std::floor(pts.back().x) == std::floor(p.x))
            pts.back() = p;
        else
            pts.push_back(p);
    }
    std::string out = "<svg class=\"spark\" viewBox=\"0 0 120 24\" preserveAspectRatio=\"none\" "
                      "role=\"img\" aria-label=\"progress over time\" data-points=\"" +
                      std::to_string(all.size()) +
                      "\"><line class=\"base\" x1=\"0\" y1=\"23\" x2=\"120\" y2=\"23\"/>";
    if (pts.size() == 1) {
        // One sample: a dot at the right end, where "now" is.
        out += "<circle cx=\"119\" cy=\"" + coord(pts[0].y + 1) + "\" r=\"1.5\"/>";
    } else {
        out += "<polyline points=\"";
        append_points(out, pts, 0, 1);
        out += "\"/>";
    }
    out += "</svg>";
    return out;
}

std::string progress_chart_svg(std::span<const history_point> history, task::time_point now,
                               std::optional<double> current) {
    // The plot area sits inside margins for the axis labels; the status band runs under it.
    constexpr double width = 720, left = 40, right = 12, top = 10, plot_h = 180, band_y = 200,
                     band_h = 10, height = 232;
    constexpr double plot_w = width - left - right;
    std::optional<time_range> range;
    if (!history.empty()) {
        const auto& last = history.back();
        const bool finished = last.status && modelarts::is_terminal(*last.status);
        range = time_range{history.front().time, finished ? last.time : std::max(last.time, now)};
    }
    const auto spells = status_spells(history, range ? range->to : now);
    const auto pts = plot_progress(history, plot_w, plot_h, range);
    std::string out = "<svg class=\"chart\" viewBox=\"0 0 720 232\" role=\"img\" "
                      "aria-label=\"progress over time\" data-points=\"" +
                      std::to_string(pts.size()) + "\">";
    for (int pct : {0, 50, 100}) {
        const auto y = coord(top + plot_h * (1 - pct / 100.0));
        out += "<line class=\"grid\" x1=\"" + coord(left) + "\" y1=\"" + y + "\" x2=\"" +
               coord(width - right) + "\" y2=\"" + y + "\"/><text x=\"" + coord(left - 6) +
               "\" y=\"" + y + "\" dy=\"4\" text-anchor=\"end\">" + std::to_string(pct) +
               "%</text>";
    }
    if (pts.empty()) {
        out += "<text x=\"360\" y=\"100\" text-anchor=\"middle\">no progress recorded yet</text>";
    } else {
        if (pts.size() > 1) {
            out += "<polyline points=\"";
            append_points(out, pts, left, top);
            out += "\"/>";
        }
        // From the last point to now at the progress the last poll saw: the history keeps at
        // most a point a minute while progress moves. Dashed, and no point of the history.
        if (current && range && range->to > last_progress_time(history)) {
            const auto& p = pts.back();
            const double y = (1 - std::clamp(*current, 0.0, 1.0)) * plot_h;
            out += "<line class=\"tail\" x1=\"" + coord(p.x + left) + "\" y1=\"" +
                   coord(p.y + top) + "\" x2=\"" + coord(plot_w + left) + "\" y2=\"" +
                   coord(y + top) + "\"/>";
        }
        // One circle per sample, in history order, each naming what it stands for.
        std::size_t i = 0;
        for (const auto& h : history) {
            if (!h.progress) continue;
            const auto& p = pts[i++];
            const auto t = format_rfc3339(h.time);
            out += "<circle class=\"pt\" cx=\"" + coord(p.x + left) + "\" cy=\"" +
                   coord(p.y + top) + "\" r=\"2.5\" data-time=\"" + t + "\" data-progress=\"" +
                   number_text(*h.progress) + "\"><title>" + t + " " +
                   percent_text(std::clamp(*h.progress, 0.0, 1.0)) + "</title></circle>";
        }
    }
    // The status band, over the same time axis as the plot.
    if (range && !spells.empty()) {
        const auto t0 = range->from, t1 = range->to;
        const double span = seconds_between(t0, t1);
        for (const auto& s : spells) {
            const double x0 = span > 0 ? seconds_between(t0, s.from) / span * plot_w : 0;
            const double x1 = span > 0 ? seconds_between(t0, s.to) / span * plot_w : plot_w;
            const std::string name =
                s.status ? std::string(modelarts::to_string(*s.status)) : "unknown";
            out += "<rect class=\"seg fill st-" + name + "\" x=\"" + coord(left + x0) + "\" y=\"" +
                   coord(band_y) + "\" width=\"" + coord(std::max(x1 - x0, 1.0)) + "\" height=\"" +
                   coord(band_h) + "\"><title>" + name + " from " + format_rfc3339(s.from) +
                   "</title></rect>";
        }
        out += "<text x=\"" + coord(left) + "\" y=\"" + coord(height - 4) + "\">" +
               axis_time(t0, t1 - t0) + "</text><text x=\"" + coord(width - right) + "\" y=\"" +
               coord(height - 4) + "\" text-anchor=\"end\">" + axis_time(t1, t1 - t0) +
               " UTC</text>";
    }
    out += "</svg>";
    return out;
}

} // namespace taskwatch::web
