// Syntax check of http(s) URLs in the configuration, before any connection is made.
#pragma once

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::detail {

/// The parts of "scheme://[userinfo@]host[:port][rest]".
struct url_parts {
    std::string scheme; ///< lower-case "http" or "https"
    bool has_userinfo = false;
    std::string host; ///< without brackets for IPv6 literals
    std::optional<std::uint16_t> port;
    std::string rest; ///< path, query and fragment as written ("" when absent)
};

/// Splits an http or https URL; the error says what is wrong without repeating the URL
/// (webhook URLs often embed a token).
inline expected<url_parts, std::string> split_http_url(std::string_view url) {
    url_parts out;
    auto sep = url.find("://");
    if (sep == std::string_view::npos)
        return unexpected{std::string("not a URL (expected http:// or https://)")};
    for (char c : url.substr(0, sep))
        out.scheme += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (out.scheme != "http" && out.scheme != "https")
        return unexpected{"unsupported scheme \"" + out.scheme + "\" (expected http or https)"};
    auto rest = url.substr(sep + 3);
    auto auth_end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, auth_end);
    out.rest =
        auth_end == std::string_view::npos ? std::string() : std::string(rest.substr(auth_end));
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        out.has_userinfo = true;
        authority.remove_prefix(at + 1);
    }
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return unexpected{std::string("unterminated IPv6 address")};
        out.host = std::string(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return unexpected{std::string("junk after IPv6 address")};
            port_text = after.substr(1);
            if (port_text.empty()) return unexpected{std::string("empty port")};
        }
    } else {
        auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return unexpected{std::string("empty port")};
        }
    }
    if (out.host.empty()) return unexpected{std::string("missing host")};
    for (unsigned char c : detail::bytes_of(out.host))
        if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
            c == '`' || c == '{' || c == '|' || c == '}')
            return unexpected{std::string("bad character in host")};
    if (!port_text.empty()) {
        unsigned long port = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9' || port > 65535)
                return unexpected{"bad port \"" + std::string(port_text) + "\""};
            port = port * 10 + static_cast<unsigned long>(c - '0');
        }
        if (port == 0 || port > 65535)
            return unexpected{"bad port \"" + std::string(port_text) + "\""};
        out.port = static_cast<std::uint16_t>(port);
    }
    for (unsigned char c : detail::bytes_of(out.rest))
        if (c <= ' ' || c == 0x7f)
            return unexpected{std::string("space or control character in URL")};
    return out;
}

/// "scheme://host[:port]" (brackets around IPv6 literals): the URL without user
/// information, path, query or fragment, with a lower-case scheme.
inline std::string origin_of(const url_parts& u) {
    // Appends only: GCC 12 warns falsely (-Wstringop-overflow) on "[" + host + "]".
    std::string out = u.scheme;
    out += "://";
    bool v6 = u.host.find(':') != std::string::npos;
    if (v6) out += '[';
    out += u.host;
    if (v6) out += ']';
    if (u.port) {
        out += ':';
        out += std::to_string(*u.port);
    }
    return out;
}

} // namespace taskwatch::detail
