#include "taskwatch/web/status_page.hpp"

#include "taskwatch/web/task_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

namespace taskwatch::web {
namespace {

constexpr std::string_view style = R"css(
:root{--bg:#f5f6f8;--card:#fff;--ink:#1c2430;--muted:#667085;--line:#e3e6ea;--track:#e9edf2;
--blue:#2563eb;--green:#16803c;--red:#c0262d;--amber:#b45309;--slate:#64748b;--violet:#7c3aed}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--card:#171d24;--ink:#e6e9ee;--muted:#98a2b3;
--line:#2a323c;--track:#26303b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1280px;margin:0 auto;padding:20px 24px 40px}
header{display:flex;align-items:baseline;justify-content:space-between;flex-wrap:wrap;gap:8px}
h1{font-size:20px;margin:0}
h1 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
.meta{color:var(--muted);font-size:12px}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;margin:16px 0 8px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.stat b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.stat span{color:var(--muted);font-size:12px}
.stat.bad b{color:var(--red)}
.stat.good b{color:var(--green)}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:18px 0;overflow:hidden}
section h2{font-size:15px;margin:0;padding:12px 14px;border-bottom:1px solid var(--line);
display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
section h2 .meta{font-weight:400}
.tag{display:inline-block;border:1px solid var(--line);border-radius:6px;padding:0 6px;font-size:11px;
font-weight:400;color:var(--muted)}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse}
th{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;
text-align:left;padding:8px 14px;background:var(--bg)}
td{padding:9px 14px;border-top:1px solid var(--line);vertical-align:top}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--muted)}
.name{font-weight:600;word-break:break-word}
.badge{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap}
.st-queuing{background:var(--slate)}.st-initializing{background:var(--violet)}
.st-running{background:var(--blue)}.st-failed{background:var(--red)}
.st-succeeded{background:var(--green)}.st-stopping{background:var(--amber)}
.st-stopped{background:#475467}.st-unknown{background:transparent;color:var(--muted);
border:1px dashed var(--muted)}
.flag{display:inline-block;margin-left:6px;font-size:11px;color:var(--amber);font-weight:600}
.prog{display:flex;align-items:center;gap:8px;min-width:170px}
.bar{flex:1;height:10px;background:var(--track);border-radius:5px;overflow:hidden}
.bar>span{display:block;height:100%;background:var(--blue);border-radius:5px}
.bar.st-succeeded>span{background:var(--green)}.bar.st-failed>span{background:var(--red)}
.bar.st-stopped>span,.bar.st-stopping>span{background:var(--amber)}
.prog em{font:600 12px ui-monospace,SFMono-Regular,Menlo,monospace;font-style:normal;
min-width:48px;text-align:right;font-variant-numeric:tabular-nums}
.err{color:var(--red);word-break:break-word}
.muted{color:var(--muted)}
.empty{padding:40px;text-align:center;color:var(--muted)}
.alert{margin:14px 0 0;padding:10px 14px;border:1px solid var(--red);border-left-width:6px;
border-radius:10px;background:var(--card);color:var(--red);font-weight:600;word-break:break-word}
footer{margin-top:24px;color:var(--muted);font-size:12px}
footer a{color:inherit}
)css";

void append_escaped(std::string& out, std::string_view s) {
    for (char ch : s) {
        switch (ch) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out.push_back(ch);
        }
    }
}

std::string ratio_text(double r) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, r);
    return ec == std::errc{} ? std::string(buf, end) : std::string("0");
}

// `v` with `decimals` digits after the point ("42.50"); `v` is a percentage, 0..100.
std::string fixed_text(double v, int decimals) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    return ec == std::errc{} ? std::string(buf, end) : std::string("0");
}

std::string percent_text(double r) {
    const double pct = r * 100;
    // One decimal unless the number is whole: "42%", "42.5%".
    return fixed_text(pct, std::abs(pct - std::round(pct)) < 0.05 ? 0 : 1) + "%";
}

// "team=vision" tags of a target's labels.
void append_labels(std::string& out, const std::map<std::string, std::string>& labels) {
    for (const auto& [k, v] : labels) {
        out += "<span class=\"tag\">";
        append_escaped(out, k);
        out += '=';
        append_escaped(out, v);
        out += "</span> ";
    }
}

void append_time(std::string& out, const std::optional<task::time_point>& t, task::time_point now) {
    if (!t) {
        out += "<span class=\"muted\">—</span>";
        return;
    }
    auto abs = format_rfc3339(*t);
    out += "<time datetime=\"" + abs + "\" title=\"" + abs + "\">";
    out += format_relative(*t, now);
    out += "</time><br><code>";
    out += abs.substr(0, 10) + " " + abs.substr(11, 8) + "Z";
    out += "</code>";
}

