// URLs: the one grammar that splits them (split_url), what each use makes of the parts (an API
// endpoint, a proxy, a webhook's request URL), and NO_PROXY matching. The config loader parses
// every URL of the configuration here once and keeps the parsed values; nothing parses again.
#pragma once

#include "taskwatch/detail/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::http {

/// Where requests go: a server and an optional base path, "https://host[:port][/base]".
struct endpoint {
    std::string scheme = "https"; ///< "https"; "http" is accepted only where a caller allows it
    std::string host;             ///< name or IP literal, without brackets
    std::uint16_t port = 443;
    std::string base_path; ///< "" or "/prefix" (no trailing slash)

    /// Host header value: "host" on the scheme's default port, else "host:port".
    std::string host_header() const;
    std::string to_string() const; ///< back to a URL, for messages
    bool operator==(const endpoint&) const = default;
};

/// The parts of "scheme://[userinfo@]host[:port][/path][?query][#fragment]".
struct url_parts {
    std::string scheme;                  ///< "http" or "https", lower-cased
    std::optional<std::string> userinfo; ///< as written, still percent-encoded: a secret
    std::string host;                    ///< lower-cased; an IPv6 literal without brackets
    std::optional<std::uint16_t> port;   ///< nullopt: not written (the scheme's default)
    std::string path;                    ///< as written; "" when absent
    std::optional<std::string> query;    ///< after "?", as written: may hold a token
    bool has_fragment = false;

    /// Nothing follows the host and port but an optional "/".
    bool is_origin() const noexcept;
    /// scheme://host:port, without user information, path or query.
    endpoint origin() const;
};

/// Splits an http or https URL: the grammar every URL taskwatch reads goes through. Rejects
/// spaces and control characters, other schemes, bad host names and IP literals, and ports
/// outside 1..65535. `default_scheme` is taken when the URL has no "scheme://" (empty: the
/// scheme is required). The error says what is wrong ("bad port \"99999\"", "missing host")
/// and never quotes any part of a URL that holds user information.
expected<url_parts, std::string> split_url(std::string_view url,
                                           std::string_view default_scheme = {});

/// A base URL for API calls: http(s)://host[:port][/base]; rejects credentials, queries and
/// fragments. (The daemon's endpoints come parsed from the config; tests and tools use this.)
expected<endpoint, std::string> parse_url(std::string_view url);

/// An HTTP proxy for CONNECT tunnels: "http://[user:pass@]host[:port]".
struct proxy_endpoint {
    endpoint server;         ///< always scheme "http", base_path ""
    std::string credentials; ///< "user:pass" percent-decoded, or ""; a secret, never in messages
    bool operator==(const proxy_endpoint&) const = default;
};

/// The proxy that split parts name: scheme http, no path, credentials percent-decoded.
expected<proxy_endpoint, std::string> proxy_of(const url_parts& u);
/// split_url (scheme optional: http) and proxy_of; errors start with "proxy URL: ".
expected<proxy_endpoint, std::string> parse_proxy_url(std::string_view url);

/// Where requests to one whole URL go (a webhook): the server, and the path and query to ask
/// for. The query often holds a token (Slack, DingTalk, WeCom): messages use to_string().
struct request_url {
    endpoint server;               ///< base_path ""
    std::string target;            ///< path and query as written; the path "/" when none is written
    std::string credentials;       ///< "user:pass" percent-decoded from the URL, or ""; a secret
    std::string to_string() const; ///< the URL without its query (nor credentials)
    bool operator==(const request_url&) const = default;
};

/// The request URL that split parts name; the fragment is dropped (it is never sent).
expected<request_url, std::string> request_url_of(const url_parts& u);

/// True when `host`:`port` must bypass the proxy according to a NO_PROXY value:
/// comma-separated entries, "*" for all, a name matching exactly or as a domain
/// suffix (".example.com" and "example.com" both match "a.example.com"),
/// IP literals exactly, an optional ":port" restricting the entry to that port.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

} // namespace taskwatch::http
