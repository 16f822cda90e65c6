// The generic format: the contract's body, signed as Standard Webhooks 1.0 signs.
#include "taskwatch/notify/format.hpp"

#include "taskwatch/detail/base64.hpp"
#include "taskwatch/detail/crypto.hpp"
#include "taskwatch/detail/pretty_json.hpp"
#include "taskwatch/detail/rfc3339.hpp"
#include "taskwatch/state/event_json.hpp"

#include <boost/json.hpp>

namespace taskwatch::notify {

namespace json = boost::json;

namespace {

// CONTRACT "previous"/"current": the outbox's form of a snapshot (state/event_json.hpp: every
// member, null for what the API has not sent, "unknown" with the raw code for a later API's
// status), its sample counts under "result" as the API has them.
json::value snapshot_json(const task::snapshot& s) {
    auto o = state::to_json(s).as_object();
    json::object result;
    for (const char* count :
         {"total_sample_count", "annotated_sample_count", "unconfirmed_sample_count"}) {
        result[count] = o[count];
        o.erase(count);
    }
    o["result"] = std::move(result);
    return o;
}

json::value optional_snapshot(const std::optional<task::snapshot>& s) {
    return s ? snapshot_json(*s) : json::value(nullptr);
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Standard Webhooks: "whsec_" + base64 is the decoded bytes. One whose rest is not base64 is
// taken as written, like any other secret: signing with it still works for a receiver that
// was given the same text.
std::string key_of(std::string_view secret) {
    constexpr std::string_view prefix = "whsec_";
    if (secret.starts_with(prefix))
        if (auto bytes = detail::base64_decode(secret.substr(prefix.size()))) return *bytes;
    return std::string(secret);
}

} // namespace

std::string generic_body(const task::event& e, const event_context& c) {
    json::object labels;
    for (const auto& [k, v] : c.labels)
        labels[k] = v;
    json::object body{
        {"id", e.id},
        {"type", task::to_string(e.type)},
        {"time", detail::format_rfc3339(e.time, detail::time_precision::seconds)},
        {"task",
         json::object{
             {"project_id", e.key.project_id},
             {"dataset_id", e.key.dataset_id},
             {"task_id", e.key.task_id},
             {"task_name", e.task_name},
             {"labels", std::move(labels)},
         }},
        {"previous", optional_snapshot(e.previous)},
        {"current", optional_snapshot(e.current)},
    };
    if (e.error)
        body["error"] = json::object{
            {"reason", e.error->reason},
            {"error_code", e.error->error_code},
            {"error_msg", e.error->error_msg},
            {"request_id", e.error->request_id},
        };
    return compact_json(body);
}

std::string standard_webhooks_signature(std::string_view secrets, std::string_view id,
                                        std::int64_t timestamp_s, std::string_view body) {
    std::string message;
    message.reserve(id.size() + body.size() + 24);
    message.append(id).append(".").append(std::to_string(timestamp_s)).append(".").append(body);
    std::string out;
    std::size_t i = 0;
    while (i < secrets.size()) {
        if (is_space(secrets[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < secrets.size() && !is_space(secrets[end]))
            ++end;
        const auto mac = detail::hmac_sha256(key_of(secrets.substr(i, end - i)), message);
        if (!out.empty()) out += ' ';
        out += "v1,";
        out += detail::base64_encode(
            std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
        i = end;
    }
    return out;
}

request generic_request(const task::event& e, const event_context& c,
                        const std::optional<detail::secret>& secret, time_point now) {
    request r;
    r.body = generic_body(e, c);
    const auto ts = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
    r.headers.emplace_back("webhook-id", e.id);
    r.headers.emplace_back("webhook-timestamp", std::to_string(ts));
    if (secret && !secret->empty())
        r.headers.emplace_back("webhook-signature",
                               standard_webhooks_signature(secret->reveal(), e.id, ts, r.body));
    return r;
}

} // namespace taskwatch::notify