std::string sanitized_id(std::string_view s) {
    std::string out;
    for (char ch : s)
        out.push_back((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'
                          ? ch
                          : '_');
    return out;
}

void append_row(std::string& out, const poll::watched_task& tt, task::time_point now) {
    const auto& st = tt.state;
    const auto& key = st.key;
    const auto* o = st.last ? &*st.last : nullptr;
    const std::string status =
        o && o->status ? std::string(modelarts::to_string(*o->status)) : "unknown";
    // A code outside -1..5 shows itself: "unknown (7)".
    const std::string badge =
        o && o->status && !modelarts::is_known(*o->status)
            ? status + " (" + std::to_string(modelarts::to_code(*o->status)) + ")"
            : status;

    out += "<tr id=\"task-" + sanitized_id(key.dataset_id) + "-" + sanitized_id(key.task_id) +
           "\" data-project-id=\"";
    append_escaped(out, key.project_id);
    out += "\" data-dataset-id=\"";
    append_escaped(out, key.dataset_id);
    out += "\" data-task-id=\"";
    append_escaped(out, key.task_id);
    out += "\" data-status=\"" + status + "\" data-progress=\"";
    if (o && o->progress) out += ratio_text(*o->progress);
    out += "\" data-up=\"";
    out += st.up ? "1" : "0";
    out += "\">";

    // Task: name and id.
    out += "<td><div class=\"name\">";
    if (o && !o->task_name.empty())
        append_escaped(out, o->task_name);
    else
        out += "<span class=\"muted\">(name not known yet)</span>";
    out += "</div><code>";
    append_escaped(out, key.task_id);
    out += "</code>";
    if (o && !o->algorithm_type.empty()) {
        out += " <span class=\"tag\">";
        append_escaped(out, o->algorithm_type);
        out += "</span>";
    }
    out += "</td>";

    // Status.
    out += "<td><span class=\"badge st-" + status + "\">" + badge + "</span>";
    if (st.stalled)
        out += "<span class=\"flag\" title=\"no progress for stall_after\">stalled</span>";
    if (o && !o->message.empty()) {
        out += "<div class=\"muted\">";
        append_escaped(out, o->message);
        out += "</div>";
    }
    out += "</td>";

    // Progress.
    out += "<td>";
    if (o && o->progress) {
        const double r = std::clamp(*o->progress, 0.0, 1.0);
        const auto pct = percent_text(r);
        const auto width = fixed_text(r * 100, 2) + "%";
        out += "<div class=\"prog\"><div class=\"bar st-" + status +
               "\" role=\"progressbar\" aria-valuemin=\"0\" aria-valuemax=\"100\" "
               "aria-valuenow=\"" +
               ratio_text(r * 100) + "\"><span style=\"width:" + width + "\"></span></div><em>" +
               pct + "</em></div>";
    } else {
        out += "<span class=\"muted\">—</span>";
    }
    out += "</td>";

    // Samples: annotated of total, and unconfirmed.
    out += "<td class=\"num\">";
    if (o && (o->total_sample_count || o->annotated_sample_count)) {
        out += o->annotated_sample_count ? std::to_string(*o->annotated_sample_count) : "?";
        out += " / ";
        out += o->total_sample_count ? std::to_string(*o->total_sample_count) : "?";
        if (o->unconfirmed_sample_count)
            out += "<br><span class=\"muted\">" + std::to_string(*o->unconfirmed_sample_count) +
                   " unconfirmed</span>";
    } else {
        out += "<span class=\"muted\">—</span>";
    }
    out += "</td>";

    out += "<td class=\"num\">";
    append_time(out, st.last_change, now);
    out += "</td><td class=\"num\">";
    append_time(out, st.last_poll, now);
    out += "</td>";

    // Errors: the last poll's, then the task's own (a failed task says why).
    out += "<td>";
    bool any = false;
    if (st.last_error) {
        const auto& e = *st.last_error;
        out += "<div class=\"err\"><b>poll: ";
        append_escaped(out, e.reason);
        out += "</b>";
        if (!e.error_code.empty()) {
            out += " <code>";
            append_escaped(out, e.error_code);
            out += "</code>";
        }
        if (!e.error_msg.empty()) {
            out += " ";
            append_escaped(out, e.error_msg);
        }
        if (!e.request_id.empty()) {
            out += "<br><code>request ";
            append_escaped(out, e.request_id);
            out += "</code>";
        }
        out += "</div>";
        any = true;
    }
    if (o && (!o->error_code.empty() || !o->error_msg.empty())) {
        out += "<div class=\"err\">";
        if (!o->error_code.empty()) {
            out += "<code>";
            append_escaped(out, o->error_code);
            out += "</code> ";
        }
        append_escaped(out, o->error_msg);
        out += "</div>";
        any = true;
    }
    if (!any) out += "<span class=\"muted\">—</span>";
    out += "</td></tr>\n";
}

void append_stat(std::string& out, std::string_view cls, const std::string& value,
                 std::string_view label) {
    out += "<div class=\"stat ";
    out += cls;
    out += "\"><b>" + value + "</b><span>";
    out += label;
    out += "</span></div>";
}

} // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text);
    return out;
}

