// RFC 3986 percent-encoding and decoding, as URLs and request signing both need it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::detail {

/// Unreserved A-Z a-z 0-9 - _ . ~ kept, the rest %XX upper-case.
std::string percent_encode(std::string_view s);
/// percent_encode(s) appended to `out`.
void append_percent_encoded(std::string& out, std::string_view s);
/// Decodes %XX sequences; nullopt when one is malformed. `+` stays `+`.
std::optional<std::string> percent_decode(std::string_view s);

/// Calls `f(name, value)`, both still percent-encoded, for each `name=value` pair of a query
/// (the text after `?`): empty pairs skipped, a pair without `=` has an empty value. Stops at
/// the first pair for which `f` returns false, and then returns false.
template <class F> bool for_each_query_pair(std::string_view query, F&& f) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        if (!f(pair.substr(0, eq), value)) return false;
    }
    return true;
}

} // namespace taskwatch::detail
