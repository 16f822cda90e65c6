#include "taskwatch/sim/gateway.hpp"

#include "taskwatch/auth/signer.hpp"
#include "taskwatch/detail/crypto.hpp"
#include "taskwatch/detail/field_text.hpp"
#include "taskwatch/detail/percent.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <random>

namespace taskwatch::sim {
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view iam_prefix = "Incorrect IAM authentication information: ";

auth_failure denied(std::string_view why) {
    return auth_failure{401, "APIGW.0301", std::string(iam_prefix) + std::string(why), false};
}

auth_failure iam_error(unsigned status, std::string_view message) {
    return auth_failure{status, std::to_string(status), std::string(message), true};
}

std::string_view header_value(const http::server_request& req, std::string_view name) {
    auto it = req.find(name);
    return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

// A string member of a JSON object, or nullptr.
const json::string* member_string(const json::value* v, std::string_view key) {
    if (!v || !v->is_object()) return nullptr;
    auto* m = v->get_object().if_contains(key);
    return m && m->is_string() ? &m->get_string() : nullptr;
}
const json::value* member(const json::value* v, std::string_view key) {
    if (!v || !v->is_object()) return nullptr;
    return v->get_object().if_contains(key);
}

} // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> decode_query(std::string_view raw) {
    std::vector<std::pair<std::string, std::string>> out;
    const bool decoded =
        detail::for_each_query_pair(raw, [&](std::string_view k, std::string_view v) {
            auto key = detail::percent_decode(k);
            auto value = detail::percent_decode(v);
            if (!key || !value) return false;
            out.emplace_back(std::move(*key), std::move(*value));
            return true;
        });
    if (!decoded) return std::nullopt;
    return out;
}

gateway::gateway(std::vector<access_key> keys, std::optional<iam_user> user,
                 std::chrono::seconds token_ttl, std::chrono::seconds max_clock_skew)
    : keys_(std::move(keys))
    , user_(std::move(user))
    , token_ttl_(token_ttl)
    , max_skew_(max_clock_skew)
    , token_rng_(std::random_device{}() ^
                 (static_cast<std::uint64_t>(std::random_device{}()) << 32)) {}

expected<principal, auth_failure> gateway::authenticate(const http::server_request& req,
                                                        time_point now) const {
    auto authorization = header_value(req, "Authorization");
    if (!authorization.empty()) return check_signature(req, authorization, now);
    auto token = header_value(req, "X-Auth-Token");
    if (!token.empty()) return check_token(detail::trim_ows(token), now);
    return unexpected(denied("no Authorization or X-Auth-Token header"));
}

