#include "taskwatch/web/status_page.hpp"

#include "taskwatch/detail/percent.hpp"
#include "taskwatch/web/task_json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <set>

namespace taskwatch::web {
namespace {

using modelarts::task_status;

// The statuses in the order the page ranks them after the ones that need someone; counted in
// the header in this order too.
constexpr std::array<std::string_view, 8> status_order = {
    "running", "initializing", "queuing", "stopping", "unknown", "stopped", "succeeded", "failed"};

bool polls_failing(const poll::watched_task& tt) {
    return !tt.state.up && tt.state.last_error.has_value();
}

bool is_failed(const poll::watched_task& tt) {
    return tt.state.last && tt.state.last->status == task_status::failed;
}

bool needs_attention(const poll::watched_task& tt) {
    return is_failed(tt) || polls_failing(tt) || tt.state.stalled;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool contains_nocase(std::string_view hay, std::string_view needle) {
    if (needle.empty()) return true;
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        std::size_t k = 0;
        while (k < needle.size() && lower(hay[i + k]) == lower(needle[k]))
            ++k;
        if (k == needle.size()) return true;
    }
    return false;
}

// A form value: `+` is a space, then %XX; a malformed one is taken as it is.
std::string form_decode(std::string_view v) {
    std::string s(v);
    std::replace(s.begin(), s.end(), '+', ' ');
    auto d = detail::percent_decode(s);
    return d ? *d : s;
}

std::string trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return std::string(s);
}

// The query string that asks for `q` (with its page), form-encoded; "" for no filter at all.
std::string query_string(const page_query& q, std::size_t page) {
    std::string out;
    auto add = [&](std::string_view k, std::string_view v) {
        if (v.empty()) return;
        out += out.empty() ? "?" : "&";
        out += k;
        out += '=';
        detail::append_percent_encoded(out, v);
    };
    add("q", q.text);
    add("status", q.status);
    add("dataset", q.dataset);
    std::string labels;
    for (const auto& [k, v] : q.labels)
        labels += (labels.empty() ? "" : ",") + k + (v.empty() ? "" : "=" + v);
    add("label", labels);
    if (page > 1) add("page", std::to_string(page));
    return out;
}

std::string labels_text(const page_query& q) {
    std::string out;
    for (const auto& [k, v] : q.labels)
        out += (out.empty() ? "" : ",") + k + (v.empty() ? "" : "=" + v);
    return out;
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

void append_label_tags(std::string& out, const poll::label_map& labels) {
    for (const auto& [k, v] : labels) {
        out += "<span class=\"tag\">";
        append_escaped(out, k);
        out += '=';
        append_escaped(out, v);
        out += "</span> ";
    }
}

// The progress bar: an SVG rect, so that no style attribute is needed (CSP style-src 'self').
void append_progress(std::string& out, const std::string& status, double ratio) {
    const double r = std::clamp(ratio, 0.0, 1.0);
    out += "<div class=\"prog\"><svg class=\"bar\" viewBox=\"0 0 100 10\" "
           "preserveAspectRatio=\"none\" role=\"progressbar\" aria-valuemin=\"0\" "
           "aria-valuemax=\"100\" aria-valuenow=\"" +
           number_text(r * 100) +
           "\"><rect class=\"track\" width=\"100\" height=\"10\" rx=\"5\"/><rect class=\"fill st-" +
           status + "\" width=\"" + fixed_text(r * 100, 2) +
           "\" height=\"10\" rx=\"5\"/></svg><em>" + percent_text(r) + "</em></div>";
}

void append_row(std::string& out, const poll::watched_task& tt, const page_summary& s,
                const page_options& opt) {
    const auto& st = tt.state;
    const auto& key = st.key;
    const auto* o = st.last ? &*st.last : nullptr;
    const std::string status = status_name(tt);
    const auto eta = tt.estimate.current().eta;

    out += "<tr id=\"task-" + sanitized_id(key.dataset_id) + "-" + sanitized_id(key.task_id) + "\"";
    append_task_data(out, tt);
    out += " data-up=\"";
    out += st.up ? "1" : "0";
    out += "\" data-eta=\"";
    if (eta) out += format_rfc3339(*eta);
    out += "\">";

    // Task: name (a link to its page), ids, labels.
    out += "<td class=\"wide\" data-label=\"Task\"><div class=\"name\"><a href=\"";
    append_escaped(out, task_page_path(key));
    out += "\">";
    if (o && !o->task_name.empty())
        append_escaped(out, o->task_name);
    else
        out += "<span class=\"muted\">(name not known yet)</span>";
    out += "</a></div><code>";
    append_escaped(out, key.task_id);
    out += "</code> <span class=\"tag\" title=\"dataset\">";
    append_escaped(out, key.dataset_id);
    out += "</span> ";
    if (o && !o->algorithm_type.empty()) {
        out += "<span class=\"tag\">";
        append_escaped(out, o->algorithm_type);
        out += "</span> ";
    }
    append_label_tags(out, tt.target_labels());
    out += "</td>";

    // Status.
    out += "<td class=\"small\" data-label=\"Status\">";
    append_badge(out, o ? o->status : std::nullopt);
    if (st.stalled)
        out += "<span class=\"flag\" title=\"no progress for stall_after\">stalled</span>";
    if (polls_failing(tt)) out += "<span class=\"flag\">polls failing</span>";
    if (o && !o->message.empty()) {
        out += "<div class=\"muted\">";
        append_escaped(out, o->message);
        out += "</div>";
    }
    out += "</td>";

    // Progress: bar, ETA, sparkline.
    out += "<td class=\"wide\" data-label=\"Progress\">";
    if (o && o->progress)
        append_progress(out, status, *o->progress);
    else
        out += "<span class=\"muted\">—</span>";
    if (eta) {
        out += "<span class=\"eta\" title=\"estimated completion " + format_rfc3339(*eta) + "\">";
        out += format_eta(*eta, s.now);
        out += "</span>";
    }
    if (opt.history) out += sparkline_svg(opt.history(key));
    out += "</td>";

    // Samples: annotated of total, and unconfirmed.
    out += "<td class=\"num small\" data-label=\"Annotated / total\">";
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

    out += "<td class=\"num small\" data-label=\"Last change\">";
    append_time(out, st.last_change, s.now);
    out += "</td><td class=\"num small\" data-label=\"Last poll\">";
    append_time(out, st.last_poll, s.now);
    out += "</td>";

    // Errors: the last poll's, then the task's own (a failed task says why).
    out += "<td class=\"errors wide\" data-label=\"Errors\">";
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

// One figure of the header, a link that filters the page by it.
void append_stat(std::string& out, std::string_view cls, std::uint64_t value,
                 std::string_view label, std::string_view filter, const page_query& q) {
    // A zero is dimmed (and left out on a phone) unless the figure is the active filter.
    std::string classes(cls);
    if (value == 0 && q.status != filter) classes += classes.empty() ? "zero" : " zero";
    if (filter.empty()) {
        out += "<div class=\"stat " + classes + "\">";
    } else {
        page_query f = q;
        f.status = q.status == filter ? "" : std::string(filter); // a second click clears it
        out += "<a class=\"stat " + classes;
        if (q.status == filter) out += " on";
        out += "\" data-status-count=\"";
        out += filter;
        out += "\" href=\"/";
        append_escaped(out, query_string(f, 1));
        out += "\">";
    }
    out += "<b>" + std::to_string(value) + "</b><span>";
    out += label;
    out += "</span>";
    out += filter.empty() ? "</div>" : "</a>";
}

} // namespace

page_query parse_page_query(std::string_view query) {
    page_query q;
    detail::for_each_query_pair(query, [&](std::string_view name, std::string_view raw) {
        const auto value = trimmed(form_decode(raw));
        if (name == "q") {
            q.text = value;
        } else if (name == "status") {
            q.status = value;
        } else if (name == "dataset") {
            q.dataset = value;
        } else if (name == "label") {
            std::string_view rest = value;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                const auto pair = trimmed(rest.substr(0, comma));
                rest =
                    comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
                if (pair.empty()) continue;
                const auto eq = pair.find('=');
                if (eq == std::string::npos)
                    q.labels.emplace_back(pair, "");
                else
                    q.labels.emplace_back(trimmed(pair.substr(0, eq)),
                                          trimmed(pair.substr(eq + 1)));
            }
        } else if (name == "page") {
            std::size_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec == std::errc{} && end == value.data() + value.size() && n > 0) q.page = n;
        }
        return true;
    });
    return q;
}

