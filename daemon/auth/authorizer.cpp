#include "taskwatch/auth/authorizer.hpp"

#include "taskwatch/auth/signer.hpp"
#include "taskwatch/detail/percent.hpp"
#include "taskwatch/log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

namespace taskwatch::auth {
using detail::percent_decode;
using detail::secret;
namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::system_clock;

namespace {

/// Bytes of an IAM error body kept for the error (they are short; the rest is cut).
constexpr std::size_t max_kept_body = 64u << 10;

clock_fn or_system(clock_fn c) {
    if (c) return c;
    return [] { return system_clock::now(); };
}

// Splits an encoded target into the decoded path and query pairs the signer wants.
void split_target(std::string_view target, std::string& path, query_params& query) {
    auto q = target.find('?');
    auto raw_path = target.substr(0, q);
    if (raw_path.find('%') == std::string_view::npos)
        path.assign(raw_path); // nothing to decode: into the reused buffer
    else
        path = percent_decode(raw_path).value_or(std::string(raw_path));
    query.clear();
    if (q == std::string_view::npos) return;
    detail::for_each_query_pair(target.substr(q + 1), [&](std::string_view k, std::string_view v) {
        query.emplace_back(percent_decode(k).value_or(std::string(k)),
                           percent_decode(v).value_or(std::string(v)));
        return true;
    });
}

class aksk_authorizer final : public authorizer {
public:
    aksk_authorizer(aksk_credentials creds, clock_fn clock)
        : creds_(std::move(creds))
        , clock_(or_system(std::move(clock))) {}

    asio::awaitable<expected<authorization_ticket, auth_error>>
    async_authorize(http::request& req, const http::endpoint& ep, std::string project_id) override {
        sign_into(req, ep, project_id);
        co_return authorization_ticket{0};
    }

    bool invalidate(authorization_ticket) override { return false; }
    std::string_view scheme() const noexcept override { return "aksk"; }

private:
    void sign_into(http::request& req, const http::endpoint& ep, const std::string& project_id) {
        // The same headers Huawei's SDKs send and sign.
        bool has_type = false;
        for (const auto& [k, v] : req.headers)
            if (k.size() == 12 && (k[0] == 'c' || k[0] == 'C') &&
                std::equal(k.begin(), k.end(), "content-type",
                           [](char a, char b) { return (a >= 'A' && a <= 'Z' ? a + 32 : a) == b; }))
                has_type = true;
        if (!has_type) req.headers.emplace_back("Content-Type", "application/json");
        if (!project_id.empty()) req.headers.emplace_back("X-Project-Id", project_id);
        if (creds_.security_token)
            req.headers.emplace_back("X-Security-Token",
                                     std::string(creds_.security_token->reveal()));

        split_target(req.target, path_, query_);
        full_path_.assign(ep.base_path);
        full_path_ += path_;
        // Formatted once a second rather than per request (gmtime_r and strftime).
        const auto second = std::chrono::floor<std::chrono::seconds>(clock_());
        if (second != date_of_ || date_.empty()) {
            date_of_ = second;
            date_ = format_sdk_date(second);
        }
        if (ep.host != host_of_ || ep.port != port_of_ || ep.scheme != scheme_of_) {
            host_of_ = ep.host;
            port_of_ = ep.port;
            scheme_of_ = ep.scheme;
            host_ = ep.host_header();
        }
        sign_request sr{boost::beast::http::to_string(req.method),
                        host_,
                        full_path_,
                        &query_,
                        &req.headers,
                        req.body,
                        date_};
        auto authorization = sign_authorization(sr, creds_.access_key, creds_.secret_key.reveal());
        req.headers.emplace_back("X-Sdk-Date", date_);
        req.headers.emplace_back("Authorization", std::move(authorization));
    }

