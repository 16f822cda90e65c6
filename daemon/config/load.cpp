// YAML -> settings. Two passes: the first checks the document's shape and values without
// touching any file or variable, so a typo is reported the same wherever it is checked;
// the second reads secret files and consults the environment.
#include "taskwatch/config/settings.hpp"

#include "taskwatch/config/host_checks.hpp"

#include "taskwatch/detail/base64.hpp"
#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/read_file.hpp"
#include "taskwatch/detail/yaml_reader.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/http/url.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace taskwatch::config {

namespace {

using std::chrono::milliseconds;

using detail::quote;
using detail::yaml::field;
using detail::yaml::mapping;

struct context {
    detail::yaml::source src;
    const environment* env;    ///< never null
    const host_checks* checks; ///< null: none
};

milliseconds positive_duration(const field& f) {
    auto d = f.parsed("a duration", parse_duration);
    if (d.count() <= 0) f.fail("must be longer than 0s");
    return d;
}

// IDs go into URL paths: refuse what cannot be one.
std::string id(const field& f) {
    auto s = f.string();
    for (unsigned char ch : detail::bytes_of(s))
        if (ch <= ' ' || ch == 0x7f || ch == '/' || ch == '?' || ch == '#')
            f.fail(quote(s) + " is not a valid ID (no spaces, \"/\", \"?\" or \"#\")");
    return s;
}

// The parts of a URL, or the field fails with what is wrong.
http::url_parts url_parts_of(const field& f) {
    auto parts = http::split_url(f.string());
    if (!parts) f.fail("bad URL: " + parts.error());
    return std::move(*parts);
}

// https://host[:port], with nothing after but an optional "/".
http::endpoint https_endpoint(const field& f) {
    auto parts = url_parts_of(f);
    if (parts.userinfo) f.fail("must not contain user information");
    if (parts.scheme != "https")
        f.fail("must be an https:// URL, not " + parts.scheme +
               ":// (TLS verification is never off)");
    if (!parts.is_origin()) f.fail("must be https://HOST[:PORT] without a path");
    return parts.origin();
}

// http://[USER:PASSWORD@]HOST:PORT
http::proxy_endpoint proxy_endpoint(const field& f) {
    auto parts = url_parts_of(f);
    if (parts.scheme != "http" || !parts.port || !parts.is_origin())
        f.fail("expected http://[USER:PASSWORD@]HOST:PORT");
    auto proxy = http::proxy_of(parts);
    if (!proxy) f.fail(proxy.error());
    return std::move(*proxy);
}

// A webhook's URL: http or https, with any path and query.
http::request_url webhook_url(const field& f) {
    auto target = http::request_url_of(url_parts_of(f));
    if (!target) f.fail("bad URL: " + target.error());
    return std::move(*target);
}

void check_listen(const field& f, const std::string& s) {
    auto colon = s.rfind(':');
    bool ok = colon != std::string::npos;
    if (ok) {
        std::string_view host(s.data(), colon);
        std::string_view port(s.data() + colon + 1, s.size() - colon - 1);
        if (!host.empty() && host.front() == '[')
            ok = host.size() > 2 && host.back() == ']';
        else
            ok = host.find(':') == std::string_view::npos;
        for (unsigned char ch : detail::bytes_of(host))
            if (ch <= ' ' || ch == 0x7f || ch == '/') ok = false;
        unsigned long p = 0;
        if (port.empty() || port.size() > 5) ok = false;
        for (char ch : port) {
            if (ch < '0' || ch > '9')
                ok = false;
            else
                p = p * 10 + static_cast<unsigned long>(ch - '0');
        }
        if (p > 65535) ok = false;
    }
    if (!ok)
        f.fail("expected HOST:PORT (e.g. 127.0.0.1:9817, [::1]:9817 or :9817), got " + quote(s));
    // Then the very parser the server binds with: a HOST that is no IP address fails here,
    // not at start-up.
    if (!http::parse_listen_address(s)) {
        auto host = s.substr(0, colon);
        if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
        f.fail(quote(host) + " is not an IP address (expected an IPv4 address, [an IPv6 "
                             "address], localhost or nothing before the port)");
    }
}

// systemd's StateDirectory= (exported as $STATE_DIRECTORY, several joined by ':'): the first,
// when it is absolute. It lets each taskwatch@NAME instance default to its own directory.
std::optional<std::string> systemd_state_directory(const environment& env) {
    auto v = env ? env("STATE_DIRECTORY") : std::nullopt;
    if (!v || v->empty() || v->front() != '/') return std::nullopt;
    return v->substr(0, v->find(':'));
}

std::string absolute_in(const detail::yaml::source& src, const std::string& p) {
    if (!p.empty() && p.front() == '/') return p;
    return (std::filesystem::path(src.dir) / p).lexically_normal().string();
}

// A file another module will read at start-up: fail now, by the same rules, rather than
// after start.
void check_readable(const field& f, const std::string& file, std::size_t limit) {
    auto r = detail::read_regular_file(file, limit);
    if (!r) f.fail("cannot read " + file + ": " + r.error().message);
}

bool valid_label_name(std::string_view n) {
    if (n.empty()) return false;
    auto alpha = [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
    };
    if (!alpha(n.front())) return false;
    return std::all_of(n.begin() + 1, n.end(),
                       [&](char ch) { return alpha(ch) || (ch >= '0' && ch <= '9'); });
}

// What the first pass leaves for the second, with the lines to blame.
struct pending_file {
    std::string path; ///< as written
    field at;
};

struct pending {
    std::optional<field> modelarts_at;
    std::optional<field> auth_at;
    std::optional<field> project_id_at;
    auth::aksk_source aksk;
    auth::token_source token;
    std::map<std::string, int> auth_key_lines;
    std::vector<std::optional<pending_file>> webhook_secrets; ///< per webhook
    /// Per webhook: (index in its headers, file) for each value written {file: PATH}.
    std::vector<std::vector<std::pair<std::size_t, pending_file>>> header_files;
    std::vector<field> target_at;  ///< per target
    std::vector<field> webhook_at; ///< per webhook
    bool state_dir_given = false;  ///< else $STATE_DIRECTORY applies
};

void parse_auth(const field& f, settings& s, pending& p) {
    mapping m(f);
    m.only({"type", "ak_file", "sk_file", "security_token_file", "iam_endpoint", "domain_name",
            "user_name", "password_file"});
    p.auth_at = f;
    for (const auto& e : m.entries())
        p.auth_key_lines[std::string(e.key)] = e.value.line();
    if (auto t = m.get("type")) {
        auto v = t->string();
        if (v == "aksk")
            s.modelarts.auth.type = modelarts_auth::type_t::aksk;
        else if (v == "token")
            s.modelarts.auth.type = modelarts_auth::type_t::token;
        else
            t->fail("unknown type " + quote(v) + " (expected aksk or token)");
    }
    bool aksk = s.modelarts.auth.type == modelarts_auth::type_t::aksk;
    std::initializer_list<std::string_view> aksk_keys = {"ak_file", "sk_file",
                                                         "security_token_file"};
    std::initializer_list<std::string_view> token_keys = {"iam_endpoint", "domain_name",
                                                          "user_name", "password_file"};
    for (const auto& e : m.entries()) {
        const auto& other = aksk ? token_keys : aksk_keys;
        if (std::find(other.begin(), other.end(), e.key) != other.end())
            m.fail(e.value.line(), "key " + quote(e.key) +
                                       " is only valid with type: " + (aksk ? "token" : "aksk"));
    }
    auto opt = [&](std::string_view key) -> std::optional<std::string> {
        if (auto v = m.get(key)) return v->string();
        return std::nullopt;
    };
    if (aksk) {
        p.aksk = {opt("ak_file"), opt("sk_file"), opt("security_token_file")};
    } else {
        p.token = {opt("iam_endpoint"), opt("domain_name"), opt("user_name"), opt("password_file")};
    }
}

void parse_modelarts(const field& f, settings& s, pending& p) {
    mapping m(f);
    m.only({"endpoint", "project_id", "auth", "ca_file", "proxy", "timeout", "max_connections",
            "max_requests_per_second"});
    p.modelarts_at = f;
    s.modelarts.endpoint = https_endpoint(m.require("endpoint"));
    if (auto v = m.get("project_id")) {
        p.project_id_at = *v;
        s.modelarts.project_id = id(*v);
    }
    if (auto v = m.get("auth")) parse_auth(*v, s, p);
    if (auto v = m.get("ca_file")) s.modelarts.ca_file = absolute_in(f.src(), v->string());
    if (auto v = m.get("proxy")) s.modelarts.proxy = proxy_endpoint(*v);
    if (auto v = m.get("timeout")) s.modelarts.timeout = positive_duration(*v);
    if (auto v = m.get("max_connections")) s.modelarts.max_connections = v->integer(1, 1024);
    if (auto v = m.get("max_requests_per_second")) {
        double r = v->number();
        if (!(r > 0)) v->fail("must be greater than 0");
        s.modelarts.max_requests_per_second = r;
    }
}

void parse_poll(const field& f, settings& s) {
    mapping m(f);
    m.only({"interval", "finished_interval", "jitter", "stall_after", "forget_finished_after"});
    if (auto v = m.get("interval")) s.poll.interval = positive_duration(*v);
    if (auto v = m.get("finished_interval")) s.poll.finished_interval = positive_duration(*v);
    if (auto v = m.get("jitter")) {
        double j = v->number();
        if (j < 0 || j > 1) v->fail("must be between 0 and 1, got " + quote(v->text()));
        s.poll.jitter = j;
    }
    if (auto v = m.get("stall_after")) s.poll.stall_after = positive_duration(*v);
    if (auto v = m.get("forget_finished_after"))
        s.poll.forget_finished_after = positive_duration(*v);
}

// `shard: {index: I, count: N}`: both keys required, I < N.
void parse_shard(const field& f, settings& s) {
    mapping m(f);
    m.only({"index", "count"});
    const auto index_field = m.require("index");
    const auto count_field = m.require("count");
    s.shard.count = count_field.integer(1, std::numeric_limits<std::uint32_t>::max());
    s.shard.index = index_field.integer(0, std::numeric_limits<std::uint32_t>::max());
    if (s.shard.index >= s.shard.count)
        index_field.fail("must be below shard.count (" + std::to_string(s.shard.count) +
                         "): shards are numbered 0 to " + std::to_string(s.shard.count - 1));
}

// The ids of a list seen so far, for the duplicate check: open addressing over their hashes,
// so that a lookup costs one cache miss where std::unordered_map takes three (bucket, node,
// string). A million task ids load in about a second; this was a third of it.
class id_index {
public:
    /// Room for `n` ids of `ids`, which are added by index.
    id_index(const std::vector<std::string>& ids, std::size_t n)
        : ids_(ids) {
        std::size_t size = 16;
        while (size < 2 * n)
            size *= 2;
        slots_.assign(size, 0);
    }

