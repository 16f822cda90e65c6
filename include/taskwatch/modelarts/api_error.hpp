// Every way a ModelArts call can fail, classified. The kind is also the metric label `reason`.
#pragma once

#include "taskwatch/auth/auth_error.hpp"
#include "taskwatch/detail/name_table.hpp"
#include "taskwatch/http/client.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::modelarts {

enum class error_kind {
    // No HTTP response (http::failure).
    dns,
    connect,
    proxy,
    tls,
    timeout,
    io,
    protocol,
    body_too_large,
    cancelled,
    // An HTTP response that says no.
    auth,         ///< 401/403: bad signature, expired or wrong token, no permission
    throttled,    ///< 429, APIGW.0308, ModelArts.2799/4206/6101
    not_found,    ///< 404, or ModelArts 400 4338/4352/4612/4700 (task or dataset does not exist)
    client_error, ///< any other 4xx, and 3xx (redirects are not followed)
    server_error, ///< 5xx
    malformed,    ///< a 2xx whose body is not the task JSON we expect
};
/// The kinds' names: the `reason` label of taskwatch_poll_failures_total (exported for every
/// kind, from zero), `last_error.reason` in the API, the first word of api_error::to_string().
/// A transport kind has the name of its http::failure.
inline constexpr detail::enum_name<error_kind> error_kind_names[] = {
    {error_kind::dns, "dns"},
    {error_kind::connect, "connect"},
    {error_kind::proxy, "proxy"},
    {error_kind::tls, "tls"},
    {error_kind::timeout, "timeout"},
    {error_kind::io, "io"},
    {error_kind::protocol, "protocol"},
    {error_kind::body_too_large, "body_too_large"},
    {error_kind::cancelled, "cancelled"},
    {error_kind::auth, "auth"},
    {error_kind::throttled, "throttled"},
    {error_kind::not_found, "not_found"},
    {error_kind::client_error, "client_error"},
    {error_kind::server_error, "server_error"},
    {error_kind::malformed, "malformed"},
};
static_assert(detail::in_enum_order(error_kind_names));
std::string_view to_string(error_kind k);

struct api_error {
    error_kind kind = error_kind::io;
    unsigned http_status = 0; ///< 0 when no response arrived
    std::string error_code;   ///< e.g. APIGW.0301, from the body
    std::string error_msg;
    std::string request_id; ///< from the body, else the X-Request-Id header
    std::optional<std::chrono::milliseconds> retry_after; ///< from Retry-After, when sent
    std::string detail;                                   ///< transport or parse detail

    /// One line for logs and `taskwatchd get`: `auth: HTTP 401 APIGW.0301 "..." (request_id ...)`.
    std::string to_string() const;
    bool is_transport() const noexcept;
};

/// Classifies a non-2xx response: its status, the error body in any shape API-NOTES lists,
/// X-Request-Id and Retry-After.
api_error classify_response(const http::response& res);
api_error from_transport(const http::transport_error& e);
/// A failed IAM token request as a failed call: its transport error or its answer classified
/// like any response (detail "from IAM"), a bad iam_endpoint as client_error, a token answer
/// without the token as malformed.
api_error from_auth_error(const auth::auth_error& e);

/// Retry-After as delta-seconds or an HTTP date, relative to `now`.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

/// True when a 401's error code says the IAM token expired or is invalid, so a refresh may help.
bool is_token_rejection(const api_error& e);

} // namespace taskwatch::modelarts
