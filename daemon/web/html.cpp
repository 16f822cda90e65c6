#include "taskwatch/web/html.hpp"

#include "taskwatch/detail/percent.hpp"
#include "taskwatch/web/task_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace taskwatch::web {
namespace {

constexpr std::string_view css = R"css(
:root{color-scheme:light dark;--bg:#f5f6f8;--card:#fff;--ink:#1c2430;--muted:#667085;--line:#e3e6ea;
--track:#e9edf2;--blue:#2563eb;--green:#16803c;--red:#c0262d;--amber:#b45309;--slate:#64748b;
--violet:#7c3aed;--focus:#2563eb}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--card:#171d24;--ink:#e6e9ee;--muted:#98a2b3;
--line:#2a323c;--track:#26303b;--blue:#60a5fa;--green:#4ade80;--red:#f87171;--amber:#fbbf24;
--slate:#94a3b8;--violet:#a78bfa}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
a{color:var(--blue)}
main{max-width:1280px;margin:0 auto;padding:20px 24px 40px}
header{display:flex;align-items:baseline;justify-content:space-between;flex-wrap:wrap;gap:8px}
h1{font-size:20px;margin:0;word-break:break-word}
h1 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
h1 a{color:inherit;text-decoration:none}
.meta{color:var(--muted);font-size:12px}
.stale .meta.live::after{content:" · refresh failed, retrying";color:var(--red)}
.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(98px,1fr));gap:8px;margin:16px 0 8px}
.stat{display:block;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:6px 10px;
color:inherit;text-decoration:none;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.stat.zero b{color:var(--muted);font-weight:400}
a.stat:hover,a.stat.on{border-color:var(--blue)}
.stat b{display:block;font-size:20px;font-variant-numeric:tabular-nums}
.stat span{color:var(--muted);font-size:12px}
.stat.bad b{color:var(--red)}
.stat.good b{color:var(--green)}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:14px 0}
.filters input,.filters select,.filters button{font:inherit;color:var(--ink);background:var(--card);
border:1px solid var(--line);border-radius:8px;padding:6px 10px;min-height:34px}
.filters input[type=search]{flex:1 1 220px}
.filters input[name=label]{flex:0 1 180px}
.filters a{font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:18px 0;overflow:hidden}
section h2{font-size:15px;margin:0;padding:12px 14px;border-bottom:1px solid var(--line);
display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
section h2 .meta{font-weight:400}
section .body{padding:12px 14px}
.tag{display:inline-block;border:1px solid var(--line);border-radius:6px;padding:0 6px;font-size:11px;
font-weight:400;color:var(--muted);margin:1px 0}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse}
th{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;
text-align:left;padding:8px 12px;background:var(--bg)}
td{padding:9px 12px;border-top:1px solid var(--line);vertical-align:top}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
td.errors{min-width:220px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--muted)}
.name{font-weight:600;word-break:break-word}
.name a{color:inherit}
.badge{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap}
@media (prefers-color-scheme:dark){.badge{color:#0f1419}}
.st-queuing{background:var(--slate)}.st-initializing{background:var(--violet)}
.st-running{background:var(--blue)}.st-failed{background:var(--red)}
.st-succeeded{background:var(--green)}.st-stopping{background:var(--amber)}
.st-stopped{background:var(--muted)}.badge.st-unknown{background:transparent;color:var(--muted);
border:1px dashed var(--muted)}
.flag{display:inline-block;margin-left:6px;font-size:11px;color:var(--amber);font-weight:600}
.prog{display:flex;align-items:center;gap:8px;min-width:150px}
svg.bar{flex:1;height:10px;min-width:60px}
svg.bar .track{fill:var(--track)}
svg .fill{fill:var(--blue)}
svg .fill.st-succeeded{fill:var(--green)}svg .fill.st-failed{fill:var(--red)}
svg .fill.st-stopped,svg .fill.st-stopping{fill:var(--amber)}
.prog em{font:600 12px ui-monospace,SFMono-Regular,Menlo,monospace;font-style:normal;
min-width:48px;text-align:right;font-variant-numeric:tabular-nums}
svg.spark{width:120px;height:24px;display:block;margin-top:4px;overflow:visible}
svg.spark polyline,svg.chart polyline{fill:none;stroke:var(--blue);stroke-width:1.5;
stroke-linejoin:round;vector-effect:non-scaling-stroke}
svg.spark .base{stroke:var(--line);stroke-width:1;vector-effect:non-scaling-stroke}
svg.spark circle{fill:var(--blue)}
.eta,.rate{display:block;color:var(--muted);font-size:12px;white-space:nowrap}
.err{color:var(--red);word-break:break-word}
.muted{color:var(--muted)}
.empty{padding:40px;text-align:center;color:var(--muted)}
.alert{margin:14px 0 0;padding:10px 14px;border:1px solid var(--red);border-left-width:6px;
border-radius:10px;background:var(--card);color:var(--red);font-weight:600;word-break:break-word}
.pager{display:flex;gap:14px;align-items:center;justify-content:center;padding:12px;color:var(--muted)}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:10px 18px;margin:0}
.facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;word-break:break-word}
svg.chart{width:100%;height:auto;display:block}
svg.chart .grid{stroke:var(--line);stroke-width:1}
svg.chart text{fill:var(--muted);font:11px system-ui,sans-serif}
svg.chart circle{fill:var(--blue)}
svg.chart line.tail{stroke:var(--blue);stroke-width:1.5;stroke-dasharray:4 4;vector-effect:non-scaling-stroke}
svg.chart rect.seg{stroke:none}
ol.timeline{list-style:none;margin:0;padding:0}
ol.timeline li{padding:6px 0;border-top:1px solid var(--line);display:flex;gap:10px;flex-wrap:wrap;
align-items:baseline}
ol.timeline li:first-child{border-top:0}
.dl{display:inline-block;margin:1px 4px 1px 0;padding:0 6px;border-radius:6px;font-size:11px;
border:1px solid var(--line)}
.dl.delivered{color:var(--green);border-color:var(--green)}
.dl.dead{color:var(--red);border-color:var(--red)}
.dl.pending{color:var(--amber);border-color:var(--amber)}
pre.json{margin:0;padding:12px 14px;overflow:auto;max-height:480px;
font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{margin-top:24px;color:var(--muted);font-size:12px}
footer a{color:inherit}
@media (max-width:720px){
main{padding:12px 10px 30px}
.summary{grid-template-columns:repeat(4,1fr);gap:6px}.stat{padding:4px 8px}.stat b{font-size:17px}
.stat span{font-size:11px}.stat.zero{display:none}
.filters select{flex:1 1 40%}
table.tasks thead{display:none}
table.tasks,table.tasks tbody{display:block;width:100%}
table.tasks tr{display:grid;grid-template-columns:1fr 1fr;gap:2px 14px;border-top:1px solid var(--line);
padding:10px 12px}
table.tasks td{display:block;border:0;padding:2px 0;min-width:0}
table.tasks td.wide{grid-column:1/-1}
table.tasks td.small::before{content:attr(data-label);display:block;font-size:11px;
color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
table.tasks td.num code{display:none}
table.tasks td.errors:has(>.muted:only-child){display:none}
svg.spark{width:100%}
.facts{grid-template-columns:1fr 1fr}
}
)css";

// Keeps the page live without reloading it: every 15 s it fetches the same URL and swaps the
// elements marked data-live (same id), so the scroll position, the focus and what is typed in
// the filters stay. The filter form is applied the same way as it is typed into.
constexpr std::string_view js = R"js('use strict';
(function () {
  var every = 15000;
  var latest = 0;   // number of the newest request: an older answer never replaces a newer one
  var pending = 0;
  var swaps = 0;
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    document.querySelectorAll('[data-live]').forEach(function (old) {
      var fresh = doc.getElementById(old.id);
      if (fresh) old.replaceWith(fresh);
    });
    if (doc.title) document.title = doc.title;
    // For tools and tests: how many times the page was refreshed in place.
    document.documentElement.setAttribute('data-refreshes', String(++swaps));
  }
  function load(url, remember) {
    var mine = ++latest;
    pending++;
    fetch(url, {credentials: 'same-origin', headers: {Accept: 'text/html'}})
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (text) {
        if (mine !== latest) return;
        swap(text);
        if (remember) history.replaceState(null, '', url);
        document.documentElement.classList.remove('stale');
      })
      .catch(function () {
        if (mine === latest) document.documentElement.classList.add('stale');
      })
      .finally(function () { pending--; });
  }
  var form = document.getElementById('filters');
  if (form) {
    var timer = 0;
    var apply = function () {
      var q = new URLSearchParams();
      new FormData(form).forEach(function (v, k) { if (v !== '') q.append(k, v); });
      var s = q.toString();
      load(location.pathname + (s ? '?' + s : ''), true);
    };
    form.addEventListener('submit', function (e) { e.preventDefault(); apply(); });
    form.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(apply, 300); });
  }
  if (document.body.dataset.refresh) {
    setInterval(function () {
      if (!document.hidden && pending === 0) load(location.pathname + location.search, false);
    }, every);
  }
})();
)js";

