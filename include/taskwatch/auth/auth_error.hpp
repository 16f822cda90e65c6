// Why no credential could be had for a request: what went wrong with the IAM token request
// (or its configuration), in auth's own terms. modelarts::from_auth_error classifies it like
// any other failed call.
#pragma once

#include "taskwatch/http/client.hpp"

#include <optional>
#include <string>

namespace taskwatch::auth {

struct auth_error {
    enum class kind {
        config,    ///< the settings cannot work (a bad iam_endpoint); `detail` says why
        transport, ///< no answer from IAM: `transport`
        rejected,  ///< IAM answered with an error status: `response` (body capped)
        malformed, ///< IAM said yes, but the answer lacks the token or its expiry; `detail`
    };
    kind what = kind::config;
    std::optional<http::transport_error> transport;
    std::optional<http::response> response;
    std::string detail;

    /// One line for logs: "HTTP 401 from IAM: {...}", the transport's message, or the detail.
    std::string to_string() const;
};

} // namespace taskwatch::auth
