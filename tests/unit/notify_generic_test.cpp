// notify's generic format: the contract's body and Standard Webhooks 1.0 signatures.
#include "taskwatch/notify/format.hpp"

#include "support/openssl_cli.hpp"

#include "taskwatch/detail/base64.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace taskwatch;
namespace json = boost::json;

namespace {

using namespace std::chrono_literals;

// The contract's example: a running task at 42 % fails.
task::event contract_example() {
    task::event e;
    e.id = "evt_0123456789abcdef0123456789abcdef";
    e.type = task::event_type::status_changed;
    e.time =
        task::time_point(std::chrono::sys_days(std::chrono::year{2026} / 11 / 30) + 4h + 250ms);
    e.key = {"proj", "ds1", "task7"};
    e.task_name = "cats";
    e.previous = task::snapshot{};
    e.previous->status = modelarts::task_status::running;
    e.previous->progress = 0.42;
    e.current = task::snapshot{};
    e.current->status = modelarts::task_status::failed;
    e.current->progress = 0.42;
    e.current->code = "ModelArts.4500";
    e.current->message = "worker lost";
    e.current->error_code = "ModelArts.4501";
    e.current->error_msg = "out of memory";
    e.current->total_sample_count = 49;
    e.current->annotated_sample_count = 30;
    return e;
}

const std::string_view header(const notify::request& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    FAIL("no header " << name);
    return {};
}

} // namespace

TEST_CASE("the Standard Webhooks signature reproduces the spec's published example") {
    // The reference libraries' test vector (standard-webhooks / svix sign tests).
    CHECK(notify::standard_webhooks_signature(
              "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
              R"({"test": 2432232314})") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("a secret without whsec_ signs with its bytes as written, as openssl computes it") {
    const std::string secret = "plain-secret/with+bytes=";
    const std::string body = R"({"a":"b"})";
    CHECK(notify::standard_webhooks_signature(secret, "evt_1", 1700000000, body) ==
          "v1," + test::openssl_hmac_sha256_base64(secret, "evt_1.1700000000." + body));
}

TEST_CASE("several secrets sign once each, space-separated, in the order written") {
    const std::string body = "{}";
    const auto whsec_key = *detail::base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const auto sigs = notify::standard_webhooks_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw  rawkey", "evt_2", 42, body);
    CHECK(sigs == "v1," + test::openssl_hmac_sha256_base64(whsec_key, "evt_2.42." + body) + " v1," +
                      test::openssl_hmac_sha256_base64("rawkey", "evt_2.42." + body));
}

TEST_CASE("the generic body has the contract's example shape") {
    notify::event_context c;
    c.labels = {{"team", "vision"}};
    c.link = "https://watch.example/tasks/ds1/task7";
    const auto body = json::parse(notify::generic_body(contract_example(), c));
    const auto expected = json::parse(R"({
        "id": "evt_0123456789abcdef0123456789abcdef", "type": "task.status_changed",
        "time": "2026-11-30T04:00:00Z",
        "task": {"project_id": "proj", "dataset_id": "ds1", "task_id": "task7",
                 "task_name": "cats", "labels": {"team": "vision"}},
        "previous": {"status": "running", "status_code": 1, "progress": 0.42,
                     "code": "", "message": "", "error_code": "", "error_msg": "",
                     "result": {"total_sample_count": null, "annotated_sample_count": null,
                                "unconfirmed_sample_count": null}},
        "current": {"status": "failed", "status_code": 2, "progress": 0.42,
                    "code": "ModelArts.4500", "message": "worker lost",
                    "error_code": "ModelArts.4501", "error_msg": "out of memory",
                    "result": {"total_sample_count": 49, "annotated_sample_count": 30,
                               "unconfirmed_sample_count": null}}})");
    CHECK(json::serialize(body) == json::serialize(expected));
}

TEST_CASE("a discovered task has a null previous - poll_failing carries the poll's error") {
    auto e = contract_example();
    e.type = task::event_type::discovered;
    e.previous.reset();
    auto body = json::parse(notify::generic_body(e, {})).as_object();
    CHECK(body.at("previous").is_null());
    CHECK(body.at("task").at("labels") == json::object{});
    CHECK_FALSE(body.contains("error"));

    e.type = task::event_type::poll_failing;
    e.current.reset();
    e.error = task::poll_error{"auth", "APIGW.0301", "token expired", "req-9"};
    body = json::parse(notify::generic_body(e, {})).as_object();
    CHECK(body.at("type") == "task.poll_failing");
    CHECK(body.at("current").is_null());
    CHECK(body.at("error") == json::parse(R"({"reason":"auth","error_code":"APIGW.0301",
        "error_msg":"token expired","request_id":"req-9"})"));
}

TEST_CASE("a status code outside the API's table is \"unknown\" with its code") {
    auto e = contract_example();
    e.current->status = static_cast<modelarts::task_status>(17);
    e.current->progress.reset();
    const auto body = json::parse(notify::generic_body(e, {}));
    CHECK(body.at("current").at("status") == "unknown");
    CHECK(body.at("current").at("status_code") == 17);
    CHECK(body.at("current").at("progress").is_null());
}

TEST_CASE("any text from the API survives the body's JSON escaping") {
    auto e = contract_example();
    e.task_name = "a \"quoted\" \\ name\n\twith \x01 control and 中文 ✓";
    e.current->error_msg = std::string("nul\0byte", 8);
    const auto body = json::parse(notify::generic_body(e, {}));
    CHECK(body.at("task").at("task_name").as_string() == e.task_name);
    CHECK(body.at("current").at("error_msg").as_string() == e.current->error_msg);
}

TEST_CASE("the generic request carries webhook-id, webhook-timestamp and a verifiable signature") {
    const auto e = contract_example();
    const auto now = task::time_point(std::chrono::seconds(1764475201) + 900ms);
    const std::string secret = "s3cr3t-value";
    const auto r = notify::generic_request(e, {}, detail::secret(secret), now);
    CHECK(r.content_type == "application/json");
    CHECK(r.query.empty());
    CHECK(r.body == notify::generic_body(e, {}));
    CHECK(header(r, "webhook-id") == e.id);
    CHECK(header(r, "webhook-timestamp") == "1764475201");
    CHECK(header(r, "webhook-signature") ==
          "v1," + test::openssl_hmac_sha256_base64(secret, e.id + ".1764475201." + r.body));
    CHECK(r.body.find(secret) == std::string::npos);
    for (const auto& [k, v] : r.headers)
        CHECK(v.find(secret) == std::string::npos);
}

TEST_CASE("without a secret the generic request has no signature header") {
    const auto r = notify::generic_request(contract_example(), {}, std::nullopt,
                                           task::time_point(std::chrono::seconds(5)));
    CHECK(r.headers.size() == 2);
    for (const auto& [k, v] : r.headers)
        CHECK(k != "webhook-signature");
}