    /// Adds ids[i]; the index of an equal id added before, or nullopt.
    std::optional<std::size_t> add(std::size_t i) {
        const auto hash = std::hash<std::string_view>{}(ids_[i]);
        const std::uint64_t tag = (hash >> 32) | 1; // never 0, which marks a free slot
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t s = hash & mask;; s = (s + 1) & mask) {
            const std::uint64_t slot = slots_[s];
            if (slot == 0) {
                slots_[s] = tag << 32 | i;
                return std::nullopt;
            }
            const std::size_t other = slot & 0xffffffff;
            if (slot >> 32 == tag && ids_[other] == ids_[i]) return other;
        }
    }

private:
    const std::vector<std::string>& ids_;
    std::vector<std::uint64_t> slots_; ///< hash tag << 32 | index, 0 when free
};

target parse_target(const field& f) {
    mapping m(f);
    m.only({"dataset_id", "task_ids", "labels", "project_id", "endpoint"});
    target t;
    t.dataset_id = id(m.require("dataset_id"));
    if (auto v = m.get("task_ids")) {
        auto items = v->list();
        if (items.empty())
            v->fail("empty list (remove the key to watch every task of the dataset)");
        std::vector<std::string> ids;
        ids.reserve(items.size());
        id_index seen(ids, items.size());
        for (const auto& item : items) {
            ids.push_back(id(item));
            if (auto first = seen.add(ids.size() - 1))
                item.fail("task " + quote(ids.back()) + " listed twice (first at line " +
                          std::to_string(items[*first].line()) + ")");
        }
        t.task_ids = std::move(ids);
    }
    if (auto v = m.get("labels")) {
        mapping labels(*v);
        for (const auto& e : labels.entries()) {
            if (!valid_label_name(e.key))
                labels.fail(e.value.line(), "bad label name " + quote(e.key) +
                                                " (expected [a-zA-Z_][a-zA-Z0-9_]*)");
            if (e.key.starts_with("__"))
                labels.fail(e.value.line(),
                            "label name " + quote(e.key) +
                                " is reserved (names starting with __ belong to Prometheus)");
            if (std::find(std::begin(task::reserved_label_names),
                          std::end(task::reserved_label_names),
                          e.key) != std::end(task::reserved_label_names))
                labels.fail(e.value.line(),
                            "label name " + quote(e.key) +
                                " is reserved (taskwatch sets it on its own series)");
            if (e.value.is_null()) e.value.fail("no value");
            t.labels[std::string(e.key)] = e.value.string(true);
        }
    }
    if (auto v = m.get("project_id")) t.project_id = id(*v);
    if (auto v = m.get("endpoint")) t.endpoint = https_endpoint(*v);
    return t;
}