int attention_rank(const poll::watched_task& tt) {
    if (needs_attention(tt)) return 0;
    const auto name = status_name(tt);
    for (std::size_t i = 0; i < status_order.size(); ++i)
        if (status_order[i] == name) return static_cast<int>(i) + 1;
    return static_cast<int>(status_order.size());
}

bool matches(const poll::watched_task& tt, const page_query& q) {
    const auto& key = tt.state.key;
    if (!q.dataset.empty() && key.dataset_id != q.dataset) return false;
    if (!q.status.empty()) {
        if (q.status == "attention") {
            if (!needs_attention(tt)) return false;
        } else if (q.status == "failing") {
            if (!polls_failing(tt)) return false;
        } else if (q.status == "stalled") {
            if (!tt.state.stalled) return false;
        } else if (status_name(tt) != q.status) {
            return false;
        }
    }
    const auto& labels = tt.target_labels();
    for (const auto& [k, v] : q.labels) {
        auto it = labels.find(k);
        if (it == labels.end() || (!v.empty() && it->second != v)) return false;
    }
    if (q.text.empty()) return true;
    if (contains_nocase(key.task_id, q.text) || contains_nocase(key.dataset_id, q.text))
        return true;
    if (tt.state.last && contains_nocase(tt.state.last->task_name, q.text)) return true;
    for (const auto& [k, v] : labels)
        if (contains_nocase(v, q.text)) return true;
    return false;
}