// FNV-1a, 64 bits, in hex: names one version of a file for caches.
std::string content_hash(std::string_view text) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : text)
        h = (h ^ c) * 1099511628211ull;
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4)
        out[static_cast<std::size_t>(i)] = "0123456789abcdef"[h & 15];
    return out;
}

} // namespace

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

std::string format_eta(task::time_point eta, task::time_point now) {
    using namespace std::chrono;
    const auto s = duration_cast<seconds>(eta - now).count();
    if (s < 5) return "≈ any moment";
    if (s < 60) return "≈ " + std::to_string(s) + " s left";
    const auto min = (s + 30) / 60; // rounded: 90 s reads "2 min"
    if (min < 60) return "≈ " + std::to_string(min) + " min left";
    if (min < 48 * 60) {
        const auto h = min / 60, m = min % 60;
        return "≈ " + std::to_string(h) + " h" + (m ? " " + std::to_string(m) + " min" : "") +
               " left";
    }
    return "≈ " + std::to_string((min + 12 * 60) / (24 * 60)) + " days left";
}

std::string_view style_sheet() {
    return css;
}
std::string_view page_script() {
    return js;
}
std::string style_sheet_path() {
    static const std::string path = "/static/taskwatch.css?h=" + content_hash(css);
    return path;
}
std::string page_script_path() {
    static const std::string path = "/static/taskwatch.js?h=" + content_hash(js);
    return path;
}