std::string format_relative(task::time_point then, task::time_point now) {
    using namespace std::chrono;
    const auto s = duration_cast<seconds>(now - then).count();
    if (s < 5) return "just now";
    if (s < 60) return std::to_string(s) + " s ago";
    if (s < 3600) return std::to_string(s / 60) + " min ago";
    if (s < 48 * 3600) return std::to_string(s / 3600) + " h ago";
    return std::to_string(s / 86400) + " days ago";
}

std::string render_status_page(const poll::task_view& tasks, const page_summary& s) {
    // Group by target: (project, dataset), in key order.
    struct group {
        const task::task_key* first = nullptr;
        const poll::watched_task* sample = nullptr;
        std::vector<const poll::watched_task*> rows;
    };
    std::vector<group> groups;
    std::size_t watched = 0, running = 0, failed = 0, succeeded = 0, failing = 0, stalled = 0;
    tasks.visit(nullptr, [&](const poll::watched_task& tt) {
        const auto& key = tt.state.key;
        ++watched;
        if (groups.empty() || groups.back().first->project_id != key.project_id ||
            groups.back().first->dataset_id != key.dataset_id)
            groups.push_back({&key, &tt, {}});
        groups.back().rows.push_back(&tt);
        if (const auto& o = tt.state.last) {
            running += o->status == modelarts::task_status::running;
            failed += o->status == modelarts::task_status::failed;
            succeeded += o->status == modelarts::task_status::succeeded;
        }
        failing += !tt.state.up && (tt.state.last_error.has_value());
        stalled += tt.state.stalled;
        return true;
    });

    std::string out;
    out.reserve(4096 + watched * 1400);
    out += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
           "<meta http-equiv=\"refresh\" content=\"15\">"
           "<title>taskwatch — " +
           std::to_string(watched) + " tasks</title><style>";
    out += style;
    out += "</style></head><body><main>\n<header><h1>taskwatch<small>ModelArts auto-labeling "
           "tasks</small></h1><div class=\"meta\">";
    out += s.ready ? "ready" : "starting: first poll round not finished";
    out += " · updated <time datetime=\"" + format_rfc3339(s.now) + "\">" +
           format_rfc3339(s.now).substr(11, 8) +
           " UTC</time> · refreshes every 15 s</div></header>\n";
    if (!s.store_problem.empty()) {
        // Events wait in memory only: an operator must see it before anything else.
        out += "<div class=\"alert\" role=\"alert\" id=\"store-problem\">Cannot write the state "
               "database: ";
        append_escaped(out, s.store_problem);
        out += ". Task states and events are kept in memory and written once it works again; "
               "they are lost if taskwatchd stops before.</div>\n";
    }
    out += "<div class=\"summary\">";
    append_stat(out, "", std::to_string(watched), "tasks watched");
    append_stat(out, "", std::to_string(running), "running");
    append_stat(out, succeeded ? "good" : "", std::to_string(succeeded), "succeeded");
    append_stat(out, failed ? "bad" : "", std::to_string(failed), "failed");
    append_stat(out, failing ? "bad" : "", std::to_string(failing), "polls failing");
    append_stat(out, stalled ? "bad" : "", std::to_string(stalled), "stalled");
    append_stat(out, "", std::to_string(s.polls), "polls");
    append_stat(out, s.poll_failures ? "bad" : "", std::to_string(s.poll_failures),
                "poll failures");
    out += "</div>\n";

    if (groups.empty())
        out += "<section><div class=\"empty\">No tasks yet: taskwatch has not found any task of "
               "the configured datasets.</div></section>\n";
    for (auto& g : groups) {
        // People look for a task by name; tasks never seen yet (no name) go last.
        std::stable_sort(g.rows.begin(), g.rows.end(), [](const auto& a, const auto& b) {
            const auto* na = a->state.last ? &a->state.last->task_name : nullptr;
            const auto* nb = b->state.last ? &b->state.last->task_name : nullptr;
            if (!na || !nb) return na && !nb;
            return *na < *nb;
        });
        out += "<section data-dataset-id=\"";
        append_escaped(out, g.first->dataset_id);
        out += "\"><h2>Dataset <code>";
        append_escaped(out, g.first->dataset_id);
        out += "</code><span class=\"meta\">project <code>";
        append_escaped(out, g.first->project_id);
        out += "</code> · " + std::to_string(g.rows.size()) +
               (g.rows.size() == 1 ? " task" : " tasks") + "</span> ";
        append_labels(out, g.sample->target_labels());
        out += "</h2><div class=\"scroll\"><table><thead><tr><th>Task</th><th>Status</th>"
               "<th>Progress</th><th>Annotated / total</th><th>Last change</th><th>Last "
               "poll</th><th>Errors</th></tr></thead><tbody>\n";
        for (const auto* tt : g.rows)
            append_row(out, *tt, s.now);
        out += "</tbody></table></div></section>\n";
    }
    out += "<footer>taskwatch ";
    append_escaped(out, s.version);
    out += " · <a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/tasks\">/api/v1/tasks</a>"
           " · values from taskwatch's own polling of ModelArts</footer>\n</main></body></html>\n";
    return out;
}

} // namespace taskwatch::web