    aksk_credentials creds_;
    clock_fn clock_;
    // Scratch reused between requests (a request allocates none of them).
    query_params query_;
    std::string path_, full_path_;
    std::string host_;                // ep.host_header() of the last endpoint signed for
    std::string host_of_, scheme_of_; // that endpoint's host, port and scheme
    std::uint16_t port_of_ = 0;
    std::string date_; // X-Sdk-Date of date_of_
    std::chrono::system_clock::time_point date_of_{};
};

// "2026-12-01T05:00:00.000000Z" or with an offset "+08:00".
std::optional<system_clock::time_point> parse_iso8601(std::string_view s) {
    int y, mo, d, h, mi, se;
    std::string str(s);
    int consumed = 0;
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se,
                    &consumed) != 6)
        return std::nullopt;
    auto rest = std::string_view(str).substr(static_cast<std::size_t>(consumed));
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9')
            rest.remove_prefix(1);
    }
    int offset_min = 0;
    if (rest == "Z" || rest == "z") {
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        int oh = (rest[1] - '0') * 10 + (rest[2] - '0');
        int om = (rest[4] - '0') * 10 + (rest[5] - '0');
        offset_min = (oh * 60 + om) * (rest[0] == '-' ? -1 : 1);
    } else {
        return std::nullopt;
    }
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se} - minutes{offset_min};
}

class token_authorizer final : public authorizer {
public:
    token_authorizer(http::client& client, token_credentials creds, clock_fn clock)
        : client_(client)
        , creds_(std::move(creds))
        , clock_(or_system(std::move(clock))) {}

    asio::awaitable<expected<authorization_ticket, auth_error>>
    async_authorize(http::request& req, const http::endpoint&, std::string project_id) override {
        auto& slot = slots_[project_id];
        for (;;) {
            auto now = clock_();
            if (!slot.token.empty() && now < slot.refresh_at) break;
            if (slot.inflight) {
                // Someone is already asking IAM: wait for that answer instead of asking again.
                auto st = slot.inflight;
                if (!slot.token.empty() && now < slot.expires_at) break; // old one still good
                co_await st->done.async_wait(asio::as_tuple(asio::use_awaitable));
                if (!slot.token.empty()) continue;
                if (st->error) co_return unexpected(*st->error);
                continue;
            }
            if (slot.last_error && now < slot.retry_not_before) {
                // IAM failed a moment ago: do not hammer it (accounts lock on repeated failures).
                if (!slot.token.empty() && now < slot.expires_at) break;
                co_return unexpected(*slot.last_error);
            }
            auto st = std::make_shared<refresh>(co_await asio::this_coro::executor);
            slot.inflight = st;
            auto result = co_await async_request_token(project_id);
            auto& s = slots_[project_id]; // the map may have grown meanwhile
            s.inflight.reset();
            if (result) {
                s.token = std::move(result->token);
                s.expires_at = result->expires_at;
                auto lifetime = result->expires_at - clock_();
                auto margin = std::min<system_clock::duration>(std::chrono::hours(1), lifetime / 5);
                s.refresh_at = result->expires_at - margin;
                s.generation = ++generation_;
                s.last_error.reset();
                s.backoff = std::chrono::seconds(0);
                log::info("obtained IAM token", {{"project_id", project_id}});
            } else {
                ++stats_.refreshes_failed;
                st->error = result.error();
                s.last_error = result.error();
                s.backoff = std::clamp<std::chrono::seconds>(s.backoff * 2, std::chrono::seconds(5),
                                                             std::chrono::seconds(300));
                s.retry_not_before = clock_() + s.backoff;
                log::warn("IAM token request failed",
                          {{"project_id", project_id}, {"error", result.error().to_string()}});
            }
            st->done.cancel();
            if (!result && (s.token.empty() || clock_() >= s.expires_at))
                co_return unexpected(std::move(*st->error));
            if (!result) break;
        }
        auto& s = slots_[project_id];
        req.headers.emplace_back("X-Auth-Token", std::string(s.token.reveal()));
        if (!project_id.empty()) req.headers.emplace_back("X-Project-Id", project_id);
        co_return authorization_ticket{s.generation};
    }

    bool invalidate(authorization_ticket ticket) override {
        for (auto& [project, slot] : slots_) {
            if (slot.generation == ticket.generation && !slot.token.empty()) {
                slot.token = secret();
                return true;
            }
        }
        // A newer token exists (or is being fetched): a retry will use it.
        return ticket.generation != 0;
    }