std::string status_name(const poll::watched_task& tt) {
    const auto& o = tt.state.last;
    return o && o->status ? std::string(modelarts::to_string(*o->status)) : "unknown";
}

void append_task_data(std::string& out, const poll::watched_task& tt) {
    const auto& key = tt.state.key;
    const auto& o = tt.state.last;
    out += " data-project-id=\"";
    append_escaped(out, key.project_id);
    out += "\" data-dataset-id=\"";
    append_escaped(out, key.dataset_id);
    out += "\" data-task-id=\"";
    append_escaped(out, key.task_id);
    out += "\" data-status=\"" + status_name(tt) + "\" data-progress=\"";
    if (o && o->progress) out += number_text(*o->progress);
    out += '"';
}

std::string task_page_path(const task::task_key& key) {
    return "/tasks/" + detail::percent_encode(key.dataset_id) + "/" +
           detail::percent_encode(key.task_id);
}

std::string number_text(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("0");
}

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

void append_badge(std::string& out, const std::optional<modelarts::task_status>& status) {
    const std::string name = status ? std::string(modelarts::to_string(*status)) : "unknown";
    out += "<span class=\"badge st-" + name + "\">" + name;
    if (status && !modelarts::is_known(*status))
        out += " (" + std::to_string(modelarts::to_code(*status)) + ")";
    out += "</span>";
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

void append_head(std::string& out, std::string_view title, int refresh_seconds) {
    out += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
           "<meta name=\"color-scheme\" content=\"light dark\">";
    if (refresh_seconds > 0)
        out += "<noscript><meta http-equiv=\"refresh\" content=\"" +
               std::to_string(refresh_seconds) + "\"></noscript>";
    out += "<title>";
    append_escaped(out, title);
    out += "</title><link rel=\"stylesheet\" href=\"";
    append_escaped(out, style_sheet_path());
    out += "\"><script defer src=\"";
    append_escaped(out, page_script_path());
    out += "\"></script></head>";
}

} // namespace taskwatch::web
