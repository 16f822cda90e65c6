// AK/SK request signing, SDK-HMAC-SHA256, as Huawei Cloud's API gateway checks it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::auth {

using query_params = std::vector<std::pair<std::string, std::string>>; // decoded, caller order
using header_list = std::vector<std::pair<std::string, std::string>>;

/// What a request looks like to the signer. `path` and `query` are decoded;
/// `headers` are the ones to send besides Host and X-Sdk-Date (an X-Sdk-Date
/// given here wins over `sdk_date`, as in the SDKs).
struct sign_request {
    std::string_view method;
    std::string_view host; ///< "host" or "host:port", exactly as sent in Host
    std::string_view path;
    const query_params* query = nullptr;
    const header_list* headers = nullptr;
    std::string_view body;
    std::string_view sdk_date; ///< YYYYMMDDTHHMMSSZ, UTC
};

/// Every intermediate product of signing, so tests and the simulator can compare them.
struct signature {
    std::string sdk_date;
    std::string canonical_uri;
    std::string canonical_query;
    std::string canonical_headers;
    std::string signed_headers;
    std::string payload_hash;
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature_hex;
    std::string authorization; ///< the Authorization header value
};

inline constexpr std::string_view algorithm = "SDK-HMAC-SHA256";
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

/// Signs `req` with the access key pair. Never throws for any input.
signature sign(const sign_request& req, std::string_view ak, std::string_view sk);
/// sign(req, ak, sk).authorization, computed without the intermediate strings: the one the
/// daemon sends on every request.
std::string sign_authorization(const sign_request& req, std::string_view ak, std::string_view sk);

/// Each segment of a decoded path encoded, always ending in "/".
std::string canonical_uri(std::string_view decoded_path);
/// Each segment of a decoded path encoded, as sent on the wire (no slash added).
std::string encode_path(std::string_view decoded_path);
/// Sorted by raw key bytes, repeated keys' values sorted, `k=v` joined by `&`.
/// The client sends exactly this string as the query.
std::string canonical_query_string(const query_params& query);

std::string format_sdk_date(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_sdk_date(std::string_view s);

/// The parts of an `Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`.
struct authorization_header {
    std::string access_key;
    std::vector<std::string> signed_headers;
    std::string signature_hex;
};
std::optional<authorization_header> parse_authorization(std::string_view value);

} // namespace taskwatch::auth
