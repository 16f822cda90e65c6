// What each webhook format sends (CONTRACT "Events and the generic webhook", API-NOTES
// "Webhook receivers"): the body and headers of one delivery attempt, and whether a receiver's
// answer means it accepted. Pure: no I/O, no clock (the caller passes the time).
#pragma once

#include "taskwatch/config/settings.hpp"
#include "taskwatch/detail/secret.hpp"
#include "taskwatch/task/types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::notify {

using time_point = task::time_point;

/// What a message tells about an event beyond the event itself.
struct event_context {
    std::map<std::string, std::string> labels; ///< the target's labels
    /// external_url + "tasks/{dataset_id}/{task_id}" when external_url is set, else "".
    std::string link;
};

/// One HTTP request of a delivery attempt, before transport (the webhook's URL, its own
/// headers and the User-Agent are added by the sender).
struct request {
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers; ///< besides Content-Type
    /// Appended to the URL's query as it is ("timestamp=...&sign=..." for a signed DingTalk
    /// robot), joined with "&" or "?"; empty: nothing.
    std::string query;
};

// ---- generic (Standard Webhooks 1.0) ---------------------------------------------------------

/// The contract's body: {"id","type","time","task":{project_id,dataset_id,task_id,task_name,
/// labels},"previous":{...}|null,"current":{...}|null} (+ "error":{reason,error_code,error_msg,
/// request_id} when the event has one: poll_failing, gone). "time" is RFC 3339 UTC in whole
/// seconds; previous and current both have every member: status (name, "unknown" for a code
/// outside the API's table), status_code, progress (ratio), code, message, error_code,
/// error_msg, result {total_sample_count, annotated_sample_count, unconfirmed_sample_count},
/// null for what the API has not sent.
std::string generic_body(const task::event& e, const event_context& c);

/// `webhook-signature`: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" for each secret of
/// `secrets` (separated by spaces, tabs or newlines, for rotation), joined by spaces. A secret
/// written "whsec_<base64>" is its decoded bytes, any other (and a "whsec_" one whose rest is
/// not base64) its bytes as written.
std::string standard_webhooks_signature(std::string_view secrets, std::string_view id,
                                        std::int64_t timestamp_s, std::string_view body);

/// The whole request: the body, webhook-id (the event id), webhook-timestamp (`now`) and,
/// with a secret, webhook-signature.
request generic_request(const task::event& e, const event_context& c,
                        const std::optional<detail::secret>& secret, time_point now);

// ---- chat robots: slack, feishu, dingtalk, wecom ---------------------------------------------

/// The text of one event: `template_text` with its placeholders filled in
/// (config::template_placeholders), or the default text (readable in Chinese and English).
/// Placeholders: {type} "task.status_changed"; {time} RFC 3339 UTC seconds; {project_id},
/// {dataset_id}, {task_id}, {task_name}; {labels} the target's "k=v, k2=v2"; {status} and
/// {previous_status} names ("failed"); {progress} and {previous_progress} "42.5%"; {annotated}
/// and {total} sample counts; {code}, {message} the running status code and information;
/// {error_code}, {error_msg} the failing poll's error when the event has one, else the
/// task's; {link} event_context::link. Unknown values are "". `{{` and `}}` are literal braces;
/// an unknown name or a lone brace (config rejects both) stays as written. As plain text: the
/// formats' own escaping (Slack's &lt; &gt; &amp;) is chat_request's.
std::string chat_text(const std::optional<std::string>& template_text, const task::event& e,
                      const event_context& c);

/// One message for `events` (one or more, oldest first; several when a robot's rate limit
/// held them back: merged, never dropped), in `w`'s format, text and signing; contexts[i]
/// belongs to events[i]. Slack: {"text"} with API text escaped for mrkdwn; Feishu: a text
/// message, with "timestamp" and "sign" in the body when `w` has a secret; DingTalk: a text
/// message, signed in `query`; WeCom: markdown. Over max_body_bytes (limits_of) the first
/// events that fit are shown and the rest counted in a last line ("… 另有 N 个事件 / N more
/// events"); one event alone still too long is cut on a UTF-8 boundary, ending in "…".
/// Precondition: `w` is a chat format (std::logic_error otherwise).
request chat_request(const config::webhook& w, std::span<const task::event> events,
                     std::span<const event_context> contexts, time_point now);

/// Feishu's sign: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")).
std::string feishu_sign(std::string_view secret, std::int64_t timestamp_s);
/// DingTalk's sign, before URL encoding: base64(HMAC-SHA256(key = secret,
/// message = timestamp_ms + "\n" + secret)).
std::string dingtalk_sign(std::string_view secret, std::int64_t timestamp_ms);

/// A 2xx answer's body of a chat format: nullopt when it reports success (Slack "ok",
/// Feishu code 0, DingTalk and WeCom errcode 0), else one line naming the error
/// ("errcode 130101: send too fast"). For generic and alertmanager: always nullopt.
std::optional<std::string> answer_error(config::webhook_format f, std::string_view body);

/// How fast a robot takes messages, and how big one may be.
struct rate_limit {
    std::chrono::milliseconds min_gap{0}; ///< between two messages (Slack 1 s, Feishu 200 ms)
    unsigned per_minute = 0;              ///< 0: no such limit (DingTalk, WeCom 20)
    std::size_t max_body_bytes = 0;       ///< 0: none (Feishu 20 KB, WeCom 4096 of content)
    std::size_t max_events = 1;           ///< events one message may merge
};
rate_limit limits_of(config::webhook_format f);

// ---- alertmanager ----------------------------------------------------------------------------

/// One alert as Alertmanager's API v2 takes it.
struct alert {
    std::map<std::string, std::string> labels; ///< alertname first by name order is fine
    std::map<std::string, std::string> annotations;
    time_point starts_at;
    std::optional<time_point> ends_at; ///< set: resolved at that time (or expiring then)
    std::string generator_url;         ///< "" when external_url is not set
    bool operator==(const alert&) const = default;
};

/// POST /api/v2/alerts's body: a JSON array of the alerts, times in RFC 3339 (UTC, ms).
std::string alertmanager_body(std::span<const alert> alerts);

} // namespace taskwatch::notify
