// Header field values as RFC 9110 reads them, for the server, the request signer and the
// simulator's gateway alike.
#pragma once

#include <string_view>

namespace taskwatch::detail {

/// `s` without the optional whitespace (spaces and tabs, RFC 9110 5.6.3) around it.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace taskwatch::detail
