#include "taskwatch/http/url.hpp"

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/percent.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace taskwatch::http {
namespace {

char lower(char c) noexcept {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::uint16_t default_port(std::string_view scheme) noexcept {
    return scheme == "http" ? 80 : 443;
}

bool is_ipv6_literal(std::string_view host) noexcept {
    return host.find(':') != std::string_view::npos;
}

std::string bracketed(std::string_view host) {
    if (!is_ipv6_literal(host)) return std::string(host);
    std::string out;
    out.reserve(host.size() + 2);
    out += '[';
    out += host;
    out += ']';
    return out;
}

bool valid_ipv6(std::string_view s) {
    std::string text(s);
    std::array<unsigned char, 16> buf{};
    return ::inet_pton(AF_INET6, text.c_str(), buf.data()) == 1;
}

// RFC 3986 reg-name as used for DNS: letters, digits, '-', '.', '_'.
bool host_name_char(char c) noexcept {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool valid_host_name(std::string_view s) noexcept {
    if (s.empty() || s.front() == '.' || s.find("..") != std::string_view::npos) return false;
    return std::all_of(s.begin(), s.end(), host_name_char);
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    unsigned v = 0;
    for (char c : s)
        v = v * 10 + static_cast<unsigned>(c - '0');
    if (v == 0 || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

using fail = unexpected<std::string>;

// "user:pass", percent-decoded, from user information as written.
expected<std::string, std::string> decode_credentials(std::string_view info) {
    auto colon = info.find(':');
    auto user = detail::percent_decode(info.substr(0, colon));
    auto pass = detail::percent_decode(colon == std::string_view::npos ? std::string_view{}
                                                                       : info.substr(colon + 1));
    if (!user || !pass) return fail{std::string("bad percent-encoding in the credentials")};
    return *user + ":" + *pass;
}

expected<url_parts, std::string> split(std::string_view url, std::string_view default_scheme) {
    for (unsigned char c : detail::bytes_of(url))
        if (c <= ' ' || c == 0x7f) return fail{std::string("space or control character in URL")};

    url_parts out;
    std::string_view rest = url;
    if (auto pos = rest.find("://"); pos != std::string_view::npos) {
        out.scheme = to_lower(rest.substr(0, pos));
        if (out.scheme != "https" && out.scheme != "http")
            return fail{"unsupported scheme " + detail::quote(out.scheme) +
                        " (expected http or https)"};
        rest.remove_prefix(pos + 3);
    } else if (default_scheme.empty()) {
        return fail{std::string("not a URL (expected http:// or https://)")};
    } else {
        out.scheme = std::string(default_scheme);
    }

    auto authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view after =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        out.userinfo = std::string(authority.substr(0, at));
        authority.remove_prefix(at + 1);
    }
    if (authority.empty()) return fail{std::string("missing host")};

    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return fail{std::string("unterminated IPv6 address")};
        auto host = authority.substr(1, close - 1);
        if (!valid_ipv6(host)) return fail{"bad IPv6 address " + detail::quote(host)};
        auto tail = authority.substr(close + 1);
        if (!tail.empty()) {
            if (tail.front() != ':') return fail{std::string("junk after IPv6 address")};
            has_port = true;
            port_text = tail.substr(1);
        }
        out.host = to_lower(host);
    } else {
        auto colon = authority.find(':');
        auto host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        if (host.empty()) return fail{std::string("missing host")};
        if (!std::all_of(host.begin(), host.end(), host_name_char))
            return fail{std::string("bad character in host")};
        if (!valid_host_name(host)) return fail{"bad host " + detail::quote(host)};
        out.host = to_lower(host);
    }
    if (has_port) {
        if (port_text.empty()) return fail{std::string("empty port")};
        auto port = parse_port(port_text);
        if (!port) return fail{"bad port " + detail::quote(port_text)};
        out.port = *port;
    }

    if (auto hash = after.find('#'); hash != std::string_view::npos) {
        out.has_fragment = true;
        after = after.substr(0, hash);
    }
    if (auto q = after.find('?'); q != std::string_view::npos) {
        out.query = std::string(after.substr(q + 1));
        after = after.substr(0, q);
    }
    out.path = std::string(after);
    return out;
}

bool is_ipv4_literal(std::string_view s) {
    std::string text(s);
    std::array<unsigned char, 4> buf{};
    return ::inet_pton(AF_INET, text.c_str(), buf.data()) == 1;
}

} // namespace

std::string endpoint::host_header() const {
    std::string h = bracketed(host);
    if (port != default_port(scheme)) {
        h += ':';
        h += std::to_string(port);
    }
    return h;
}

std::string endpoint::to_string() const {
    return scheme + "://" + host_header() + base_path;
}

bool url_parts::is_origin() const noexcept {
    return (path.empty() || path == "/") && !query && !has_fragment;
}

endpoint url_parts::origin() const {
    return endpoint{scheme, host, port ? *port : default_port(scheme), {}};
}

expected<url_parts, std::string> split_url(std::string_view url, std::string_view default_scheme) {
    auto parts = split(url, default_scheme);
    if (parts || url.find('@') == std::string_view::npos) return parts;
    // A quoted piece of a URL with user information could be part of the password: a "/" in
    // it ends the authority early, and the rest reads as a host and port.
    const std::string_view msg = parts.error();
    const auto quote = msg.find('"');
    if (quote == std::string_view::npos) return parts;
    return fail{std::string(msg.substr(0, quote)) + "(not shown: the URL holds credentials)"};
}

expected<endpoint, std::string> parse_url(std::string_view url) {
    auto u = split_url(url);
    if (!u) return fail{std::move(u).error()};
    if (u->userinfo) return fail{std::string("credentials in the URL are not allowed")};
    if (u->query) return fail{std::string("a query is not allowed in a base URL")};
    if (u->has_fragment) return fail{std::string("a fragment is not allowed in a base URL")};
    auto ep = u->origin();
    std::string_view path = u->path;
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    ep.base_path = std::string(path);
    return ep;
}

expected<proxy_endpoint, std::string> proxy_of(const url_parts& u) {
    if (u.scheme != "http") return fail{std::string("only http:// proxies are supported")};
    if (u.query) return fail{std::string("a query is not allowed")};
    if (u.has_fragment) return fail{std::string("a fragment is not allowed")};
    if (!u.is_origin()) return fail{std::string("a path is not allowed")};
    proxy_endpoint out{u.origin(), {}};
    if (u.userinfo) {
        if (u.userinfo->empty() || u.userinfo->front() == ':')
            return fail{std::string("empty user name before \"@\"")};
        auto credentials = decode_credentials(*u.userinfo);
        if (!credentials) return fail{std::move(credentials).error()};
        out.credentials = std::move(*credentials);
    }
    return out;
}

expected<proxy_endpoint, std::string> parse_proxy_url(std::string_view url) {
    auto u = split_url(url, "http");
    if (!u) return fail{"proxy URL: " + u.error()};
    auto p = proxy_of(*u);
    if (!p) return fail{"proxy URL: " + p.error()};
    return p;
}

expected<request_url, std::string> request_url_of(const url_parts& u) {
    request_url out{u.origin(), u.path.empty() ? std::string("/") : u.path, {}};
    if (u.query) {
        out.target += '?';
        out.target += *u.query;
    }
    if (u.userinfo) {
        auto credentials = decode_credentials(*u.userinfo);
        if (!credentials) return fail{std::move(credentials).error()};
        out.credentials = std::move(*credentials);
    }
    return out;
}

std::string request_url::to_string() const {
    return server.to_string() + target.substr(0, target.find('?'));
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    while (!no_proxy.empty()) {
        auto comma = no_proxy.find(',');
        std::string_view entry = no_proxy.substr(0, comma);
        no_proxy =
            comma == std::string_view::npos ? std::string_view{} : no_proxy.substr(comma + 1);

        while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front())))
            entry.remove_prefix(1);
        while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back())))
            entry.remove_suffix(1);
        if (entry.empty()) continue;
        if (entry == "*") return true;

        // Split an optional port: "[::1]:8443", "host:8443"; a bare IPv6 address has no port.
        std::optional<std::uint16_t> entry_port;
        if (entry.front() == '[') {
            auto close = entry.find(']');
            if (close == std::string_view::npos) continue;
            if (close + 1 < entry.size() && entry[close + 1] == ':') {
                entry_port = parse_port(entry.substr(close + 2));
                if (!entry_port) continue;
            }
            entry = entry.substr(1, close - 1);
        } else if (auto colon = entry.find(':');
                   colon != std::string_view::npos &&
                   entry.find(':', colon + 1) == std::string_view::npos) {
            entry_port = parse_port(entry.substr(colon + 1));
            if (!entry_port) continue;
            entry = entry.substr(0, colon);
        }
        if (entry_port && *entry_port != port) continue;

        while (!entry.empty() && entry.front() == '.')
            entry.remove_prefix(1);
        if (entry.empty()) continue;
        if (iequals(entry, host)) return true;
        if (!is_ipv6_literal(host) && !is_ipv4_literal(host) && host.size() > entry.size() &&
            host[host.size() - entry.size() - 1] == '.' &&
            iequals(host.substr(host.size() - entry.size()), entry))
            return true;
    }
    return false;
}

} // namespace taskwatch::http
