#include "taskwatch/modelarts/api_error.hpp"

#include "taskwatch/modelarts/error_body.hpp"

#include <boost/beast/http/field.hpp>

#include <charconv>
#include <ctime>

namespace taskwatch::modelarts {

std::string_view to_string(error_kind k) {
    return detail::name_in(error_kind_names, k, "io");
}

bool api_error::is_transport() const noexcept {
    switch (kind) {
    case error_kind::dns:
    case error_kind::connect:
    case error_kind::proxy:
    case error_kind::tls:
    case error_kind::timeout:
    case error_kind::io:
    case error_kind::protocol:
    case error_kind::body_too_large:
    case error_kind::cancelled:
        return true;
    default:
        return false;
    }
}

std::string api_error::to_string() const {
    std::string out(modelarts::to_string(kind));
    out += ':';
    if (http_status != 0) out += " HTTP " + std::to_string(http_status);
    // IAM puts the HTTP status in its code ({"error":{"code":401,...}}): say it once.
    if (!error_code.empty() && error_code != std::to_string(http_status)) out += " " + error_code;
    if (!error_msg.empty()) {
        out += " \"";
        for (char c : error_msg)
            out.push_back(c == '\n' || c == '\r' ? ' ' : c);
        out += '"';
    }
    if (!detail.empty()) out += " " + detail;
    if (retry_after) out += " (retry after " + std::to_string(retry_after->count()) + "ms)";
    if (!request_id.empty()) out += " (request_id " + request_id + ")";
    return out;
}

api_error from_auth_error(const auth::auth_error& e) {
    using kind = auth::auth_error::kind;
    if (e.what == kind::transport && e.transport) return from_transport(*e.transport);
    if (e.what == kind::rejected && e.response) {
        auto out = classify_response(*e.response);
        if (out.detail.empty()) out.detail = "from IAM";
        return out;
    }
    api_error out;
    out.kind = e.what == kind::malformed ? error_kind::malformed : error_kind::client_error;
    out.detail = e.detail;
    return out;
}

api_error from_transport(const http::transport_error& e) {
    api_error out;
    switch (e.kind) {
    case http::failure::dns:
        out.kind = error_kind::dns;
        break;
    case http::failure::connect:
        out.kind = error_kind::connect;
        break;
    case http::failure::proxy:
        out.kind = error_kind::proxy;
        break;
    case http::failure::tls:
        out.kind = error_kind::tls;
        break;
    case http::failure::timeout:
        out.kind = error_kind::timeout;
        break;
    case http::failure::io:
        out.kind = error_kind::io;
        break;
    case http::failure::protocol:
        out.kind = error_kind::protocol;
        break;
    case http::failure::body_too_large:
        out.kind = error_kind::body_too_large;
        break;
    case http::failure::cancelled:
        out.kind = error_kind::cancelled;
        break;
    }
    out.detail = e.message;
    return out;
}

std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) {
    while (!v.empty() && v.front() == ' ')
        v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ')
        v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    double secs = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
    if (ec == std::errc{} && p == v.data() + v.size()) {
        if (!(secs >= 0 && secs <= 86400)) return std::nullopt; // NaN too
        return std::chrono::milliseconds(static_cast<long long>(secs * 1000));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    std::tm tm{};
    std::string s(v);
    if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
    // Compared in seconds first: a date centuries away would overflow system_clock.
    const std::time_t when_s = timegm(&tm);
    const std::time_t now_s = std::chrono::system_clock::to_time_t(now);
    if (when_s < now_s) return std::chrono::milliseconds(0);
    if (when_s - now_s > 86400 + 1) return std::nullopt;
    auto when = std::chrono::system_clock::from_time_t(when_s);
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
    if (d.count() < 0) return std::chrono::milliseconds(0);
    if (d > std::chrono::hours(24)) return std::nullopt;
    return d;
}

namespace {

bool code_in(std::string_view code, std::initializer_list<std::string_view> codes) {
    for (auto c : codes)
        if (error_code_is(code, c)) return true;
    return false;
}

// A redirect's target for a log line: no query or fragment (a signed URL or a ticket may be
// in them), nothing unprintable, at most 200 characters.
std::string redirect_target(std::string_view location) {
    constexpr std::size_t max_chars = 200;
    location = location.substr(0, location.find_first_of("?#"));
    std::string out;
    for (char ch : location.substr(0, max_chars)) {
        const auto c = static_cast<unsigned char>(ch);
        out.push_back(c <= 0x20 || c >= 0x7f ? '?' : ch);
    }
    if (location.size() > max_chars) out += "...";
    return out;
}

} // namespace

api_error classify_response(const http::response& res) {
    api_error out;
    out.http_status = res.status;
    if (auto body = parse_api_error(res.body)) {
        out.error_code = std::move(body->error_code);
        out.error_msg = std::move(body->error_msg);
        out.request_id = std::move(body->request_id);
    } else if (!res.body.empty()) {
        // Not an error body we know: keep a short, printable prefix of it.
        std::string raw = res.body.substr(0, 200);
        for (auto& c : raw)
            if (static_cast<unsigned char>(c) < 0x20) c = ' ';
        out.detail = "body: " + raw;
    }
    if (res.status >= 300 && res.status < 400 && res.status != 304) {
        // The client follows no redirect: ModelArts and IAM do not send them, and a signed
        // request must not go to a host nobody configured. Say where it pointed.
        auto it = res.headers.find(boost::beast::http::field::location);
        out.detail = it == res.headers.end() || it->value().empty()
                         ? "redirect without a Location, not followed"
                         : "redirect to " + redirect_target(it->value()) + ", not followed";
    }
    if (out.request_id.empty()) {
        if (auto it = res.headers.find("X-Request-Id"); it != res.headers.end())
            out.request_id = std::string(it->value());
    }
    if (auto it = res.headers.find(boost::beast::http::field::retry_after); it != res.headers.end())
        out.retry_after = parse_retry_after(it->value(), std::chrono::system_clock::now());

    const auto& code = out.error_code;
    if (res.status == 429 ||
        code_in(code, {"APIGW.0308", "ModelArts.2799", "ModelArts.4206", "ModelArts.6101"}))
        out.kind = error_kind::throttled;
    else if (res.status == 401 || res.status == 403)
        out.kind = error_kind::auth;
    else if (res.status == 404 ||
             (res.status == 400 && code_in(code, {"ModelArts.4338", "ModelArts.4352",
                                                  "ModelArts.4612", "ModelArts.4700"})))
        out.kind = error_kind::not_found;
    else if (res.status >= 500)
        out.kind = error_kind::server_error;
    else
        out.kind = error_kind::client_error;
    return out;
}

bool is_token_rejection(const api_error& e) {
    if (e.http_status != 401) return false;
    return e.error_code.empty() ||
           code_in(e.error_code, {"APIGW.0301", "ModelArts.0201", "ModelArts.0202", "APIGW.0307",
                                  "ModelArts.4127"});
}

} // namespace taskwatch::modelarts
