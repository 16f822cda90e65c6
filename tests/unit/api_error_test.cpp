#include "taskwatch/modelarts/api_client.hpp"
#include "taskwatch/modelarts/api_error.hpp"

#include <doctest/doctest.h>

using namespace taskwatch;
using namespace taskwatch::modelarts;
using namespace std::chrono_literals;

namespace {
http::response make(unsigned status, std::string body,
                    std::initializer_list<std::pair<const char*, const char*>> headers = {}) {
    http::response r;
    r.status = status;
    r.body = std::move(body);
    for (auto [k, v] : headers)
        r.headers.set(k, v);
    return r;
}
} // namespace

TEST_CASE("a 401 with APIGW.0301 is an auth failure with its request id") {
    auto e = classify_response(make(
        401,
        R"({"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r-1"})"));
    CHECK(e.kind == error_kind::auth);
    CHECK(e.http_status == 401);
    CHECK(e.error_code == "APIGW.0301");
    CHECK(e.request_id == "r-1");
    CHECK(is_token_rejection(e));
    CHECK(
        e.to_string() ==
        R"(auth: HTTP 401 APIGW.0301 "Incorrect IAM authentication information" (request_id r-1))");
}

TEST_CASE("429 with Retry-After is throttled with the delay") {
    auto e = classify_response(
        make(429, R"({"error_code":"APIG.0308","error_msg":"throttled"})", {{"Retry-After", "3"}}));
    CHECK(e.kind == error_kind::throttled);
    REQUIRE(e.retry_after.has_value());
    CHECK(*e.retry_after == 3000ms);
}

TEST_CASE("ModelArts throttling codes are throttled whatever the status") {
    for (auto code : {"ModelArts.2799", "ModelArts.4206", "ModelArts.6101"}) {
        auto e = classify_response(
            make(400, std::string(R"({"error_code":")") + code + R"(","error_msg":"busy"})"));
        CHECK(e.kind == error_kind::throttled);
        CHECK_FALSE(e.retry_after.has_value());
    }
}

TEST_CASE("ModelArts 400 not-found codes and 404 are not_found") {
    for (auto code : {"ModelArts.4338", "ModelArts.4352", "ModelArts.4612", "ModelArts.4700"}) {
        auto e = classify_response(
            make(400, std::string(R"({"error_code":")") + code + R"(","error_msg":"gone"})"));
        CHECK(e.kind == error_kind::not_found);
    }
    CHECK(classify_response(make(404, "")).kind == error_kind::not_found);
    CHECK(
        classify_response(make(400, R"({"error_code":"ModelArts.4101","error_msg":"bad"})")).kind ==
        error_kind::client_error);
}

TEST_CASE("5xx is server_error, the X-Request-Id header stands in for a missing request_id") {
    auto e = classify_response(make(503, "<html>Service Unavailable</html>",
                                    {{"X-Request-Id", "hdr-9"}, {"Retry-After", "1.5"}}));
    CHECK(e.kind == error_kind::server_error);
    CHECK(e.request_id == "hdr-9");
    CHECK(e.detail == "body: <html>Service Unavailable</html>");
    REQUIRE(e.retry_after.has_value());
    CHECK(*e.retry_after == 1500ms);
}

TEST_CASE("nested and camel-case error bodies are read") {
    auto e = classify_response(
        make(403, R"({"error":{"code":"ModelArts.0210","message":"project mismatch"}})"));
    CHECK(e.kind == error_kind::auth);
    CHECK(e.error_code == "ModelArts.0210");
    CHECK(e.error_msg == "project mismatch");
    auto f =
        classify_response(make(500, R"({"errorCode":"ModelArts.0010","errorMsg":"internal"})"));
    CHECK(f.kind == error_kind::server_error);
    CHECK(f.error_code == "ModelArts.0010");
}

TEST_CASE("Retry-After as an HTTP date is relative to now") {
    auto now = std::chrono::system_clock::from_time_t(784111777); // Sun, 06 Nov 1994 08:49:37 GMT
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now) == std::optional(10000ms));
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now) == std::optional(0ms));
    CHECK_FALSE(parse_retry_after("soon", now).has_value());
    CHECK_FALSE(parse_retry_after("-1", now).has_value());
}

