// Adds Huawei Cloud authentication to a request: AK/SK signing or an IAM token.
#pragma once

#include "taskwatch/auth/auth_error.hpp"
#include "taskwatch/auth/credentials.hpp"
#include "taskwatch/detail/expected.hpp"
#include "taskwatch/http/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace taskwatch::auth {

/// Which credential a request was sent with, so a rejection can be matched to it.
struct authorization_ticket {
    std::uint64_t generation = 0;
};

class authorizer {
public:
    virtual ~authorizer() = default;

    /// Adds the headers that authenticate `req` to `ep` for `project_id`.
    /// Fails only when no credential can be had (the IAM token request failed).
    virtual boost::asio::awaitable<expected<authorization_ticket, auth_error>>
    async_authorize(http::request& req, const http::endpoint& ep, std::string project_id) = 0;

    /// The server rejected the credential of `ticket`. Returns true when a retry may succeed
    /// because a fresh credential will be used (an IAM token that expired or was revoked).
    /// Many concurrent rejections of one token cause one refresh.
    virtual bool invalidate(authorization_ticket ticket) = 0;

    virtual std::string_view scheme() const noexcept = 0; ///< "aksk" or "token"
};

using clock_fn = std::function<std::chrono::system_clock::time_point()>;

/// SDK-HMAC-SHA256 signing with a permanent or temporary access key.
std::unique_ptr<authorizer> make_aksk_authorizer(aksk_credentials creds, clock_fn clock = {});

/// IAM password-method token, obtained from `iam_endpoint`, cached and refreshed before it
/// expires; concurrent requests share one refresh.
std::unique_ptr<authorizer> make_token_authorizer(http::client& client, token_credentials creds,
                                                  clock_fn clock = {});

/// Statistics of the token authorizer, for tests and metrics.
struct token_stats {
    std::uint64_t token_requests = 0; ///< POSTs to IAM made
    std::uint64_t refreshes_failed = 0;
};
token_stats stats_of(const authorizer& a);

} // namespace taskwatch::auth