// A header name (an RFC 9110 token) that taskwatch does not set itself.
void check_header_name(const mapping& m, const mapping::entry& e) {
    const auto name = e.key;
    auto tchar = [](unsigned char ch) {
        return std::isalnum(ch) != 0 ||
               std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(ch)) !=
                   std::string_view::npos;
    };
    if (name.empty() || !std::all_of(name.begin(), name.end(), tchar))
        m.fail(e.value.line(), "bad header name " + quote(name));
    auto lower = detail::ascii_lower(name);
    for (std::string_view own :
         {"content-type", "content-length", "host", "transfer-encoding", "connection", "webhook-id",
          "webhook-timestamp", "webhook-signature"})
        if (lower == own)
            m.fail(e.value.line(),
                   "header " + quote(name) + " is set by taskwatch and cannot be configured");
}

// A header value: no control characters (CR and LF would start another header).
bool valid_header_value(std::string_view v) {
    return std::none_of(v.begin(), v.end(), [](char ch) {
        auto u = static_cast<unsigned char>(ch);
        return (u < ' ' && u != '\t') || u == 0x7f;
    });
}

// `{name}` placeholders of a chat template, all known; "{{" and "}}" are literal braces.
void check_template(const field& f, std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '}') {
            if (i + 1 < text.size() && text[i + 1] == '}') {
                ++i;
                continue;
            }
            f.fail("a lone \"}\" at offset " + std::to_string(i) + " (write \"}}\" for a brace)");
        }
        if (text[i] != '{') continue;
        if (i + 1 < text.size() && text[i + 1] == '{') {
            ++i;
            continue;
        }
        auto end = text.find('}', i);
        if (end == std::string_view::npos)
            f.fail("unclosed \"{\" at offset " + std::to_string(i) + " (write \"{{\" for a brace)");
        auto name = text.substr(i + 1, end - i - 1);
        if (std::find(std::begin(template_placeholders), std::end(template_placeholders), name) ==
            std::end(template_placeholders)) {
            std::string known;
            for (auto p : template_placeholders)
                known += (known.empty() ? "{" : ", {") + std::string(p) + "}";
            f.fail("unknown placeholder {" + std::string(name) + "} (known: " + known + ")");
        }
        i = end;
    }
}

