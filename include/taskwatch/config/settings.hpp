// The daemon's configuration: the YAML of CONTRACT.md, loaded into typed, validated settings.
#pragma once

#include "taskwatch/auth/credentials.hpp"
#include "taskwatch/detail/expected.hpp"
#include "taskwatch/detail/name_table.hpp"
#include "taskwatch/detail/secret.hpp"
#include "taskwatch/http/url.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/task/shard.hpp"
#include "taskwatch/task/types.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::config {

/// A configuration that cannot be used. what() is one line,
/// `FILE:LINE: KEY.PATH: problem` (or `FILE: problem` when no line applies),
/// and never contains the bytes of a secret.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Prometheus duration spelling: integer amounts with units y w d h m s ms, in decreasing
/// order, each at most once ("1h30m", "500ms", "2d"); "0" alone is zero. 1y = 365d, 1w = 7d.
expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);
/// The inverse, as Prometheus prints it: "0s", "1h30m", "1s500ms"; y and w only when exact.
std::string format_duration(std::chrono::milliseconds d);

enum class webhook_format { generic, alertmanager, slack, feishu, dingtalk, wecom };
/// The formats' names, as the config's webhooks[].format spells them.
inline constexpr detail::enum_name<webhook_format> webhook_format_names[] = {
    {webhook_format::generic, "generic"},   {webhook_format::alertmanager, "alertmanager"},
    {webhook_format::slack, "slack"},       {webhook_format::feishu, "feishu"},
    {webhook_format::dingtalk, "dingtalk"}, {webhook_format::wecom, "wecom"},
};
static_assert(detail::in_enum_order(webhook_format_names));
std::string_view to_string(webhook_format f);

struct modelarts_auth {
    enum class type_t { aksk, token };
    type_t type = type_t::aksk;
    auth::credentials credentials; ///< resolved: files read, environment consulted
    bool operator==(const modelarts_auth&) const = default;
};

/// One `targets[]` entry: a dataset to watch, in the account's project unless overridden.
struct target {
    std::string dataset_id;
    std::optional<std::vector<std::string>> task_ids; ///< nullopt: discover with the list API
    std::map<std::string, std::string> labels;        ///< valid Prometheus names, none reserved
    std::optional<std::string> project_id;            ///< overrides modelarts.project_id
    std::optional<http::endpoint> endpoint;           ///< overrides modelarts.endpoint
    bool operator==(const target&) const = default;
};

/// The placeholders a chat webhook's `template` may use, written `{name}` (`{{` and `}}` are
/// literal braces). notify fills them in from the event; README "Webhooks" says what each is.
inline constexpr std::string_view template_placeholders[] = {
    "type",   "time",   "project_id",      "dataset_id", "task_id",           "task_name",
    "labels", "status", "previous_status", "progress",   "previous_progress", "annotated",
    "total",  "code",   "message",         "error_code", "error_msg",         "link",
};

/// A header added to every request of a webhook (`headers:`). The value may be a token (read
/// from a file): it is a secret, never logged.
struct webhook_header {
    std::string name;
    detail::secret value;
    bool operator==(const webhook_header&) const = default;
};

