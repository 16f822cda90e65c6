// The chat robots' formats: one readable text per event (the default one or the webhook's
// template), the robot's JSON around it, its signing, and what its answers mean.
#include "taskwatch/notify/format.hpp"

#include "taskwatch/detail/base64.hpp"
#include "taskwatch/detail/crypto.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/percent.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/detail/rfc3339.hpp"
#include "taskwatch/detail/utf8.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace taskwatch::notify {

namespace json = boost::json;
using config::webhook_format;
using modelarts::task_status;

namespace {

std::string base64_of(const detail::sha256_digest& d) {
    return detail::base64_encode(
        std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

/// The longest prefix of `s` of at most `max_bytes` that ends on a UTF-8 sequence boundary
/// (a byte that starts no valid sequence counts as one character).
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t len = detail::utf8_sequence_at(s, i);
        if (len == 0) len = 1;
        if (i + len > max_bytes) break;
        i += len;
    }
    return s.substr(0, i);
}

/// `s` cut to at most `max_bytes`, "…" included when something was cut.
std::string cut(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    constexpr std::string_view ellipsis = "…";
    if (max_bytes < ellipsis.size()) return {};
    return std::string(utf8_prefix(s, max_bytes - ellipsis.size())) + std::string(ellipsis);
}

std::string_view chinese_name(task_status s) {
    switch (s) {
    case task_status::queuing:
        return "排队中";
    case task_status::initializing:
        return "初始化中";
    case task_status::running:
        return "运行中";
    case task_status::failed:
        return "失败";
    case task_status::succeeded:
        return "成功";
    case task_status::stopping:
        return "停止中";
    case task_status::stopped:
        return "已停止";
    }
    return "未知";
}

/// "失败 failed"; a code outside the API's table: "未知 unknown (17)".
std::string bilingual_status(task_status s) {
    std::string out(chinese_name(s));
    out.append(" ").append(modelarts::to_string(s));
    if (!modelarts::is_known(s)) out += " (" + std::to_string(modelarts::to_code(s)) + ")";
    return out;
}

std::string status_name(const std::optional<task_status>& s) {
    return s ? std::string(modelarts::to_string(*s)) : std::string();
}

/// A progress ratio as people read it: 0.42 -> "42%", 0.425 -> "42.5%"; "" when unknown.
std::string percent_text(const std::optional<double>& ratio) {
    if (!ratio || !std::isfinite(*ratio)) return {};
    const long long tenths = std::llround(*ratio * 1000.0);
    std::string out = std::to_string(tenths / 10);
    if (tenths % 10 != 0)
        out.append(".").push_back(static_cast<char>('0' + std::llabs(tenths % 10)));
    return out + "%";
}

std::string count_text(const std::optional<std::int64_t>& n) {
    return n ? std::to_string(*n) : std::string();
}

/// The task's state the message tells: the current one, or the last known for an event
/// without one.
const task::snapshot* state_of(const task::event& e) {
    if (e.current) return &*e.current;
    if (e.previous) return &*e.previous;
    return nullptr;
}

std::string labels_text(const std::map<std::string, std::string>& labels) {
    std::string out;
    for (const auto& [k, v] : labels)
        out.append(out.empty() ? "" : ", ").append(k).append("=").append(v);
    return out;
}

/// Words joined by one space, empty ones left out.
std::string joined(std::initializer_list<std::string_view> words) {
    std::string out;
    for (auto w : words)
        if (!w.empty()) out.append(out.empty() ? "" : " ").append(w);
    return out;
}

/// The value of template placeholder `name` (config::template_placeholders); nullopt for a
/// name that is none.
std::optional<std::string> placeholder(std::string_view name, const task::event& e,
                                       const event_context& c) {
    const auto* s = state_of(e);
    static const task::snapshot none;
    if (!s) s = &none;
    const auto* prev = e.previous ? &*e.previous : &none;
    if (name == "type") return std::string(task::to_string(e.type));
    if (name == "time") return detail::format_rfc3339(e.time, detail::time_precision::seconds);
    if (name == "project_id") return e.key.project_id;
    if (name == "dataset_id") return e.key.dataset_id;
    if (name == "task_id") return e.key.task_id.str();
    if (name == "task_name") return e.task_name;
    if (name == "labels") return labels_text(c.labels);
    if (name == "status") return status_name(s->status);
    if (name == "previous_status") return status_name(prev->status);
    if (name == "progress") return percent_text(s->progress);
    if (name == "previous_progress") return percent_text(prev->progress);
    if (name == "annotated") return count_text(s->annotated_sample_count);
    if (name == "total") return count_text(s->total_sample_count);
    if (name == "code") return s->code;
    if (name == "message") return s->message;
    // A failing poll's error is what the reader wants; the task's own otherwise.
    if (name == "error_code")
        return e.error && !e.error->error_code.empty() ? e.error->error_code : s->error_code;
    if (name == "error_msg")
        return e.error && !e.error->error_msg.empty() ? e.error->error_msg : s->error_msg;
    if (name == "link") return c.link;
    return std::nullopt;
}

/// How text from the API is made harmless in a format's markup.
using escape_fn = std::string (*)(std::string_view);

std::string as_is(std::string_view s) {
    return std::string(s);
}

/// A control character (a line break above all) in a value would start a line of its own in
/// the message, one that could pass for taskwatch's ("Status: succeeded"): it shows as a space.
bool is_control(char ch) {
    return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
}

// Slack reads <...> as links and mentions (<!channel>): its docs ask senders to escape these
// three, and a task name should never ping a channel.
std::string slack_escaped(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        if (ch == '&')
            out += "&amp;";
        else if (ch == '<')
            out += "&lt;";
        else if (ch == '>')
            out += "&gt;";
        else
            out += is_control(ch) ? ' ' : ch;
    }
    return out;
}

