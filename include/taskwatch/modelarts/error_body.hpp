// Error bodies of ModelArts, the API gateway and IAM, in every shape the Huawei SDKs accept.
//
// Apply parse_api_error to non-2xx responses only: a 200 task body also has `code` and
// `message` ("ModelArts.4902", exporting labels) and would read as an error.
// All functions are pure and thread-compatible.
#pragma once

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::modelarts {

/// What an error body says; a member the body lacks is "".
struct api_error_body {
    std::string error_code; ///< "ModelArts.4338", "APIGW.0301", or a number such as "401" from IAM
    std::string error_msg;
    std::string request_id;
    bool operator==(const api_error_body&) const = default;
};

/// Reads, taking the first present, non-empty one of each:
///   code:       error_code, errorCode, code
///   message:    error_msg, errorMsg, error_message, message
///   request id: request_id, requestId
/// at the top level, else inside a nested `"error": {...}` object. Numbers are accepted for
/// code and message (IAM writes `{"error":{"code":401,...}}`).
/// nullopt when the body is not a JSON object or has neither code nor message: the caller
/// then reports the raw body and the HTTP status.
std::optional<api_error_body> parse_api_error(std::string_view body);
std::optional<api_error_body> parse_api_error(const boost::json::value& body);
/// A literal converts to both string_view and json::value: this picks the text reading.
inline std::optional<api_error_body> parse_api_error(const char* body) {
    return parse_api_error(std::string_view(body));
}

/// Whether an error code is `expected`. The gateway writes the same code as `APIGW.0301`
/// and `APIG.0301`: these match each other, and a bare suffix ("0301") matches either.
/// Any other code ("ModelArts.4338") matches only itself, exactly.
bool error_code_is(std::string_view code, std::string_view expected) noexcept;

} // namespace taskwatch::modelarts