TEST_CASE("Retry-After that is not a delay the client can wait is ignored") {
    // fuzz_error_body found a date in 9914, which overflowed system_clock (undefined) and read
    // as "retry now"; "nan" passed the range check and reached a cast to an integer (undefined).
    auto now = std::chrono::system_clock::from_time_t(784111777); // Sun, 06 Nov 1994 08:49:37 GMT
    CHECK_FALSE(parse_retry_after("nan", now).has_value());
    CHECK_FALSE(parse_retry_after("-nan", now).has_value());
    CHECK_FALSE(parse_retry_after("inf", now).has_value());
    CHECK_FALSE(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).has_value());
}

TEST_CASE("transport failures map onto error kinds") {
    CHECK(from_transport({http::failure::tls, "certificate verify failed"}).kind ==
          error_kind::tls);
    CHECK(from_transport({http::failure::timeout, "x"}).kind == error_kind::timeout);
    CHECK(from_transport({http::failure::timeout, "x"}).is_transport());
    CHECK(from_transport({http::failure::dns, "x"}).to_string() == "dns: x");
}

TEST_CASE("each transport failure becomes the error kind of the same name") {
    for (const auto& [f, bound_name] : http::failure_names) {
        const std::string_view name = bound_name; // clang 14: no structured binding in CAPTURE
        CAPTURE(name);
        auto e = from_transport({f, "x"});
        CHECK(to_string(e.kind) == name);
        CHECK(e.is_transport());
    }
}

TEST_CASE("every error kind has one name, which reads back to it: the reason label values") {
    // The `reason` values of taskwatch_poll_failures_total, each exported from zero: a change
    // here is a change of the exported series.
    const std::vector<std::string_view> reasons{
        "dns",       "connect",   "proxy",          "tls",          "timeout",
        "io",        "protocol",  "body_too_large", "cancelled",    "auth",
        "throttled", "not_found", "client_error",   "server_error", "malformed"};
    REQUIRE(std::size(error_kind_names) == reasons.size());
    for (std::size_t i = 0; i < reasons.size(); ++i) {
        const auto [kind, bound_name] = error_kind_names[i];
        const std::string_view name = bound_name; // clang 14: no structured binding in CAPTURE
        CAPTURE(name);
        CHECK(name == reasons[i]);
        CHECK(to_string(kind) == name);
        CHECK(detail::value_in(error_kind_names, name) == kind);
    }
    CHECK_FALSE(detail::value_in(error_kind_names, "Auth").has_value());
}

TEST_CASE("task paths and list queries are encoded and in canonical order") {
    CHECK(task_path("p1", "d 1", "t/1") == "/v2/p1/datasets/d%201/tasks/t%2F1");
    CHECK(list_tasks_target("p", "d", std::nullopt, 100, 0) ==
          "/v2/p/datasets/d/tasks?limit=100&offset=0");
    CHECK(list_tasks_target("p", "d", std::string_view("pre-label"), 100, 200) ==
          "/v2/p/datasets/d/tasks?limit=100&offset=200&type=pre-label");
}

TEST_CASE(
    "a redirect is a client_error that says where it pointed, query cut, and is not followed") {
    auto e = classify_response(
        make(302, "", {{"Location", "https://iam.example.com/v3/auth?token=s3cr3t&x=1#frag"}}));
    CHECK(e.kind == error_kind::client_error);
    CHECK(e.to_string() == "client_error: HTTP 302 redirect to https://iam.example.com/v3/auth, "
                           "not followed");
    auto bare = classify_response(make(301, "<html>moved</html>"));
    CHECK(bare.kind == error_kind::client_error);
    CHECK(bare.to_string() == "client_error: HTTP 301 redirect without a Location, not followed");
    // A long or unprintable Location is cut and cleaned: the result stays one short line.
    auto odd = classify_response(
        make(307, "", {{"Location", ("/x\x01" + std::string(1000, 'a')).c_str()}}));
    CHECK(odd.to_string().find('\x01') == std::string::npos);
    CHECK(odd.to_string().size() < 300);
}