/// U+2060 WORD JOINER: invisible, and no markup starts with it.
constexpr std::string_view word_joiner = "\u2060";

// Feishu reads <at user_id="all"></at> in a text message as a mention of everyone, and WeCom's
// markdown <@userid> as a mention and <font ...> as markup; they have no escape. An invisible
// word joiner after each '<' shows the same text and starts no tag, so a task name pings nobody.
std::string tags_defused(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        out += is_control(ch) ? ' ' : ch;
        if (ch == '<') out += word_joiner;
    }
    return out;
}

// WeCom's markdown also reads [text](url) as a link: a task name must not put a link of its
// choosing in taskwatch's message. A word joiner between "]" and "(" keeps the text and drops
// the link; '*' before a word joiner no longer marks bold.
std::string markdown_defused(std::string_view s) {
    std::string out = tags_defused(s);
    for (std::size_t at = out.find("]("); at != std::string::npos; at = out.find("](", at))
        out.insert(at += 1, word_joiner);
    for (std::size_t at = out.find('*'); at != std::string::npos; at = out.find('*', at))
        out.insert(at += 1, word_joiner);
    return out;
}

/// How a format shows text: Slack's mrkdwn needs escaping, WeCom's markdown takes bold and
/// links, the others show it as it is but for Feishu's mention tags.
enum class text_style { plain, slack, markdown };

text_style style_of(webhook_format f) {
    if (f == webhook_format::slack) return text_style::slack;
    if (f == webhook_format::wecom) return text_style::markdown;
    return text_style::plain;
}

escape_fn escape_for(text_style s) {
    switch (s) {
    case text_style::slack:
        return slack_escaped;
    case text_style::markdown:
        return markdown_defused;
    case text_style::plain:
        break;
    }
    return tags_defused;
}