std::string render_status_page(const poll::task_view& tasks, const page_summary& s,
                               const page_options& opt) {
    const auto& q = opt.query;
    // One pass: the header's counts over every task, the rows the filters let through.
    std::map<std::string, std::uint64_t, std::less<>> by_status;
    std::uint64_t watched = 0, attention = 0, failing = 0, stalled = 0;
    std::set<std::string_view> datasets;
    std::set<std::pair<std::string_view, std::string_view>> label_pairs;
    std::vector<const poll::watched_task*> rows;
    tasks.visit(nullptr, [&](const poll::watched_task& tt) {
        ++watched;
        ++by_status[status_name(tt)];
        attention += needs_attention(tt);
        failing += polls_failing(tt);
        stalled += tt.state.stalled;
        datasets.insert(tt.state.key.dataset_id);
        for (const auto& [k, v] : tt.target_labels())
            label_pairs.emplace(k, v);
        if (matches(tt, q)) rows.push_back(&tt);
        return true;
    });
    // Rank, then name (people look for a task by name; never seen yet: last), then key.
    auto order = [](const poll::watched_task* a, const poll::watched_task* b) {
        const int ra = attention_rank(*a), rb = attention_rank(*b);
        if (ra != rb) return ra < rb;
        const auto* na = a->state.last ? &a->state.last->task_name : nullptr;
        const auto* nb = b->state.last ? &b->state.last->task_name : nullptr;
        if (!na || !nb) {
            if (na || nb) return na != nullptr;
        } else if (*na != *nb) {
            return *na < *nb;
        }
        return a->state.key < b->state.key;
    };
    const std::size_t per_page = std::max<std::size_t>(opt.per_page, 1);
    const std::size_t pages = std::max<std::size_t>((rows.size() + per_page - 1) / per_page, 1);
    const std::size_t page = std::min(q.page, pages);
    const std::size_t first = (page - 1) * per_page;
    const std::size_t last = std::min(first + per_page, rows.size());
    // Only the rows of this page need their order: the rest is left unsorted.
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(last), rows.end(),
                      order);

    std::string out;
    out.reserve(8192 + (last - first) * 2400);
    append_head(out, "taskwatch — " + std::to_string(watched) + " tasks", 15);
    out += "<body data-refresh=\"15\"><main>\n<header><h1><a href=\"/\">taskwatch</a>"
           "<small>ModelArts auto-labeling tasks</small></h1><div class=\"meta live\" "
           "id=\"updated\" data-live>";
    out += s.ready ? "ready" : "starting: first poll round not finished";
    out += " · updated <time datetime=\"" + format_rfc3339(s.now) + "\">" +
           format_rfc3339(s.now).substr(11, 8) +
           " UTC</time> · refreshes every 15 s</div>"
           "</header>\n";
    // The banners live in one element the in-place refresh swaps: a problem that starts (or
    // ends) while the page is open shows (or goes) at the next refresh, not only on a reload.
    out += "<div id=\"problems\" data-live>";
    if (!s.store_problem.empty()) {
        // Events wait in memory only: an operator must see it before anything else.
        out += "<div class=\"alert\" role=\"alert\" id=\"store-problem\">Cannot write the state "
               "database: ";
        append_escaped(out, s.store_problem);
        out += ". Task states and events are kept in memory and written once it works again; "
               "they are lost if taskwatchd stops before.</div>\n";
    }
    if (!s.discovery_problems.empty()) {
        // Tasks that cannot be listed are missing from the page: say so, not just nothing.
        out += "<div class=\"alert\" role=\"alert\" id=\"discovery-problem\">Cannot list the "
               "tasks of ";
        for (std::size_t i = 0; i < s.discovery_problems.size(); ++i) {
            if (i > 0) out += "; ";
            append_escaped(out, s.discovery_problems[i]);
        }
        out += ". New tasks there are not watched until a listing succeeds (tried every "
               "interval); the tasks already known are still polled.</div>\n";
    }
    out += "</div>\n";

    out += "<div class=\"summary\" id=\"summary\" data-live>";
    append_stat(out, "", watched, "tasks", "", q);
    append_stat(out, attention ? "bad" : "", attention, "attention", "attention", q);
    for (auto name : status_order) {
        auto it = by_status.find(name);
        const std::uint64_t n = it == by_status.end() ? 0 : it->second;
        const char* cls = name == "failed" && n ? "bad" : name == "succeeded" && n ? "good" : "";
        append_stat(out, cls, n, name, name, q);
    }
    append_stat(out, failing ? "bad" : "", failing, "polls failing", "failing", q);
    append_stat(out, stalled ? "bad" : "", stalled, "stalled", "stalled", q);
    append_stat(out, "", s.polls, "polls", "", q);
    append_stat(out, s.poll_failures ? "bad" : "", s.poll_failures, "poll failures", "", q);
    out += "</div>\n";

    // The filters: a GET form, so they work without the script too.
    out += "<form class=\"filters\" id=\"filters\" method=\"get\" action=\"/\" role=\"search\">"
           "<input type=\"search\" name=\"q\" placeholder=\"Search name, task, dataset, label\" "
           "aria-label=\"search\" value=\"";
    append_escaped(out, q.text);
    out += "\"><select name=\"status\" aria-label=\"status\"><option value=\"\">any status"
           "</option>";
    auto option = [&](std::string_view value, std::string_view label, bool selected) {
        out += "<option value=\"";
        append_escaped(out, value);
        out += selected ? "\" selected>" : "\">";
        append_escaped(out, label);
        out += "</option>";
    };
    option("attention", "needs attention", q.status == "attention");
    for (auto name : status_order)
        option(name, name, q.status == name);
    option("failing", "polls failing", q.status == "failing");
    option("stalled", "stalled", q.status == "stalled");
    out += "</select><select name=\"dataset\" aria-label=\"dataset\"><option value=\"\">any "
           "dataset</option>";
    for (auto d : datasets)
        option(d, d, q.dataset == d);
    if (!q.dataset.empty() && !datasets.count(q.dataset)) option(q.dataset, q.dataset, true);
    out += "</select><input name=\"label\" list=\"label-pairs\" placeholder=\"label=value\" "
           "aria-label=\"labels\" value=\"";
    append_escaped(out, labels_text(q));
    out += "\"><datalist id=\"label-pairs\">";
    std::size_t shown_pairs = 0;
    for (const auto& [k, v] : label_pairs) {
        if (++shown_pairs > 200) break; // a hint, not an index
        out += "<option value=\"";
        append_escaped(out, k);
        out += '=';
        append_escaped(out, v);
        out += "\">";
    }
    out += "</datalist><button type=\"submit\">Filter</button> <a href=\"/\">clear</a></form>\n";

    out += "<section id=\"results\" data-live data-matching=\"" + std::to_string(rows.size()) +
           "\" data-page=\"" + std::to_string(page) + "\" data-pages=\"" + std::to_string(pages) +
           "\">";
    if (watched == 0) {
        out += "<div class=\"empty\">No tasks yet: taskwatch has not found any task of the "
               "configured datasets.</div>";
    } else if (rows.empty()) {
        out += "<div class=\"empty\">No task matches these filters. <a href=\"/\">Show every "
               "task</a>.</div>";
    } else {
        out += "<div class=\"scroll\"><table class=\"tasks\"><thead><tr><th>Task</th>"
               "<th>Status</th><th>Progress</th><th>Annotated / total</th><th>Last change</th>"
               "<th>Last poll</th><th>Errors</th></tr></thead><tbody>\n";
        for (std::size_t i = first; i < last; ++i)
            append_row(out, *rows[i], s, opt);
        out += "</tbody></table></div>";
    }
    if (!rows.empty()) {
        out += "<nav class=\"pager\" aria-label=\"pages\">";
        if (page > 1) {
            out += "<a rel=\"prev\" href=\"/";
            append_escaped(out, query_string(q, page - 1));
            out += "\">← previous</a>";
        }
        out += "<span>" + std::to_string(first + 1) + "–" + std::to_string(last) + " of " +
               std::to_string(rows.size()) +
               (rows.size() == watched ? std::string(" tasks")
                                       : " matching (" + std::to_string(watched) + " watched)") +
               "</span>";
        if (page < pages) {
            out += "<a rel=\"next\" href=\"/";
            append_escaped(out, query_string(q, page + 1));
            out += "\">next →</a>";
        }
        out += "</nav>";
    }
    out += "</section>\n<footer>taskwatch ";
    append_escaped(out, s.version);
    out += " · <a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/tasks\">/api/v1/tasks</a>"
           " · values from taskwatch's own polling of ModelArts</footer>\n</main></body></html>\n";
    return out;
}

} // namespace taskwatch::web