expected<principal, auth_failure> gateway::check_signature(const http::server_request& req,
                                                           std::string_view authorization,
                                                           time_point now) const {
    auto parsed = auth::parse_authorization(authorization);
    if (!parsed)
        return unexpected(denied("the Authorization header is not SDK-HMAC-SHA256 Access=..., "
                                 "SignedHeaders=..., Signature=..."));
    const access_key* key = nullptr;
    for (const auto& k : keys_)
        if (k.ak == parsed->access_key) key = &k;
    if (!key) return unexpected(denied("the access key does not exist"));

    auto date_text = detail::trim_ows(header_value(req, "X-Sdk-Date"));
    if (date_text.empty()) return unexpected(denied("X-Sdk-Date header missing"));
    auto date = auth::parse_sdk_date(date_text);
    if (!date) return unexpected(denied("X-Sdk-Date is not YYYYMMDDTHHMMSSZ"));
    if (*date > now + max_skew_ || *date < now - max_skew_)
        return unexpected(denied(
            "X-Sdk-Date is more than 15 minutes away from the server time, request expired"));

    const auto& names = parsed->signed_headers;
    auto is_signed = [&](std::string_view n) {
        return std::find(names.begin(), names.end(), n) != names.end();
    };
    if (!is_signed("host") || !is_signed("x-sdk-date"))
        return unexpected(denied("SignedHeaders must include host and x-sdk-date"));
    if (key->security_token) {
        auto token = header_value(req, "X-Security-Token");
        if (token.empty() || !is_signed("x-security-token"))
            return unexpected(denied("temporary credentials need a signed X-Security-Token"));
        if (!detail::constant_time_equal(detail::trim_ows(token), key->security_token->reveal()))
            return unexpected(denied("the security token does not match the access key"));
    }

    auth::header_list headers;
    headers.reserve(names.size());
    for (const auto& n : names) {
        if (n == "host") continue;
        auto it = req.find(n);
        if (it == req.end())
            return unexpected(denied("signed header '" + n + "' is not in the request"));
        headers.emplace_back(n, std::string(it->value()));
    }
    auto host = header_value(req, "Host");
    if (host.empty()) return unexpected(denied("Host header missing"));

    std::string_view target = req.target();
    auto qmark = target.find('?');
    auto raw_path = target.substr(0, qmark);
    auto path = detail::percent_decode(raw_path);
    auto query = decode_query(qmark == std::string_view::npos ? std::string_view{}
                                                              : target.substr(qmark + 1));
    if (!path || !query) return unexpected(denied("the request target has a malformed %-escape"));

    auth::sign_request sr;
    sr.method = req.method_string();
    sr.host = host;
    sr.path = *path;
    sr.query = &*query;
    sr.headers = &headers;
    sr.body = req.body();
    sr.sdk_date = date_text;
    auto expected_sig = auth::sign(sr, key->ak, key->sk.reveal());
    if (!detail::constant_time_equal(expected_sig.signature_hex, parsed->signature_hex))
        return unexpected(denied("verify aksk signature fail"));
    return principal{key->ak, nullptr};
}

expected<principal, auth_failure> gateway::check_token(std::string_view token,
                                                       time_point now) const {
    auto it = tokens_.find(std::string(token));
    if (it == tokens_.end()) return unexpected(denied("the token is invalid"));
    if (now >= it->second.expires_at) return unexpected(denied("the token has expired"));
    return principal{{}, &it->second};
}

expected<issued_token, auth_failure> gateway::issue_token(std::string_view body, time_point now) {
    boost::system::error_code ec;
    auto doc = json::parse(body, ec);
    if (ec) return unexpected(iam_error(400, "The request body is not valid JSON."));
    const auto* identity = member(member(&doc, "auth"), "identity");
    const auto* methods = member(identity, "methods");
    bool password_method = false;
    if (methods && methods->is_array())
        for (const auto& m : methods->get_array())
            if (m.is_string() && m.get_string() == "password") password_method = true;
    if (!password_method)
        return unexpected(iam_error(400, "auth.identity.methods must contain \"password\"."));
    const auto* user = member(member(identity, "password"), "user");
    const auto* name = member_string(user, "name");
    const auto* password = member_string(user, "password");
    const auto* domain = member_string(member(user, "domain"), "name");
    if (!name || !password || !domain)
        return unexpected(
            iam_error(400, "auth.identity.password.user needs name, password and domain.name."));
    const auto* project = member(member(member(&doc, "auth"), "scope"), "project");
    const auto* project_id = member_string(project, "id");
    if (!project_id) return unexpected(iam_error(400, "auth.scope.project.id is required."));
    if (!user_ || *name != user_->name || *domain != user_->domain ||
        !detail::constant_time_equal(std::string_view(*password), user_->password.reveal()))
        return unexpected(iam_error(401, "The username or password is wrong."));

    // Drop tokens long expired, but keep recent ones to say "expired" rather than "invalid".
    if (tokens_.size() > 1000)
        std::erase_if(tokens_, [&](const auto& kv) {
            return kv.second.expires_at + std::chrono::hours(1) < now;
        });

    issued_token t;
    t.token = "MIIsim" + token_rng_.id(58);
    t.issued_at = now;
    t.expires_at = now + token_ttl_;
    t.project_id = std::string(*project_id);
    t.user = user_->name;
    t.domain = user_->domain;
    ++issued_;
    tokens_[t.token] = t;
    return t;
}

void gateway::expire_tokens(time_point now) {
    for (auto& [k, t] : tokens_)
        t.expires_at = std::min(t.expires_at, now);
}

} // namespace taskwatch::sim
