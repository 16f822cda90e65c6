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

} // namespace taskwatch::detail
