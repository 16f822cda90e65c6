#include "taskwatch/auth/signer.hpp"
#include "taskwatch/detail/percent.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

namespace json = boost::json;
using namespace taskwatch::auth;

namespace {

json::value load_vectors() {
    std::ifstream in(TASKWATCH_TEST_DATA "/sdk-hmac-sha256.json");
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
}

std::string host_of(std::string_view url) {
    auto start = url.find("://") + 3;
    auto end = url.find('/', start);
    return std::string(url.substr(start, end - start));
}

} // namespace

TEST_CASE("every portable SDK-HMAC-SHA256 vector is reproduced byte for byte") {
    auto doc = load_vectors();
    int checked = 0;
    for (const auto& v : doc.at("vectors").as_array()) {
        if (!v.at("portable").as_bool()) continue;
        const auto& e = v.at("expected").as_object();
        CAPTURE(v.at("name").as_string());
        query_params query;
        for (const auto& kv : v.at("query").as_array())
            query.emplace_back(json::value_to<std::string>(kv.as_array()[0]),
                               json::value_to<std::string>(kv.as_array()[1]));
        header_list headers;
        for (const auto& [k, val] : v.at("headers").as_object())
            headers.emplace_back(std::string(k), json::value_to<std::string>(val));
        auto host = host_of(v.at("url").as_string());
        auto body = json::value_to<std::string>(v.at("body"));
        auto date = json::value_to<std::string>(v.at("date"));
        sign_request req{v.at("method").as_string(),
                         host,
                         v.at("path").as_string(),
                         &query,
                         &headers,
                         body,
                         date};
        auto sig = sign(req, json::value_to<std::string>(v.at("ak")),
                        json::value_to<std::string>(v.at("sk")));
        CHECK(sig.canonical_uri == e.at("canonical_uri").as_string());
        CHECK(sig.canonical_query == e.at("canonical_query_string").as_string());
        CHECK(sig.canonical_headers == e.at("canonical_headers").as_string());
        CHECK(sig.signed_headers == e.at("signed_headers").as_string());
        CHECK(sig.payload_hash == e.at("payload_hash").as_string());
        CHECK(sig.canonical_request == e.at("canonical_request").as_string());
        CHECK(sig.string_to_sign == e.at("string_to_sign").as_string());
        CHECK(sig.signature_hex == e.at("signature").as_string());
        CHECK(sig.authorization == e.at("authorization").as_string());
        CHECK(sig.sdk_date == e.at("x_sdk_date").as_string());
        // The daemon's own path, without intermediate strings, says the same.
        CHECK(sign_authorization(req, json::value_to<std::string>(v.at("ak")),
                                 json::value_to<std::string>(v.at("sk"))) ==
              e.at("authorization").as_string());
        ++checked;
    }
    CHECK(checked == 35);
}

TEST_CASE("percent encoding keeps only unreserved characters") {
    CHECK(taskwatch::detail::percent_encode("a b+c/~*") == "a%20b%2Bc%2F~%2A");
    CHECK(taskwatch::detail::percent_encode("\xc3\xbc") == "%C3%BC");
    CHECK(taskwatch::detail::percent_decode("a%20b%2b") == std::optional<std::string>("a b+"));
    CHECK_FALSE(taskwatch::detail::percent_decode("%2").has_value());
    CHECK_FALSE(taskwatch::detail::percent_decode("%zz").has_value());
    CHECK(encode_path("/v2/p/datasets/a b/tasks/t") == "/v2/p/datasets/a%20b/tasks/t");
    CHECK(canonical_uri("/") == "/");
    CHECK(canonical_uri("/a/") == "/a/");
}

TEST_CASE("X-Sdk-Date formats and parses UTC") {
    auto t = parse_sdk_date("20240115T083000Z");
    REQUIRE(t.has_value());
    CHECK(format_sdk_date(*t) == "20240115T083000Z");
    CHECK_FALSE(parse_sdk_date("2024-01-15T08:30:00Z").has_value());
    CHECK_FALSE(parse_sdk_date("20241315T083000Z").has_value());
}

TEST_CASE("an Authorization header parses into its parts") {
    auto a = parse_authorization("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, "
                                 "Signature=abc");
    REQUIRE(a.has_value());
    CHECK(a->access_key == "AK1");
    CHECK(a->signed_headers == std::vector<std::string>{"host", "x-sdk-date"});
    CHECK(a->signature_hex == "abc");
    CHECK_FALSE(parse_authorization("Bearer x").has_value());
    CHECK_FALSE(parse_authorization("SDK-HMAC-SHA256 Access=AK1").has_value());
}

TEST_CASE("sign_authorization agrees with sign() on requests built to stress it") {
    // Mixed-case, repeated, padded and unsigned-payload headers, odd paths, queries and
    // bodies, with scratch space reused from call to call.
    const std::vector<std::string> paths = {
        "", "/", "/v2/p/datasets/d/tasks/t", "a/b", "/a b/ü/~x/", "//double//slash", "/trailing/"};
    const std::vector<query_params> queries = {
        {}, {{"limit", "100"}, {"offset", "0"}}, {{"b", "2"}, {"a", "x y+z"}, {"a", ""}}};
    const std::vector<header_list> header_sets = {
        {},
        {{"Content-Type", "application/json"}, {"X-Project-Id", "p1"}},
        {{"X-Sdk-Date", " 20261130T120000Z "}, {"HOST", "ignored"}, {"x-b", "\t2"}},
        {{"X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"}, {"X-A", "1"}, {"x-a", "0"}},
        {{"A-Very-Long-Header-Name-That-Outgrows-Small-Buffers", std::string(300, 'v')}},
    };
    const std::vector<std::string> bodies = {"", R"({"k":"v"})", std::string(5000, 'b')};
    int checked = 0;
    for (const auto& path : paths)
        for (const auto& query : queries)
            for (const auto& headers : header_sets)
                for (const auto& body : bodies) {
                    sign_request req{"POST",
                                     "modelarts.example.test:8443",
                                     path,
                                     &query,
                                     &headers,
                                     body,
                                     "20261130T101500Z"};
                    const auto expected = sign(req, "AK123", "secret-key");
                    CAPTURE(path);
                    CAPTURE(body.size());
                    CHECK(sign_authorization(req, "AK123", "secret-key") == expected.authorization);
                    ++checked;
                }
    CHECK(checked == 315);
    const sign_request bare{"GET", "h", "/x", nullptr, nullptr, "", "20261130T101500Z"};
    CHECK(sign_authorization(bare, "AK", "SK") == sign(bare, "AK", "SK").authorization);
}
