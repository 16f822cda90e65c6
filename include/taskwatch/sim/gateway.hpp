// The API gateway's side of authentication, as the simulator plays it: AK/SK signatures
// (SDK-HMAC-SHA256, checked by recomputing them with auth::sign), X-Auth-Token tokens it
// issued itself, and IAM password authentication (POST /v3/auth/tokens).
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/detail/secret.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/sim/model.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace taskwatch::sim {

struct access_key {
    std::string ak;
    detail::secret sk;
    std::optional<detail::secret>
        security_token; ///< temporary credentials: X-Security-Token must match
};

struct iam_user {
    std::string name;
    std::string domain;
    detail::secret password;
};

/// Why a request was refused. `iam_style`: the body is IAM's {"error":{code,message,title}}
/// instead of the gateway's {"error_code","error_msg"}.
struct auth_failure {
    unsigned status = 401;
    std::string error_code = "APIGW.0301";
    std::string error_msg;
    bool iam_style = false;
};

struct issued_token {
    std::string token;
    time_point issued_at;
    time_point expires_at;
    std::string project_id;
    std::string user;
    std::string domain;
};

/// Who a request was authenticated as.
struct principal {
    std::string access_key;              ///< AK/SK requests
    const issued_token* token = nullptr; ///< token requests
};

class gateway {
public:
    gateway(std::vector<access_key> keys, std::optional<iam_user> user,
            std::chrono::seconds token_ttl,
            std::chrono::seconds max_clock_skew = std::chrono::minutes(15));

    /// True when any AK/SK or IAM user is configured.
    bool has_credentials() const noexcept { return !keys_.empty() || user_.has_value(); }

    /// Checks the request's AK/SK signature or X-Auth-Token at `now` (the server clock).
    expected<principal, auth_failure> authenticate(const http::server_request& req,
                                                   time_point now) const;

    /// POST /v3/auth/tokens: checks the password-method body and issues a token.
    expected<issued_token, auth_failure> issue_token(std::string_view body, time_point now);

    /// Makes every issued token expire at `now` (tests of the refresh path).
    void expire_tokens(time_point now);
    std::size_t tokens_issued() const noexcept { return issued_; }

private:
    expected<principal, auth_failure> check_signature(const http::server_request& req,
                                                      std::string_view authorization,
                                                      time_point now) const;
    expected<principal, auth_failure> check_token(std::string_view token, time_point now) const;

    std::vector<access_key> keys_;
    std::optional<iam_user> user_;
    std::chrono::seconds token_ttl_;
    std::chrono::seconds max_skew_;
    std::unordered_map<std::string, issued_token> tokens_;
    std::size_t issued_ = 0;
    rng token_rng_;
};

/// Splits a raw query ("a=1&b=%20") into decoded pairs; nullopt when an escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> decode_query(std::string_view raw);

} // namespace taskwatch::sim