std::map<std::string, std::string> label_map(const field& f) {
    std::map<std::string, std::string> out;
    mapping labels(f);
    for (const auto& e : labels.entries()) {
        if (!valid_label_name(e.key))
            labels.fail(e.value.line(),
                        "bad label name " + quote(e.key) + " (expected [a-zA-Z_][a-zA-Z0-9_]*)");
        if (e.value.is_null()) e.value.fail("no value");
        out[std::string(e.key)] = e.value.string(true);
    }
    return out;
}

webhook parse_webhook(const field& f, std::optional<pending_file>& secret_file,
                      std::vector<std::pair<std::size_t, pending_file>>& header_files) {
    mapping m(f);
    m.only({"name", "url", "urls", "format", "secret_file", "events", "progress_step",
            "match_labels", "max_attempts", "timeout", "ca_file", "proxy", "headers", "template"});
    webhook w;
    w.name = m.require("name").string();
    if (auto v = m.get("format")) {
        auto name = v->string();
        auto format = detail::value_in(webhook_format_names, name);
        if (!format)
            v->fail("unknown format " + quote(name) + " (expected " +
                    detail::names_in(webhook_format_names) + ")");
        w.format = *format;
    }
    const bool am = w.format == webhook_format::alertmanager;
    if (auto v = m.get("urls")) {
        if (!am) v->fail("only the alertmanager format takes urls (use url)");
        if (m.has("url")) v->fail("give url or urls, not both");
        auto items = v->list();
        if (items.empty()) v->fail("empty list (every member of the Alertmanager cluster)");
        for (const auto& item : items) {
            w.urls.push_back(webhook_url(item));
            for (std::size_t j = 0; j + 1 < w.urls.size(); ++j)
                if (w.urls[j] == w.urls.back()) item.fail("URL listed twice");
        }
    } else {
        if (am && !m.has("url"))
            m.fail(std::string("missing required key \"urls\" (every member of the Alertmanager "
                               "cluster; or url for one)"));
        w.urls.push_back(webhook_url(m.require("url")));
    }
    if (auto v = m.get("secret_file")) secret_file = pending_file{v->string(), *v};
    if (auto v = m.get("events")) {
        auto items = v->list();
        if (items.empty()) v->fail("empty list (remove the key to get every event type)");
        std::set<task::event_type> chosen;
        for (const auto& item : items) {
            auto name = item.string();
            auto type = task::event_type_from_string(name);
            if (!type)
                item.fail("unknown event type " + quote(name) + " (expected one of " +
                          detail::names_in(task::event_type_names, ", ") + ")");
            if (!chosen.insert(*type).second)
                item.fail("event type " + quote(name) + " listed twice");
        }
        w.events.assign(chosen.begin(), chosen.end()); // the enum's order is the contract's
    } else {
        for (const auto& [type, name] : task::event_type_names)
            w.events.push_back(type);
    }
    if (auto v = m.get("progress_step")) {
        double step = v->number();
        if (!(step > 0 && step <= 1))
            v->fail("must be greater than 0 and at most 1, got " + quote(v->text()));
        w.progress_step = step;
    }
    if (auto v = m.get("match_labels")) w.match_labels = label_map(*v);
    if (auto v = m.get("max_attempts")) w.max_attempts = static_cast<unsigned>(v->integer(1, 1000));
    if (auto v = m.get("timeout")) w.timeout = positive_duration(*v);
    if (auto v = m.get("ca_file")) w.ca_file = absolute_in(f.src(), v->string());
    if (auto v = m.get("proxy")) w.proxy = proxy_endpoint(*v);
    if (auto v = m.get("headers")) {
        mapping h(*v);
        for (const auto& e : h.entries()) {
            check_header_name(h, e);
            for (const auto& earlier : w.headers)
                if (detail::ascii_lower(earlier.name) == detail::ascii_lower(e.key))
                    h.fail(e.value.line(), "header " + quote(e.key) + " given twice");
            webhook_header header{std::string(e.key), detail::secret{}};
            if (e.value.node().is_mapping()) {
                mapping from(e.value);
                from.only({"file"});
                auto file = from.require("file");
                header_files.emplace_back(w.headers.size(), pending_file{file.string(), file});
            } else {
                if (e.value.is_null()) e.value.fail("no value");
                auto text = e.value.string(true);
                if (!valid_header_value(text))
                    e.value.fail("control character in the header value");
                header.value = detail::secret(std::move(text));
            }
            w.headers.push_back(std::move(header));
        }
    }
    if (auto v = m.get("template")) {
        if (w.format == webhook_format::generic || am)
            v->fail("only the chat formats (slack, feishu, dingtalk, wecom) take a template");
        auto text = v->string();
        if (text.empty()) v->fail("empty template (remove the key for the default text)");
        check_template(*v, text);
        w.template_text = std::move(text);
    }
    return w;
}