/// One `webhooks[]` entry.
struct webhook {
    std::string name; ///< unique; use it, not the URL, in logs and metric labels
    /// `url`, or for alertmanager `urls`: every member of an HA cluster. A URL may embed a
    /// token (Slack) or carry it in the query (DingTalk, WeCom): log to_string(), never more.
    std::vector<http::request_url> urls;
    webhook_format format = webhook_format::generic;
    std::optional<detail::secret> secret; ///< from secret_file
    std::vector<task::event_type> events; ///< default: all; in contract order
    std::optional<double> progress_step;  ///< 0 < x <= 1: emit task.progress at each multiple
    /// Only events of targets whose labels include all of these (default: every event).
    std::map<std::string, std::string> match_labels;
    unsigned max_attempts = 12;                ///< then dead-lettered
    std::chrono::milliseconds timeout{10'000}; ///< per attempt
    std::optional<std::string> ca_file;        ///< nullopt: the system store
    std::optional<http::proxy_endpoint> proxy; ///< nullopt: $HTTPS_PROXY / $HTTP_PROXY
    std::vector<webhook_header> headers;       ///< in the order written
    std::optional<std::string> template_text;  ///< chat formats: the message text
    bool wants(task::event_type type) const;
    /// Whether `labels` (a target's) include every match_labels entry.
    bool matches(const std::map<std::string, std::string>& labels) const;
    bool operator==(const webhook&) const = default;
};

/// Defaults where CONTRACT.md is silent:
/// - a relative `web_config_file`, `state_dir` or `ca_file` is resolved against the config
///   file's folder (and stored absolute); `web_config_file` and `ca_file` must be readable;
/// - `modelarts.auth` may be omitted: type aksk from the HUAWEICLOUD_SDK_* environment;
/// - `modelarts.project_id` falls back to $HUAWEICLOUD_SDK_PROJECT_ID, else it is required;
/// - `state_dir` falls back to $STATE_DIRECTORY (systemd StateDirectory=; the first of several),
///   else /var/lib/taskwatch;
/// - `modelarts.proxy` stays unset when absent (the HTTP client then honours $HTTPS_PROXY);
/// - `targets` is required and must not be empty; a target's `labels` default to none;
/// - two targets may not name the same (project, dataset), even with different task_ids;
/// - webhook `events` may not be empty or repeat a type; `secret_file` is optional for
///   every format; `progress_step` unset means no task.progress events for that webhook;
/// - every duration and count must be positive; `jitter` is in [0, 1];
///   `max_connections` is at most 1024 and a webhook's `max_attempts` at most 1000;
/// - a webhook has `url`, or (alertmanager only) `urls`, one or more; `template` is for the
///   chat formats only, and names only template_placeholders; a `headers` value is a string
///   or `{file: PATH}` (read like a secret file, one trailing newline dropped); taskwatch's
///   own headers (Content-Type, Content-Length, Host, webhook-*) cannot be set there;
/// - URLs are stored parsed (http/url.hpp), once: endpoints as https://host[:port] (a "/" after
///   the port is allowed and dropped), the proxy with its credentials decoded;
/// - a key given with no value (`key:` or `key: ~`) is an error, not "use the default";
/// - a key may appear only once in a mapping;
/// - `shard` needs both `index` and `count`, count >= 1 and index < count; absent: {0, 1}.
struct settings {
    std::string source_path; ///< the config file, as given
    std::string listen = "127.0.0.1:9817";
    std::optional<std::string> web_config_file;
    std::string state_dir = "/var/lib/taskwatch";
    log::level log_level = log::level::info;

    struct modelarts_t {
        http::endpoint endpoint; ///< https://host[:port]
        std::string project_id;
        modelarts_auth auth;
        std::optional<std::string> ca_file;        ///< nullopt: the system store
        std::optional<http::proxy_endpoint> proxy; ///< http://[user:pass@]host:port
        std::chrono::milliseconds timeout{10'000};
        std::size_t max_connections = 16;
        double max_requests_per_second = 20;
        bool operator==(const modelarts_t&) const = default;
    } modelarts;

    struct poll_t {
        std::chrono::milliseconds interval{15'000};
        std::chrono::milliseconds finished_interval{std::chrono::minutes(10)};
        double jitter = 0.1;
        std::chrono::milliseconds stall_after{std::chrono::minutes(30)};
        std::chrono::milliseconds forget_finished_after{std::chrono::hours(24)};
        bool operator==(const poll_t&) const = default;
    } poll;

    std::vector<target> targets;
    std::vector<webhook> webhooks;
    /// `external_url`: where people reach this daemon's pages (links in messages, Alertmanager's
    /// generatorURL); http(s), stored with a trailing "/". nullopt: no links.
    std::optional<std::string> external_url;
    /// `shard:` (or --shard, which overrides it): the tasks this instance watches.
    task::shard shard;

    bool operator==(const settings&) const = default;
};

/// The request rate this instance may use: modelarts.max_requests_per_second is the account's,
/// shared evenly by the shards (divided by shard.count), so that N shards together stay
/// within it.
double request_rate_of(const settings& s);

/// The target's project: its own project_id, else modelarts.project_id.
const std::string& project_id_of(const settings& s, const target& t);
/// The target's endpoint: its own endpoint, else modelarts.endpoint.
const http::endpoint& endpoint_of(const settings& s, const target& t);
/// The target watching `dataset_id` of `project_id` (targets never repeat one), or null.
const target* target_of(const settings& s, std::string_view project_id,
                        std::string_view dataset_id);

using environment = auth::environment;

/// Reads and validates `path`, consulting the process environment. Throws config_error.
settings load_settings(const std::string& path);
/// The same with an explicit environment (tests, --check-config under a test harness).
settings load_settings(const std::string& path, const environment& env);
/// Validates YAML text as if it had been read from `source_path` (relative secret files
/// are looked for next to it). Throws config_error.
settings parse_settings(std::string_view yaml_text, const std::string& source_path,
                        const environment& env);

/// What a SIGHUP reload cannot apply: one line such as
/// "listen changed from 127.0.0.1:9817 to :9000: restart to apply" (several joined by
/// "; "), or empty. Restart-only: listen, web_config_file, state_dir,
/// modelarts.ca_file, modelarts.proxy, modelarts.max_connections. Everything else
/// (log level, credentials, endpoint, poll, targets, webhooks) applies on reload.
std::string describe_restart_needed(const settings& old, const settings& now);

} // namespace taskwatch::config
