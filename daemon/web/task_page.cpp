#include "taskwatch/web/task_page.hpp"

#include "taskwatch/detail/percent.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/detail/rfc3339.hpp"
#include "taskwatch/web/task_json.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

namespace taskwatch::web {
namespace {

// "12 min", "3 h 5 min", "40 s".
std::string duration_text(task::time_point from, task::time_point to) {
    using namespace std::chrono;
    const auto s = std::max<long long>(duration_cast<seconds>(to - from).count(), 0);
    if (s < 60) return std::to_string(s) + " s";
    if (s < 3600) return std::to_string(s / 60) + " min";
    if (s < 48 * 3600)
        return std::to_string(s / 3600) + " h" +
               (s % 3600 / 60 ? " " + std::to_string(s % 3600 / 60) + " min" : "");
    return std::to_string(s / 86400) + " days";
}

std::string snapshot_text(const std::optional<task::snapshot>& s) {
    if (!s) return "—";
    std::string out = s->status ? std::string(modelarts::to_string(*s->status)) : "unknown";
    if (s->progress) out += " " + percent_text(std::clamp(*s->progress, 0.0, 1.0));
    return out;
}

// What an event says in a few words.
std::string event_summary(const task::event& e) {
    switch (e.type) {
    case task::event_type::discovered:
    case task::event_type::status_changed:
    case task::event_type::progress:
    case task::event_type::stalled:
        if (e.previous) return snapshot_text(e.previous) + " → " + snapshot_text(e.current);
        return snapshot_text(e.current);
    case task::event_type::gone:
    case task::event_type::poll_failing:
        if (e.error)
            return e.error->reason +
                   (e.error->error_code.empty() ? "" : " " + e.error->error_code) +
                   (e.error->error_msg.empty() ? "" : ": " + e.error->error_msg);
        return "";
    case task::event_type::poll_recovered:
        return snapshot_text(e.current);
    }
    return "";
}

void append_fact(std::string& out, std::string_view label, const std::string& html) {
    out += "<div><dt>";
    out += label;
    out += "</dt><dd>" + html + "</dd></div>";
}

std::string escaped(std::string_view s) {
    return html_escape(s);
}

std::string time_html(const std::optional<task::time_point>& t, task::time_point now) {
    std::string out;
    append_time(out, t, now);
    return out;
}

} // namespace

std::optional<std::pair<std::string, std::string>> parse_task_path(std::string_view path) {
    constexpr std::string_view prefix = "/tasks/";
    if (!path.starts_with(prefix)) return std::nullopt;
    path.remove_prefix(prefix.size());
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto d = detail::percent_decode(path.substr(0, slash));
    const auto t = detail::percent_decode(path.substr(slash + 1));
    if (!d || !t || d->empty() || t->empty() || t->find('/') != std::string::npos)
        return std::nullopt;
    if (path.substr(slash + 1).find('/') != std::string_view::npos) return std::nullopt;
    return std::pair{*d, *t};
}

std::string render_task_page(const poll::watched_task& tt, const task_page_input& in,
                             const page_summary& s) {
    const auto& st = tt.state;
    const auto& key = st.key;
    const auto* o = st.last ? &*st.last : nullptr;
    const std::string status = status_name(tt);
    const std::string name = o && !o->task_name.empty() ? o->task_name.str() : key.task_id.str();
    const auto estimate = tt.estimate.current();

    std::string out;
    out.reserve(16384 + in.history.size() * 200 + in.events.size() * 400);
    append_head(out, name + " — taskwatch", 15);
    out += "<body data-refresh=\"15\"><main>\n<header><h1 id=\"task-name\">";
    append_escaped(out, name);
    out += "</h1><div class=\"meta live\" id=\"updated\" data-live><a href=\"/\">← all tasks</a>"
           " · updated <time datetime=\"" +
           format_rfc3339(s.now) + "\">" + format_rfc3339(s.now).substr(11, 8) +
           " UTC</time></div></header>\n";

    out += "<div id=\"task\" data-live";
    append_task_data(out, tt);
    out += " data-eta=\"";
    if (estimate.eta) out += format_rfc3339(*estimate.eta);
    out += "\">";

    // The facts.
    out += "<section><div class=\"body\"><dl class=\"facts\">";
    {
        std::string badge;
        append_badge(badge, o ? o->status : std::nullopt);
        if (st.stalled) badge += "<span class=\"flag\">stalled</span>";
        if (!st.up && st.last_error) badge += "<span class=\"flag\">polls failing</span>";
        append_fact(out, "Status", badge);
    }
    {
        std::string p;
        if (o && o->progress)
            p = "<b>" + percent_text(std::clamp(*o->progress, 0.0, 1.0)) + "</b>";
        else
            p = "<span class=\"muted\">—</span>";
        if (estimate.eta)
            p += " <span class=\"eta\" id=\"eta\" title=\"estimated completion " +
                 format_rfc3339(*estimate.eta) + "\">" + format_eta(*estimate.eta, s.now) +
                 "</span>";
        if (estimate.samples_per_second)
            p += "<span class=\"muted rate\" id=\"rate\">" +
                 fixed_text(*estimate.samples_per_second * 60, 1) + " samples/min</span>";
        append_fact(out, "Progress", p);
    }
    if (o && (o->total_sample_count || o->annotated_sample_count))
        append_fact(out, "Annotated / total",
                    (o->annotated_sample_count ? std::to_string(*o->annotated_sample_count)
                                               : std::string("?")) +
                        " / " +
                        (o->total_sample_count ? std::to_string(*o->total_sample_count)
                                               : std::string("?")));
    append_fact(out, "Dataset", "<code>" + escaped(key.dataset_id) + "</code>");
    append_fact(out, "Task", "<code>" + escaped(key.task_id) + "</code>");
    append_fact(out, "Project", "<code>" + escaped(key.project_id) + "</code>");
    if (o && !o->algorithm_type.empty()) append_fact(out, "Algorithm", escaped(o->algorithm_type));
    if (!tt.target_labels().empty()) {
        std::string tags;
        for (const auto& [k, v] : tt.target_labels())
            tags += "<span class=\"tag\">" + escaped(k) + "=" + escaped(v) + "</span> ";
        append_fact(out, "Labels", tags);
    }
    append_fact(out, "Created", time_html(o ? o->create_time : std::nullopt, s.now));
    append_fact(out, "Last change", time_html(st.last_change, s.now));
    append_fact(out, "Last poll", time_html(st.last_poll, s.now));
    if (o && !o->message.empty()) append_fact(out, "Message", escaped(o->message));
    out += "</dl></div></section>\n";

    if (!in.store_problem.empty()) {
        out += "<div class=\"alert\" role=\"alert\">Cannot read the state database: ";
        append_escaped(out, in.store_problem);
        out += ". History and events are not shown.</div>\n";
    }

    // Progress over time.
    out += "<section id=\"chart\"><h2>Progress over time<span class=\"meta\">" +
           std::to_string(in.history.size()) + " samples</span></h2><div class=\"body\">";
    if (!in.history_kept)
        out += "<p class=\"muted\">This taskwatch keeps no history of its tasks.</p>";
    else
        out += progress_chart_svg(in.history, s.now, o ? o->progress : std::nullopt);
    out += "</div></section>\n";

    // Status timeline: the spells of the history, newest first.
    out += "<section id=\"timeline\"><h2>Status timeline</h2><div class=\"body\">";
    const auto spells = status_spells(in.history, s.now);
    if (spells.empty()) {
        out += "<p class=\"muted\">No status recorded yet.</p>";
    } else {
        out += "<ol class=\"timeline\">";
        for (auto it = spells.rbegin(); it != spells.rend(); ++it) {
            out += "<li data-status=\"" +
                   (it->status ? std::string(modelarts::to_string(*it->status)) : "unknown") +
                   "\" data-from=\"" + format_rfc3339(it->from) + "\">";
            append_badge(out, it->status);
            out += "<span>from <time datetime=\"" + format_rfc3339(it->from) + "\">" +
                   format_rfc3339(it->from).substr(0, 19) +
                   "Z</time></span><span class=\"muted\">" + (it == spells.rbegin() ? "for " : "") +
                   duration_text(it->from, it->to) + (it == spells.rbegin() ? " so far" : "") +
                   "</span></li>";
        }
        out += "</ol>";
    }
    out += "</div></section>\n";

    // The last error: the poll's, then the task's own.
    out += "<section id=\"last-error\"><h2>Last error</h2><div class=\"body\">";
    bool any = false;
    if (st.last_error) {
        const auto& e = *st.last_error;
        out += "<div class=\"err\"><b>poll: " + escaped(e.reason) + "</b>";
        if (!e.error_code.empty()) out += " <code>" + escaped(e.error_code) + "</code>";
        if (!e.error_msg.empty()) out += " " + escaped(e.error_msg);
        if (!e.request_id.empty()) out += "<br><code>request " + escaped(e.request_id) + "</code>";
        out += "</div>";
        any = true;
    }
    if (o && (!o->error_code.empty() || !o->error_msg.empty())) {
        out += "<div class=\"err\">task: <code>" + escaped(o->error_code) + "</code> " +
               escaped(o->error_msg) + "</div>";
        any = true;
    }
    if (!any) out += "<p class=\"muted\">None.</p>";
    out += "</div></section>\n";

    // Events, newest first, with each webhook's delivery.
    out += "<section id=\"events\"><h2>Events<span class=\"meta\">" +
           std::to_string(in.events.size()) + "</span></h2>";
    if (in.events.empty()) {
        out += "<div class=\"body muted\">No event recorded.</div>";
    } else {
        out += "<div class=\"scroll\"><table><thead><tr><th>Time</th><th>Event</th><th>What"
               "</th><th>Deliveries</th></tr></thead><tbody>";
        for (auto it = in.events.rbegin(); it != in.events.rend(); ++it) {
            const auto& e = it->event;
            out += "<tr data-event-id=\"" + escaped(e.id) + "\" data-type=\"" +
                   std::string(task::to_string(e.type)) + "\"><td class=\"num\">" +
                   time_html(e.time, s.now) + "</td><td><code>" +
                   std::string(task::to_string(e.type)) + "</code></td><td>" +
                   escaped(event_summary(e)) + "</td><td>";
            if (it->deliveries.empty()) out += "<span class=\"muted\">no webhook</span>";
            for (const auto& d : it->deliveries) {
                out += "<span class=\"dl " + escaped(d.state) + "\" data-webhook=\"" +
                       escaped(d.webhook) + "\" data-state=\"" + escaped(d.state) + "\" title=\"";
                if (d.delivered_at)
                    out += "delivered " + format_rfc3339(*d.delivered_at);
                else if (d.state == "pending")
                    out += "next attempt " + format_rfc3339(d.next_attempt_at);
                if (!d.last_error.empty()) out += "; last error: " + escaped(d.last_error);
                out += "\">" + escaped(d.webhook) + ": " + escaped(d.state);
                // `attempts` counts the failed ones.
                if (d.attempts > 0)
                    out += " (" + std::to_string(d.attempts) +
                           (d.attempts == 1 ? " failed attempt)" : " failed attempts)");
                out += "</span>";
            }
            out += "</td></tr>";
        }
        out += "</tbody></table></div>";
    }
    out += "</section>\n";

    // The last known state as JSON: what GET /api/v1/tasks holds for it, nothing more.
    std::string compact;
    append_task_json(compact, tt);
    out += "<section id=\"last-answer\"><h2>Last known state<span class=\"meta\">as the last "
           "API answer gave it, the same as <a href=\"/api/v1/tasks\">/api/v1/tasks</a>"
           "</span></h2><pre class=\"json\">";
    append_escaped(out, pretty_json(boost::json::parse(compact)));
    out += "</pre></section>\n";

    // The raw answer, as ModelArts sent it (pretty-printed when it is JSON, as it always is).
    out += "<section id=\"raw-answer\"><h2>Last API answer<span class=\"meta\">";
    if (in.answer) {
        out += "GET of ";
        append_escaped(out, detail::format_rfc3339(in.answer->time));
        out += ", the last poll that changed what taskwatch keeps</span></h2><pre class=\"json\">";
        boost::system::error_code ec;
        const auto v = boost::json::parse(in.answer->body, ec);
        append_escaped(out, ec ? in.answer->body : pretty_json(v));
        out += "</pre>";
    } else {
        out += "none stored yet: it is kept from the next poll that changes the task</span></h2>";
    }
    out += "</section>\n</div>\n<footer>taskwatch ";
    append_escaped(out, s.version);
    out += " · <a href=\"/\">status page</a> · <a href=\"/metrics\">/metrics</a></footer>\n"
           "</main></body></html>\n";
    return out;
}

std::string render_not_found_page(std::string_view what, std::string_view version) {
    std::string out;
    append_head(out, "Not found — taskwatch", 0);
    out += "<body><main><header><h1>Not found</h1></header><section><div class=\"empty\">";
    append_escaped(out, what);
    out += " <a href=\"/\">Back to every task</a>.</div></section>\n<footer>taskwatch ";
    append_escaped(out, version);
    out += "</footer></main></body></html>\n";
    return out;
}

} // namespace taskwatch::web