std::string fill_template(std::string_view tpl, const task::event& e, const event_context& c,
                          escape_fn escape) {
    std::string out;
    for (std::size_t i = 0; i < tpl.size(); ++i) {
        const char ch = tpl[i];
        if ((ch == '{' || ch == '}') && i + 1 < tpl.size() && tpl[i + 1] == ch) {
            out += ch; // "{{" and "}}": a literal brace
            ++i;
            continue;
        }
        if (ch == '{') {
            const auto end = tpl.find('}', i + 1);
            if (end != std::string_view::npos) {
                if (auto v = placeholder(tpl.substr(i + 1, end - i - 1), e, c)) {
                    out += escape(*v);
                    i = end;
                    continue;
                }
            }
        }
        out += ch; // a lone brace or an unknown name (config rejects both): as written
    }
    return out;
}

std::string_view headline(task::event_type t) {
    switch (t) {
    case task::event_type::discovered:
        return "发现任务 / Task discovered";
    case task::event_type::status_changed:
        return "任务状态变化 / Task status changed";
    case task::event_type::progress:
        return "任务进度 / Task progress";
    case task::event_type::stalled:
        return "任务停滞 / Task stalled";
    case task::event_type::gone:
        return "任务已不存在 / Task gone";
    case task::event_type::poll_failing:
        return "查询任务失败 / Polling the task fails";
    case task::event_type::poll_recovered:
        return "查询任务恢复 / Polling the task recovered";
    }
    return "任务事件 / Task event";
}

/// "A → B" when the two differ and both are known, else the known one.
std::string change_text(const std::string& before, const std::string& after) {
    if (!before.empty() && !after.empty() && before != after) return before + " → " + after;
    return after.empty() ? before : after;
}

std::string default_text(const task::event& e, const event_context& c, text_style style) {
    const escape_fn esc = escape_for(style);
    const bool markdown = style == text_style::markdown;
    const auto* s = state_of(e);
    const auto* prev = e.previous && e.current ? &*e.previous : nullptr;
    std::string out = markdown ? "**【taskwatch】" + std::string(headline(e.type)) + "**"
                               : "【taskwatch】" + std::string(headline(e.type));
    auto line = [&](std::string_view label, const std::string& value) {
        if (value.empty()) return;
        out.append("\n").append(label).append(": ").append(value);
    };
    line("任务 Task", e.task_name.empty() ? esc(e.key.task_id)
                                          : esc(e.task_name) + " (" + esc(e.key.task_id) + ")");
    line("数据集 Dataset", esc(e.key.dataset_id));
    line("标签 Labels", esc(labels_text(c.labels)));
    if (s) {
        auto status = [](const task::snapshot* x) {
            return x && x->status ? bilingual_status(*x->status) : std::string();
        };
        line("状态 Status", change_text(status(prev), status(s)));
        line("进度 Progress", change_text(prev ? percent_text(prev->progress) : std::string(),
                                          percent_text(s->progress)));
        if (s->annotated_sample_count || s->total_sample_count) {
            auto n = [](const std::optional<std::int64_t>& v) {
                return v ? std::to_string(*v) : std::string("?");
            };
            line("样本 Samples", n(s->annotated_sample_count) + " / " + n(s->total_sample_count) +
                                     " 已标注 annotated");
        }
        line("信息 Message", esc(joined({s->code, s->message})));
        line("错误 Error", esc(joined({s->error_code, s->error_msg})));
    }
    if (e.error)
        line("查询错误 Poll error",
             esc(joined({e.error->reason, e.error->error_code, e.error->error_msg})));
    if (!c.link.empty())
        line("链接 Link", markdown ? "[" + c.link + "](" + c.link + ")" : esc(c.link));
    return out;
}

std::string text_of(const config::webhook& w, const task::event& e, const event_context& c) {
    const auto style = style_of(w.format);
    if (w.template_text) return fill_template(*w.template_text, e, c, escape_for(style));
    return default_text(e, c, style);
}