// Pass 2: files and environment.
void resolve(const context& c, settings& s, pending& p, const mapping& root) {
    const environment& env = *c.env;
    if (s.modelarts.project_id.empty()) {
        auto from_env = env ? env("HUAWEICLOUD_SDK_PROJECT_ID") : std::nullopt;
        if (!from_env || from_env->empty())
            p.modelarts_at->fail(
                "missing required key \"project_id\" (or set HUAWEICLOUD_SDK_PROJECT_ID)");
        if (auto bad = detail::yaml::utf8_problem(*from_env))
            p.modelarts_at->fail("HUAWEICLOUD_SDK_PROJECT_ID is " + *bad);
        for (unsigned char ch : detail::bytes_of(*from_env))
            if (ch <= ' ' || ch == 0x7f || ch == '/' || ch == '?' || ch == '#')
                p.modelarts_at->fail(
                    "HUAWEICLOUD_SDK_PROJECT_ID is not a valid project ID (no spaces, \"/\", "
                    "\"?\" or \"#\")");
        s.modelarts.project_id = *from_env;
    }
    if (!p.state_dir_given)
        if (auto dir = systemd_state_directory(env)) s.state_dir = *dir;

    // Credentials: blame the key named by the problem, else the auth section, else modelarts.
    auto blame_auth = [&](const auth::credentials_problem& problem) {
        std::string path = "modelarts.auth";
        int line = p.auth_at ? p.auth_at->line() : p.modelarts_at->line();
        if (!problem.key.empty()) {
            auto it = p.auth_key_lines.find(problem.key);
            if (it != p.auth_key_lines.end()) {
                path += "." + problem.key;
                line = it->second;
            } else {
                path += "." + problem.key;
            }
        }
        detail::yaml::fail(c.src, line, path, problem.message);
    };
    if (s.modelarts.auth.type == modelarts_auth::type_t::aksk) {
        auto r = auth::resolve_aksk(p.aksk, c.src.dir, env);
        if (!r) blame_auth(r.error());
        s.modelarts.auth.credentials = std::move(*r);
    } else {
        auto r = auth::resolve_token(p.token, s.modelarts.endpoint, c.src.dir, env);
        if (!r) blame_auth(r.error());
        s.modelarts.auth.credentials = std::move(*r);
    }

    if (s.web_config_file)
        check_readable(*root.get("web_config_file"), *s.web_config_file,
                       detail::web_config_file_limit);
    if (s.modelarts.ca_file)
        check_readable(*mapping(*p.modelarts_at).get("ca_file"), *s.modelarts.ca_file,
                       detail::certificate_file_limit);

    std::map<std::pair<std::string, std::string>, std::size_t> seen;
    for (std::size_t i = 0; i < s.targets.size(); ++i) {
        const auto& t = s.targets[i];
        auto key = std::make_pair(project_id_of(s, t), t.dataset_id);
        auto [it, inserted] = seen.emplace(key, i);
        if (!inserted) {
            const auto& first = p.target_at[it->second];
            p.target_at[i].fail("duplicate target: dataset " + quote(t.dataset_id) +
                                " of project " + quote(key.first) + " is already watched by " +
                                first.path() + " (line " + std::to_string(first.line()) + ")");
        }
    }

    for (std::size_t i = 0; i < s.webhooks.size(); ++i) {
        auto& w = s.webhooks[i];
        if (const auto& pf = p.webhook_secrets[i]) {
            auto sec = auth::read_secret_file(pf->path, c.src.dir, env);
            if (!sec) pf->at.fail(sec.error());
            // Standard Webhooks: "whsec_" + base64 of the key (several, space-separated, for
            // rotation). A broken one would only show as rejected deliveries.
            if (w.format == webhook_format::generic) {
                std::size_t n = 0;
                const auto all = sec->reveal();
                for (std::size_t at = 0; at < all.size();) {
                    const auto end = std::min(all.find(' ', at), all.size());
                    const auto one = all.substr(at, end - at);
                    ++n;
                    if (one.starts_with("whsec_") && !detail::base64_decode(one.substr(6)))
                        pf->at.fail("secret " + std::to_string(n) + " in " + pf->path +
                                    " starts with whsec_ but the rest is not base64");
                    at = end + 1;
                }
            }
            w.secret = std::move(*sec);
        }
        for (const auto& [index, pf] : p.header_files[i]) {
            auto value = auth::read_secret_file(pf.path, c.src.dir, env);
            if (!value) pf.at.fail(value.error());
            if (!valid_header_value(value->reveal()))
                pf.at.fail("the file holds a control character (a header value is one line)");
            w.headers[index].value = std::move(*value);
        }
        if (w.ca_file)
            check_readable(*mapping(p.webhook_at[i]).get("ca_file"), *w.ca_file,
                           detail::certificate_file_limit);
    }

    // What only --check-config asks for: this machine's view of listen and state_dir.
    if (c.checks) {
        auto blame = [&](std::string_view key, const std::optional<std::string>& problem) {
            if (!problem) return;
            if (auto f = root.get(key)) f->fail(*problem);
            detail::yaml::fail(c.src, 0, key, *problem); // the default: no line to blame
        };
        if (c.checks->listen) blame("listen", c.checks->listen(s.listen));
        if (c.checks->state_dir) blame("state_dir", c.checks->state_dir(s.state_dir));
    }
}

