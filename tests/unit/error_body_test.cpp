#include "taskwatch/modelarts/error_body.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <initializer_list>

namespace json = boost::json;
using namespace taskwatch::modelarts;

TEST_CASE("the documented error body with the gateway's request_id") {
    auto e = parse_api_error(
        R"({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information", "request_id": "4b5b3fc0b9e3c4f8"})");
    REQUIRE(e);
    CHECK(*e == api_error_body{"APIGW.0301", "Incorrect IAM authentication information",
                               "4b5b3fc0b9e3c4f8"});
}

TEST_CASE("a ModelArts error body without request_id") {
    auto e = parse_api_error(
        R"({"error_code": "ModelArts.4338", "error_msg": "The task does not exist."})");
    REQUIRE(e);
    CHECK(*e == api_error_body{"ModelArts.4338", "The task does not exist.", ""});
}

TEST_CASE("camelCase errorCode/errorMsg with requestId") {
    auto e = parse_api_error(
        R"({"errorCode": "ModelArts.0202", "errorMsg": "token expired", "requestId": "r-1"})");
    REQUIRE(e);
    CHECK(*e == api_error_body{"ModelArts.0202", "token expired", "r-1"});
}

TEST_CASE("code/message") {
    auto e = parse_api_error(
        R"({"code": "APIG.0308", "message": "The throttling threshold has been reached"})");
    REQUIRE(e);
    CHECK(*e == api_error_body{"APIG.0308", "The throttling threshold has been reached", ""});
}

TEST_CASE("a nested error object in its spellings") {
    SUBCASE("code/message") {
        auto e = parse_api_error(
            R"({"error": {"code": "APIGW.0101", "message": "The API does not exist", "request_id": "r-2"}})");
        REQUIRE(e);
        CHECK(*e == api_error_body{"APIGW.0101", "The API does not exist", "r-2"});
    }
    SUBCASE("error_code/error_msg") {
        auto e = parse_api_error(
            R"({"error": {"error_code": "ModelArts.4352", "error_msg": "Dataset not found", "requestId": "r-3"}})");
        REQUIRE(e);
        CHECK(*e == api_error_body{"ModelArts.4352", "Dataset not found", "r-3"});
    }
    SUBCASE("request_id beside the nested object") {
        auto e = parse_api_error(
            R"({"error": {"code": "ModelArts.0010", "message": "internal"}, "request_id": "r-4"})");
        REQUIRE(e);
        CHECK(*e == api_error_body{"ModelArts.0010", "internal", "r-4"});
    }
    SUBCASE("IAM's numeric code") {
        auto e = parse_api_error(
            R"({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})");
        REQUIRE(e);
        CHECK(*e ==
              api_error_body{"401", "The request you have made requires authentication.", ""});
    }
}

TEST_CASE("only a code or only a message is still an error body") {
    auto c = parse_api_error(R"({"error_code": "ModelArts.2799"})");
    REQUIRE(c);
    CHECK(*c == api_error_body{"ModelArts.2799", "", ""});
    auto m = parse_api_error(R"({"error_msg": "Too many requests"})");
    REQUIRE(m);
    CHECK(*m == api_error_body{"", "Too many requests", ""});
}

TEST_CASE("the documented spelling wins when a body has several") {
    auto e = parse_api_error(
        R"({"code": "X.1", "error_code": "ModelArts.4612", "message": "m2", "error_msg": "m1"})");
    REQUIRE(e);
    CHECK(e->error_code == "ModelArts.4612");
    CHECK(e->error_msg == "m1");
    // An empty spelling does not hide a filled one.
    auto f = parse_api_error(
        R"({"error_code": "", "code": "APIGW.0301", "error_msg": "", "message": "bad sig"})");
    REQUIRE(f);
    CHECK(*f == api_error_body{"APIGW.0301", "bad sig", ""});
}

TEST_CASE("bodies that carry no error give nullopt") {
    CHECK_FALSE(parse_api_error(""));
    CHECK_FALSE(parse_api_error("<html><body>502 Bad Gateway</body></html>"));
    CHECK_FALSE(parse_api_error(R"({"error_code": "APIGW.0301")")); // truncated
    CHECK_FALSE(parse_api_error("[]"));
    CHECK_FALSE(parse_api_error("\"error\""));
    CHECK_FALSE(parse_api_error("{}"));
    CHECK_FALSE(parse_api_error(R"({"request_id": "r-5"})"));
    CHECK_FALSE(parse_api_error(R"({"error": "invalid"})"));
    CHECK_FALSE(parse_api_error(R"({"error": {}})"));
    CHECK_FALSE(parse_api_error(R"({"error_code": null, "error_msg": ["x"], "code": {}})"));
}

TEST_CASE("a parsed JSON value is accepted as well") {
    auto e =
        parse_api_error(json::parse(R"({"errorCode": "ModelArts.0108", "errorMsg": "forbidden"})"));
    REQUIRE(e);
    CHECK(*e == api_error_body{"ModelArts.0108", "forbidden", ""});
}

namespace {

// error_code_is(code, wanted) must be `matches`.
struct code_match {
    const char* code;
    const char* wanted;
    bool matches;
};

void check_matches(std::initializer_list<code_match> cases) {
    for (const auto& c : cases) {
        CAPTURE(c.code);
        CAPTURE(c.wanted);
        CHECK(error_code_is(c.code, c.wanted) == c.matches);
    }
}

} // namespace

TEST_CASE("gateway codes match across the APIGW and APIG prefixes") {
    check_matches({
        {"APIG.0308", "APIGW.0308", true},
        {"APIGW.0308", "APIG.0308", true},
        {"APIGW.0301", "APIGW.0301", true},
        {"APIG.0301", "0301", true},
        {"APIGW.0101", "0101", true},
        {"APIGW.0301", "APIGW.0308", false},
        {"APIGW.0301", "0308", false},
        {"ModelArts.0301", "APIGW.0301", false},
        {"ModelArts.0301", "0301", false}, // a bare suffix names a gateway code
        {"APIGW.03011", "APIGW.0301", false},
        {"", "APIGW.0301", false},
    });
}

TEST_CASE("other codes match only themselves") {
    check_matches({
        {"ModelArts.4338", "ModelArts.4338", true},
        {"ModelArts.4338", "ModelArts.4352", false},
        {"ModelArts.43380", "ModelArts.4338", false},
        {"XModelArts.4338", "ModelArts.4338", false},
        {"APIGW.4338", "ModelArts.4338", false},
        {"ModelArts.4338", "4338", false},
    });
}