std::int64_t unix_seconds(time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::int64_t unix_ms(time_point t) {
    return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string body_of(const config::webhook& w, const std::string& text, time_point now) {
    switch (w.format) {
    case webhook_format::slack:
        return compact_json(json::object{{"text", text}});
    case webhook_format::feishu: {
        json::object body;
        if (w.secret && !w.secret->empty()) {
            const auto ts = unix_seconds(now);
            body["timestamp"] = std::to_string(ts); // Feishu wants a string of seconds
            body["sign"] = feishu_sign(w.secret->reveal(), ts);
        }
        body["msg_type"] = "text";
        body["content"] = json::object{{"text", text}};
        return compact_json(body);
    }
    case webhook_format::dingtalk:
        return compact_json(
            json::object{{"msgtype", "text"}, {"text", json::object{{"content", text}}}});
    case webhook_format::wecom:
        return compact_json(
            json::object{{"msgtype", "markdown"}, {"markdown", json::object{{"content", text}}}});
    case webhook_format::generic:
    case webhook_format::alertmanager:
        break;
    }
    throw std::logic_error("chat_request for webhook \"" + w.name + "\" of format " +
                           std::string(config::to_string(w.format)));
}

/// The first `shown` texts, and a line counting the rest.
std::string merged(const std::vector<std::string>& texts, std::size_t shown) {
    std::string out;
    for (std::size_t i = 0; i < shown; ++i)
        out.append(i ? "\n\n" : "").append(texts[i]);
    if (const auto rest = texts.size() - shown; rest > 0) {
        const auto n = std::to_string(rest);
        out += "\n\n… 另有 " + n + " 个事件 / " + n + " more event" + (rest > 1 ? "s" : "");
    }
    return out;
}

/// One line of at most 200 bytes for a receiver's text in an error message.
std::string short_line(std::string_view s) {
    return cut(detail::one_line(s), 200);
}

std::optional<std::int64_t> integer_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (const auto* i = v->if_int64()) return *i;
    if (const auto* u = v->if_uint64(); u && *u <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(*u);
    return std::nullopt;
}

std::string string_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (const auto* s = v ? v->if_string() : nullptr) return std::string(*s);
    return {};
}

std::optional<json::object> parse_object(std::string_view body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

// Feishu, DingTalk, WeCom: a JSON object whose code member (`code_keys`, the first present)
// is 0 reports success; anything else is an error, named by its code and message.
std::optional<std::string> coded_answer_error(std::string_view body,
                                              std::initializer_list<std::string_view> code_keys,
                                              std::initializer_list<std::string_view> msg_keys) {
    auto o = parse_object(body);
    if (!o) return "answer is not a JSON object: \"" + short_line(body) + "\"";
    for (auto key : code_keys) {
        if (!o->contains(key)) continue;
        const auto code = integer_member(*o, key);
        if (code == 0) return std::nullopt;
        std::string msg;
        for (auto m : msg_keys)
            if (msg.empty()) msg = string_member(*o, m);
        std::string out(key);
        out += " " + (code ? std::to_string(*code) : short_line(json::serialize(o->at(key))));
        if (!msg.empty()) out += ": " + short_line(msg);
        return out;
    }
    return "answer has no " + std::string(*code_keys.begin()) + ": \"" + short_line(body) + "\"";
}

// Slack answers "ok"; Mattermost "ok" too; Rocket.Chat {"success": true}.
std::optional<std::string> slack_answer_error(std::string_view body) {
    auto trimmed = body;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
        trimmed.remove_suffix(1);
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
        trimmed.remove_prefix(1);
    if (trimmed.empty() || trimmed == "ok") return std::nullopt;
    if (auto o = parse_object(trimmed)) {
        for (auto key : {"ok", "success"}) {
            const auto* v = o->if_contains(key);
            if (!v || !v->is_bool()) continue;
            if (v->get_bool()) return std::nullopt;
            auto msg = string_member(*o, "error");
            return std::string(key) + " false" + (msg.empty() ? "" : ": " + short_line(msg));
        }
    }
    return "answer is not \"ok\": \"" + short_line(trimmed) + "\"";
}

} // namespace

std::string chat_text(const std::optional<std::string>& template_text, const task::event& e,
                      const event_context& c) {
    if (template_text) return fill_template(*template_text, e, c, as_is);
    return default_text(e, c, text_style::plain);
}

request chat_request(const config::webhook& w, std::span<const task::event> events,
                     std::span<const event_context> contexts, time_point now) {
    static const event_context no_context;
    std::vector<std::string> texts;
    texts.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i)
        texts.push_back(text_of(w, events[i], i < contexts.size() ? contexts[i] : no_context));

    // Over the robot's size limit (WeCom counts the content, Feishu the body): fewer events
    // shown in full and the rest counted; a single event still too long is cut cleanly, at
    // the longest prefix that fits (found by halving: JSON escaping makes sizes uneven).
    const std::size_t limit = limits_of(w.format).max_body_bytes;
    std::size_t shown = texts.size();
    std::string text, body;
    auto build = [&] {
        text = merged(texts, shown);
        body = body_of(w, text, now);
        return !limit || (w.format == webhook_format::wecom ? text.size() : body.size()) <= limit;
    };
    bool fits = build();
    while (!fits && shown > 1) {
        --shown;
        fits = build();
    }
    if (!fits && !texts.empty()) {
        const std::string full = std::move(texts[0]);
        std::size_t lo = 0, hi = full.size(); // the longest cut that fits is in [lo, hi]
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo + 1) / 2;
            texts[0] = cut(full, mid);
            if (build())
                lo = mid;
            else
                hi = mid - 1;
        }
        texts[0] = cut(full, lo);
        build();
    }

    request r;
    r.body = std::move(body);
    if (w.format == webhook_format::dingtalk && w.secret && !w.secret->empty()) {
        const auto ms = unix_ms(now);
        r.query = "timestamp=" + std::to_string(ms) +
                  "&sign=" + detail::percent_encode(dingtalk_sign(w.secret->reveal(), ms));
    }
    return r;
}