settings read(std::string_view yaml_text, const std::string& source_path, const environment& env,
              const host_checks* checks) {
    const context c{detail::yaml::source::of(source_path), &env, checks};
    const detail::yaml::document doc(c.src, yaml_text);
    const auto root_field = doc.root();
    if (!root_field)
        detail::yaml::fail(
            c.src, 0, "",
            "the file is empty (expected a mapping with at least modelarts and targets)");

    settings s;
    s.source_path = source_path;
    pending p;
    mapping root(*root_field);
    root.only({"listen", "web_config_file", "state_dir", "log_level", "modelarts", "poll",
               "targets", "webhooks", "external_url", "shard"});

    if (auto v = root.get("listen")) {
        s.listen = v->string();
        check_listen(*v, s.listen);
    }
    if (auto v = root.get("web_config_file")) s.web_config_file = absolute_in(c.src, v->string());
    if (auto v = root.get("state_dir")) {
        s.state_dir = absolute_in(c.src, v->string());
        p.state_dir_given = true;
    }
    if (auto v = root.get("log_level")) {
        auto l = v->string();
        auto level = log::parse_level(l);
        if (!level)
            v->fail("unknown level " + quote(l) + " (expected " +
                    detail::names_in(log::level_names) + ")");
        s.log_level = *level;
    }
    parse_modelarts(root.require("modelarts"), s, p);
    if (auto v = root.get("poll")) parse_poll(*v, s);

    auto targets = root.require("targets");
    auto target_items = targets.list();
    if (target_items.empty()) targets.fail("empty list (at least one target is required)");
    for (const auto& item : target_items) {
        s.targets.push_back(parse_target(item));
        p.target_at.push_back(item);
    }

    if (auto v = root.get("webhooks")) {
        std::map<std::string, int> names;
        for (const auto& item : v->list()) {
            std::optional<pending_file> secret_file;
            std::vector<std::pair<std::size_t, pending_file>> header_files;
            auto w = parse_webhook(item, secret_file, header_files);
            auto name_field = *mapping(item).get("name");
            auto [it, inserted] = names.emplace(w.name, name_field.line());
            if (!inserted) {
                name_field.fail("duplicate webhook name " + quote(w.name) + " (first at line " +
                                std::to_string(it->second) + ")");
            }
            s.webhooks.push_back(std::move(w));
            p.webhook_secrets.push_back(std::move(secret_file));
            p.header_files.push_back(std::move(header_files));
            p.webhook_at.push_back(item);
        }
    }

    if (auto v = root.get("external_url")) {
        auto parts = url_parts_of(*v);
        if (parts.scheme != "http" && parts.scheme != "https")
            v->fail("must be an http:// or https:// URL");
        if (parts.userinfo) v->fail("must not contain user information");
        auto text = v->string();
        if (text.find_first_of("?#") != std::string::npos)
            v->fail("must not have a query or fragment");
        if (text.back() != '/') text += '/';
        s.external_url = std::move(text);
    }

    if (auto v = root.get("shard")) parse_shard(*v, s);

    resolve(c, s, p, root);
    return s;
}

settings parse(std::string_view yaml_text, const std::string& source_path, const environment& env,
               const host_checks* checks) {
    try {
        return read(yaml_text, source_path, env, checks);
    } catch (const detail::yaml::read_error& e) {
        throw config_error(e.what());
    }
}

settings load(const std::string& path, const environment& env, const host_checks* checks) {
    return parse(detail::yaml::file_text<config_error>(path, detail::config_file_limit), path, env,
                 checks);
}

} // namespace

settings parse_settings(std::string_view yaml_text, const std::string& source_path,
                        const environment& env) {
    return parse(yaml_text, source_path, env, nullptr);
}

settings load_settings(const std::string& path, const environment& env) {
    return load(path, env, nullptr);
}

settings load_settings(const std::string& path, const environment& env, const host_checks& checks) {
    return load(path, env, &checks);
}

settings load_settings(const std::string& path) {
    return load_settings(path, auth::process_environment());
}

} // namespace taskwatch::config
