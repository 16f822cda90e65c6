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
/// labels},"previous":{...}|null,"current":{...}|null} (+ "error" for poll_failing and gone).
std::string generic_body(const task::event& e, const event_context& c);

/// `webhook-signature`: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" for each secret of
/// `secrets` (space-separated, for rotation), joined by spaces. A secret written
/// "whsec_<base64>" is its decoded bytes, any other its bytes as written.
std::string standard_webhooks_signature(std::string_view secrets, std::string_view id,
                                        std::int64_t timestamp_s, std::string_view body);

/// The whole request: the body, webhook-id (the event id), webhook-timestamp (`now`) and,
/// with a secret, webhook-signature.
request generic_request(const task::event& e, const event_context& c,
                        const std::optional<detail::secret>& secret, time_point now);

// ---- chat robots: slack, feishu, dingtalk, wecom ---------------------------------------------

/// The text of one event: `template_text` with its placeholders filled in
/// (config::template_placeholders), or the default text (readable in Chinese and English).
std::string chat_text(const std::optional<std::string>& template_text, const task::event& e,
                      const event_context& c);

/// One message for `events` (one or more, oldest first; several when a robot's rate limit
/// held them back: merged, never dropped), in `w`'s format, text and signing.
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