std::string feishu_sign(std::string_view secret, std::int64_t timestamp_s) {
    std::string key = std::to_string(timestamp_s);
    key.append("\n").append(secret);
    return base64_of(detail::hmac_sha256(key, ""));
}

std::string dingtalk_sign(std::string_view secret, std::int64_t timestamp_ms) {
    std::string message = std::to_string(timestamp_ms);
    message.append("\n").append(secret);
    return base64_of(detail::hmac_sha256(secret, message));
}

std::optional<std::string> answer_error(webhook_format f, std::string_view body) {
    switch (f) {
    case webhook_format::generic:
    case webhook_format::alertmanager:
        return std::nullopt;
    case webhook_format::slack:
        return slack_answer_error(body);
    // Feishu's v2 hook answers {"code":0,...}; older deployments {"StatusCode":0,...}.
    case webhook_format::feishu:
        return coded_answer_error(body, {"code", "StatusCode"}, {"msg", "StatusMessage"});
    case webhook_format::dingtalk:
    case webhook_format::wecom:
        return coded_answer_error(body, {"errcode"}, {"errmsg"});
    }
    return std::nullopt;
}

rate_limit limits_of(webhook_format f) {
    using std::chrono::milliseconds;
    switch (f) {
    case webhook_format::generic:
    case webhook_format::alertmanager:
        return {};
    case webhook_format::slack:
        return {milliseconds(1000), 0, 0, 20};
    // 5 a second and 100 a minute per bot; a body of at most 20 KB (read as 20,000 bytes).
    case webhook_format::feishu:
        return {milliseconds(200), 100, 20'000, 20};
    case webhook_format::dingtalk:
        return {milliseconds(0), 20, 0, 20};
    // Markdown content of at most 4096 bytes: about ten default texts.
    case webhook_format::wecom:
        return {milliseconds(0), 20, 4096, 10};
    }
    return {};
}

} // namespace taskwatch::notify
