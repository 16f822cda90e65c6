// Base64 (RFC 4648, standard alphabet, padded): Basic credentials, webhook signatures and
// their secrets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::detail {

/// `in` in base64, padded with "=".
std::string base64_encode(std::string_view in);
/// The bytes `in` encodes; nullopt for a character outside the alphabet, a length that is not a
/// multiple of 4, or data after the padding.
std::optional<std::string> base64_decode(std::string_view in);

} // namespace taskwatch::detail
