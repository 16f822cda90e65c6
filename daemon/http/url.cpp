// URL parsing for endpoints and proxies, and NO_PROXY matching.
#include "taskwatch/http/client.hpp"

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
bool valid_host_name(std::string_view s) noexcept {
    if (s.empty() || s.front() == '.' || s.find("..") != std::string_view::npos) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
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

struct parsed_url {
    endpoint ep;
    std::optional<std::string_view> userinfo; // raw, still percent-encoded
};

// The shared grammar; `default_scheme` is used when the URL has none ("" = scheme required).
expected<parsed_url, std::string> parse_common(std::string_view url,
                                               std::string_view default_scheme) {
    using err = unexpected<std::string>;
    if (url.empty()) return err{std::string("empty URL")};
    if (std::any_of(url.begin(), url.end(), [](char c) {
            return std::isspace(static_cast<unsigned char>(c)) ||
                   std::iscntrl(static_cast<unsigned char>(c));
        }))
        return err{std::string("URL contains whitespace or control characters")};

    parsed_url out;
    std::string_view rest = url;
    if (auto pos = rest.find("://"); pos != std::string_view::npos) {
        std::string scheme = to_lower(rest.substr(0, pos));
        if (scheme != "https" && scheme != "http")
            return err{"unsupported scheme '" + scheme + "', expected https:// or http://"};
        out.ep.scheme = std::move(scheme);
        rest.remove_prefix(pos + 3);
    } else if (default_scheme.empty()) {
        return err{std::string("missing scheme, expected https://host[:port][/path]")};
    } else {
        out.ep.scheme = std::string(default_scheme);
    }
    out.ep.port = default_port(out.ep.scheme);

    auto authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view path =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        out.userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
    }
    if (authority.empty()) return err{std::string("missing host")};

    std::string_view host;
    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return err{std::string("missing ']' after IPv6 address")};
        host = authority.substr(1, close - 1);
        if (host.empty() || !valid_ipv6(host))
            return err{"bad IPv6 address '" + std::string(host) + "'"};
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return err{"unexpected '" + std::string(after) + "' after IPv6 address"};
            has_port = true;
            port_text = after.substr(1);
        }
        out.ep.host = to_lower(host);
    } else {
        auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        if (host.empty()) return err{std::string("missing host")};
        if (!valid_host_name(host)) return err{"bad host '" + std::string(host) + "'"};
        out.ep.host = to_lower(host);
    }
    if (has_port) {
        if (port_text.empty()) return err{std::string("missing port after ':'")};
        auto port = parse_port(port_text);
        if (!port) return err{"bad port '" + std::string(port_text) + "'"};
        out.ep.port = *port;
    }

    if (!path.empty()) {
        if (path.front() == '?') return err{std::string("a query is not allowed in a base URL")};
        if (path.front() == '#') return err{std::string("a fragment is not allowed in a base URL")};
        if (path.find('?') != std::string_view::npos)
            return err{std::string("a query is not allowed in a base URL")};
        if (path.find('#') != std::string_view::npos)
            return err{std::string("a fragment is not allowed in a base URL")};
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        out.ep.base_path = std::string(path);
    }
    return out;
}

std::string proxy_url_error(std::string_view url, std::string_view msg) {
    // A quoted fragment of a URL with credentials could be part of the password.
    const auto quote = msg.find('\'');
    if (quote != std::string_view::npos && url.find('@') != std::string_view::npos) {
        std::string out("proxy URL: ");
        out += msg.substr(0, quote);
        out += "(not shown: the URL holds credentials)";
        return out;
    }
    std::string out("proxy URL: ");
    out += msg;
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

expected<endpoint, std::string> parse_url(std::string_view url) {
    auto parsed = parse_common(url, "");
    if (!parsed) return unexpected{std::move(parsed).error()};
    if (parsed->userinfo) return unexpected{std::string("credentials in the URL are not allowed")};
    return std::move(parsed->ep);
}

expected<proxy_endpoint, std::string> parse_proxy_url(std::string_view url) {
    auto parsed = parse_common(url, "http");
    if (!parsed) return unexpected{proxy_url_error(url, parsed.error())};
    if (parsed->ep.scheme != "http")
        return unexpected{std::string("proxy URL: only http:// proxies are supported")};
    if (!parsed->ep.base_path.empty())
        return unexpected{std::string("proxy URL: a path is not allowed")};
    proxy_endpoint out{std::move(parsed->ep), {}};
    if (parsed->userinfo) {
        std::string_view info = *parsed->userinfo;
        auto colon = info.find(':');
        auto user = detail::percent_decode(info.substr(0, colon));
        auto pass = detail::percent_decode(
            colon == std::string_view::npos ? std::string_view{} : info.substr(colon + 1));
        if (!user || !pass)
            return unexpected{std::string("proxy URL: bad percent-encoding in the credentials")};
        if (user->empty()) return unexpected{std::string("proxy URL: empty user name before '@'")};
        out.credentials = *user + ":" + *pass;
    }
    return out;
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