    std::string_view scheme() const noexcept override { return "token"; }
    token_stats stats() const { return stats_; }

private:
    struct refresh {
        explicit refresh(asio::any_io_executor ex)
            : done(ex, asio::steady_timer::time_point::max()) {}
        asio::steady_timer done; // cancelled when the answer is in
        std::optional<auth_error> error;
    };
    struct slot_t {
        secret token;
        system_clock::time_point expires_at{}, refresh_at{}, retry_not_before{};
        std::uint64_t generation = 0;
        std::shared_ptr<refresh> inflight;
        std::optional<auth_error> last_error;
        std::chrono::seconds backoff{0};
    };
    struct issued {
        secret token;
        system_clock::time_point expires_at;
    };

    asio::awaitable<expected<issued, auth_error>> async_request_token(std::string project_id) {
        ++stats_.token_requests;
        json::object user{{"name", creds_.user_name},
                          {"password", json::string(creds_.password.reveal())},
                          {"domain", json::object{{"name", creds_.domain_name}}}};
        json::object identity{{"methods", json::array{"password"}},
                              {"password", json::object{{"user", std::move(user)}}}};
        json::object scope;
        if (project_id.empty())
            scope["domain"] = json::object{{"name", creds_.domain_name}};
        else
            scope["project"] = json::object{{"id", project_id}};
        json::object auth_obj{{"identity", std::move(identity)}, {"scope", std::move(scope)}};
        json::object body{{"auth", std::move(auth_obj)}};
        http::request req;
        req.method = boost::beast::http::verb::post;
        req.target = "/v3/auth/tokens";
        req.headers.emplace_back("Content-Type", "application/json;charset=utf8");
        req.body = json::serialize(body);
        auto res = co_await client_.async_send(creds_.iam_endpoint, std::move(req));
        // The request body held the password: it is gone with `req`; nothing of it is logged.
        if (!res) {
            auth_error e;
            e.what = auth_error::kind::transport;
            e.transport = std::move(res.error());
            co_return unexpected(std::move(e));
        }
        if (res->status != 201 && res->status != 200) {
            auth_error e;
            e.what = auth_error::kind::rejected;
            // An error body is short; a huge one is cut rather than kept while backing off.
            if (res->body.size() > max_kept_body) res->body.resize(max_kept_body);
            e.response = std::move(*res);
            co_return unexpected(std::move(e));
        }
        auto malformed = [](std::string why) {
            auth_error e;
            e.what = auth_error::kind::malformed;
            e.detail = "IAM token response: " + std::move(why);
            return e;
        };
        auto it = res->headers.find("X-Subject-Token");
        if (it == res->headers.end() || it->value().empty())
            co_return unexpected(malformed("no X-Subject-Token header"));
        boost::system::error_code ec;
        auto doc = json::parse(res->body, ec);
        const json::value* expires = nullptr;
        if (!ec && doc.is_object())
            if (auto* tok = doc.as_object().if_contains("token"); tok && tok->is_object())
                expires = tok->as_object().if_contains("expires_at");
        if (!expires || !expires->is_string())
            co_return unexpected(malformed("no token.expires_at"));
        auto when = parse_iso8601(expires->as_string());
        if (!when) co_return unexpected(malformed("bad token.expires_at"));
        co_return issued{secret(std::string(it->value())), *when};
    }

    http::client& client_;
    token_credentials creds_;
    clock_fn clock_;
    std::map<std::string, slot_t> slots_;
    std::uint64_t generation_ = 0;
    token_stats stats_;
};

} // namespace

std::unique_ptr<authorizer> make_aksk_authorizer(aksk_credentials creds, clock_fn clock) {
    return std::make_unique<aksk_authorizer>(std::move(creds), std::move(clock));
}

std::unique_ptr<authorizer> make_token_authorizer(http::client& client, token_credentials creds,
                                                  clock_fn clock) {
    return std::make_unique<token_authorizer>(client, std::move(creds), std::move(clock));
}

token_stats stats_of(const authorizer& a) {
    if (auto* t = dynamic_cast<const token_authorizer*>(&a)) return t->stats();
    return {};
}

} // namespace taskwatch::auth
