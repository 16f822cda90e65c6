// The simulator's gateway checks, its fault rules and replies and its command line, without
// sockets.
#include "taskwatch/auth/signer.hpp"
#include "taskwatch/detail/crypto.hpp"
#include "taskwatch/sim/fault_replies.hpp"
#include "taskwatch/sim/faults.hpp"
#include "taskwatch/sim/gateway.hpp"
#include "taskwatch/sim/options.hpp"

#include <doctest/doctest.h>

#include <set>

#include <boost/json/parse.hpp>

using namespace taskwatch;
using namespace taskwatch::sim;
using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

namespace {

const time_point now = time_point{} + 1700000000s;

gateway make_gateway() {
    std::vector<access_key> keys;
    keys.push_back({"AK1", detail::secret("secret-one"), std::nullopt});
    keys.push_back({"STS1", detail::secret("secret-sts"), detail::secret("session-token")});
    return gateway(std::move(keys), iam_user{"alice", "acme", detail::secret("pw")}, 60s);
}

// A request as a client would send it: signed over the decoded path and query.
http::server_request make_signed(std::string_view ak, std::string_view sk, std::string path,
                                 auth::query_params query = {}, auth::header_list extra = {},
                                 time_point date = now, std::string body = {}) {
    const auto sdk_date = auth::format_sdk_date(date);
    auth::sign_request sr;
    sr.method = "GET";
    sr.host = "sim.local:8443";
    sr.path = path;
    sr.query = &query;
    sr.headers = &extra;
    sr.body = body;
    sr.sdk_date = sdk_date;
    auto sig = auth::sign(sr, ak, sk);
    std::string target = auth::encode_path(path);
    if (!query.empty()) target += "?" + auth::canonical_query_string(query);
    http::server_request req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "sim.local:8443");
    req.set("X-Sdk-Date", sdk_date);
    req.set(bhttp::field::authorization, sig.authorization);
    for (const auto& [k, v] : extra)
        req.set(k, v);
    req.body() = body;
    return req;
}

} // namespace

TEST_CASE(
    "a request signed with a configured AK/SK is accepted, with path escapes and unsorted query") {
    auto g = make_gateway();
    auto ok = g.authenticate(make_signed("AK1", "secret-one", "/v2/p/datasets/d 1/tasks",
                                         {{"limit", "10"}, {"a b", "x+y"}}),
                             now);
    REQUIRE(ok.has_value());
    CHECK(ok->access_key == "AK1");
}

TEST_CASE("a signature over anything else than what was sent is refused as APIGW.0301") {
    auto g = make_gateway();
    auto wrong_sk = g.authenticate(make_signed("AK1", "secret-two", "/v2/p"), now);
    REQUIRE_FALSE(wrong_sk.has_value());
    CHECK(wrong_sk.error().status == 401);
    CHECK(wrong_sk.error().error_code == "APIGW.0301");
    CHECK(wrong_sk.error().error_msg.find("secret") == std::string::npos);

    auto tampered = make_signed("AK1", "secret-one", "/v2/p/datasets/d/tasks/t1");
    tampered.target("/v2/p/datasets/d/tasks/t2");
    CHECK_FALSE(g.authenticate(tampered, now).has_value());

    auto body_changed = make_signed("AK1", "secret-one", "/v2/p", {}, {}, now, "{}");
    body_changed.body() = "{\"x\":1}";
    CHECK_FALSE(g.authenticate(body_changed, now).has_value());

    CHECK_FALSE(g.authenticate(make_signed("NOPE", "secret-one", "/v2/p"), now).has_value());
}

TEST_CASE("an X-Sdk-Date more than 15 minutes from the server clock is refused either way") {
    auto g = make_gateway();
    CHECK(g.authenticate(make_signed("AK1", "secret-one", "/v2/p", {}, {}, now - 14min), now)
              .has_value());
    CHECK_FALSE(g.authenticate(make_signed("AK1", "secret-one", "/v2/p", {}, {}, now - 16min), now)
                    .has_value());
    auto future =
        g.authenticate(make_signed("AK1", "secret-one", "/v2/p", {}, {}, now + 16min), now);
    REQUIRE_FALSE(future.has_value());
    CHECK(future.error().error_msg.find("15 minutes") != std::string::npos);
}

TEST_CASE("temporary credentials are accepted only with their signed security token") {
    auto g = make_gateway();
    CHECK_FALSE(g.authenticate(make_signed("STS1", "secret-sts", "/v2/p"), now).has_value());
    CHECK(g.authenticate(make_signed("STS1", "secret-sts", "/v2/p", {},
                                     {{"X-Security-Token", "session-token"}}),
                         now)
              .has_value());
    CHECK_FALSE(
        g.authenticate(
             make_signed("STS1", "secret-sts", "/v2/p", {}, {{"X-Security-Token", "other"}}), now)
            .has_value());
}

TEST_CASE("a token is issued for the configured user and refused once expired") {
    auto g = make_gateway();
    const std::string body =
        R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"pw","domain":{"name":"acme"}}}},"scope":{"project":{"id":"p1"}}}})";
    auto t = g.issue_token(body, now);
    REQUIRE(t.has_value());
    CHECK(t->expires_at == now + 60s);
    CHECK(t->project_id == "p1");
    http::server_request req{bhttp::verb::get, "/v2/p1/datasets", 11};
    req.set("X-Auth-Token", t->token);
    auto ok = g.authenticate(req, now + 59s);
    REQUIRE(ok.has_value());
    CHECK(ok->token->project_id == "p1");
    auto expired = g.authenticate(req, now + 60s);
    REQUIRE_FALSE(expired.has_value());
    CHECK(expired.error().error_msg.find("expired") != std::string::npos);

    req.set("X-Auth-Token", "MIIforged");
    CHECK_FALSE(g.authenticate(req, now).has_value());

    auto wrong = g.issue_token(std::string(body).replace(body.find("\"pw\""), 4, "\"no\""), now);
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().status == 401);
    CHECK(wrong.error().iam_style);
    CHECK(g.issue_token("{not json", now).error().status == 400);
}

TEST_CASE("decode_query splits and percent-decodes pairs and rejects bad escapes") {
    auto q = decode_query("limit=10&type=auto-label&name=a%20b&flag");
    REQUIRE(q.has_value());
    REQUIRE(q->size() == 4);
    CHECK((*q)[2].second == "a b");
    CHECK((*q)[3].second.empty());
    CHECK_FALSE(decode_query("a=%zz").has_value());
}

TEST_CASE(
    "fault specs from the command line parse ratios, counts and options, and name what is wrong") {
    auto r = parse_fault_spec("429-retry-after:x3:retry_after=2,path=/tasks/");
    REQUIRE(r.has_value());
    CHECK(r->kind == fault_kind::throttle_retry);
    CHECK(r->remaining == 3);
    CHECK(r->retry_after == 2);
    CHECK(r->path == "/tasks/");
    auto l = parse_fault_spec("latency:0.25:delay=150ms");
    REQUIRE(l.has_value());
    CHECK(l->ratio == doctest::Approx(0.25));
    CHECK(l->delay == 150ms);
    CHECK(parse_fault_spec("teapot:0.1").error().find("teapot") != std::string::npos);
    CHECK(parse_fault_spec("500:1.5").error().find("1.5") != std::string::npos);
    CHECK(parse_fault_spec("500:x0").error().find("x0") != std::string::npos);
    CHECK(parse_fault_spec("500:0.1:color=red").error().find("color") != std::string::npos);
    auto j = parse_fault_json(boost::json::parse(R"({"kind":"hang","count":2,"path":"abc"})"));
    REQUIRE(j.has_value());
    CHECK(j->kind == fault_kind::hang);
    CHECK(j->remaining == 2);
    CHECK_FALSE(parse_fault_json(boost::json::parse(R"({"kind":"hang"})")).has_value());
}

TEST_CASE("forced faults fire exactly N times on matching paths, then the rule is gone") {
    fault_plan plan(1);
    plan.add(*parse_fault_spec("503:x2:path=/tasks/abc"));
    CHECK_FALSE(plan.pick("/v2/p/datasets/d/tasks/xyz").kind.has_value());
    CHECK(plan.pick("/v2/p/datasets/d/tasks/abc").kind == fault_kind::unavailable);
    CHECK(plan.pick("/v2/p/datasets/d/tasks/abc").kind == fault_kind::unavailable);
    CHECK_FALSE(plan.pick("/v2/p/datasets/d/tasks/abc").kind.has_value());
    CHECK(plan.rules().empty());
    CHECK(plan.injected()[static_cast<std::size_t>(fault_kind::unavailable)] == 2);
}

TEST_CASE("latency adds to another fault and ratio rules fire about as often as asked") {
    fault_plan plan(7);
    plan.add(*parse_fault_spec("latency:1:delay=100ms"));
    plan.add(*parse_fault_spec("latency:1:delay=50ms"));
    plan.add(*parse_fault_spec("500:0.3"));
    int fired = 0;
    for (int i = 0; i < 2000; ++i) {
        auto d = plan.pick("/x");
        CHECK(d.delay == 150ms);
        fired += d.kind.has_value();
    }
    CHECK(fired > 500);
    CHECK(fired < 700);
    fault_plan tls(3);
    tls.add(*parse_fault_spec("tls-handshake:x1"));
    CHECK_FALSE(tls.pick("/x").kind.has_value()); // per connection, not per request
    CHECK(tls.pick_handshake_failure());
    CHECK_FALSE(tls.pick_handshake_failure());
}

TEST_CASE("a latency range waits a uniform random time within it for each request, and a "
          "reversed or half-written range is refused") {
    auto r = parse_fault_spec("latency:1:delay=30ms..100ms");
    REQUIRE(r.has_value());
    CHECK(r->delay == 30ms);
    CHECK(r->delay_max == 100ms);
    fault_plan plan(11);
    plan.add(*r);
    std::set<long long> seen;
    for (int i = 0; i < 2000; ++i) {
        auto d = plan.pick("/x").delay;
        CHECK(d >= 30ms);
        CHECK(d <= 100ms);
        seen.insert(d.count());
    }
    CHECK(seen.size() > 60); // spread over the range, not one value
    CHECK(*seen.begin() < 35);
    CHECK(*seen.rbegin() > 95);
    // The fixed form is unchanged: no range, the same delay every time.
    auto fixed = parse_fault_spec("latency:1:delay=40ms");
    REQUIRE(fixed.has_value());
    CHECK(fixed->delay_max == 0ms);
    fault_plan steady(11);
    steady.add(*fixed);
    CHECK(steady.pick("/x").delay == 40ms);
    CHECK(steady.pick("/x").delay == 40ms);

    auto reversed = parse_fault_spec("latency:1:delay=100ms..30ms");
    REQUIRE_FALSE(reversed.has_value());
    CHECK(reversed.error().find("100ms..30ms") != std::string::npos);
    CHECK_FALSE(parse_fault_spec("latency:1:delay=30ms..").has_value());
    CHECK_FALSE(parse_fault_spec("latency:1:delay=..30ms").has_value());

    auto j = parse_fault_json(
        boost::json::parse(R"({"kind":"latency","ratio":1,"delay":"20ms..50ms"})"));
    REQUIRE(j.has_value());
    CHECK(j->delay == 20ms);
    CHECK(j->delay_max == 50ms);
    CHECK(to_json(*j).at("delay_max_ms").as_int64() == 50);
    auto jm = parse_fault_json(
        boost::json::parse(R"({"kind":"latency","ratio":1,"delay_ms":20,"delay_max_ms":60})"));
    REQUIRE(jm.has_value());
    CHECK(jm->delay_max == 60ms);
    CHECK_FALSE(
        parse_fault_json(
            boost::json::parse(R"({"kind":"latency","ratio":1,"delay_ms":20,"delay_max_ms":5})"))
            .has_value());
}

TEST_CASE("durations use Prometheus spelling") {
    CHECK(*parse_duration("500ms") == 500ms);
    CHECK(*parse_duration("15s") == 15s);
    CHECK(*parse_duration("1h30m") == 90min);
    CHECK(*parse_duration("1.5s") == 1500ms);
    CHECK_FALSE(parse_duration("15").has_value());
    CHECK_FALSE(parse_duration("fast").has_value());
}

TEST_CASE(
    "the command line needs one TLS choice, pairs --ak with --sk-file, and says what is wrong") {
    using args = std::vector<std::string_view>;
    auto ok = parse_command_line(args{"--plain", "--tasks", "7", "--project-id", "pa",
                                      "--project-id", "pb", "--static", "--list-offset-mode=pages",
                                      "--fault", "hang:x1"});
    REQUIRE(ok.has_value());
    CHECK(ok->options.world.tasks == 7);
    CHECK(ok->options.world.project_ids == std::vector<std::string>{"pa", "pb"});
    CHECK(ok->options.static_world);
    CHECK(ok->options.list_offset == offset_mode::pages);
    CHECK(ok->options.faults.size() == 1);
    CHECK_FALSE(ok->options.split_writes);
    auto split = parse_command_line(args{"--plain", "--split-writes"});
    REQUIRE(split.has_value());
    CHECK(split->options.split_writes);
    auto split_value = parse_command_line(args{"--plain", "--split-writes=yes"});
    REQUIRE_FALSE(split_value.has_value());
    CHECK(split_value.error().message.find("--split-writes") != std::string::npos);

    auto no_tls = parse_command_line(args{"--tasks", "7"});
    REQUIRE_FALSE(no_tls.has_value());
    CHECK(no_tls.error().exit_code == 2);
    auto lone_ak = parse_command_line(args{"--plain", "--ak", "A"});
    REQUIRE_FALSE(lone_ak.has_value());
    CHECK(lone_ak.error().message.find("--sk-file") != std::string::npos);
    auto missing_file =
        parse_command_line(args{"--plain", "--ak", "A", "--sk-file", "/nonexistent/sk"});
    REQUIRE_FALSE(missing_file.has_value());
    CHECK(missing_file.error().exit_code == 1);
    CHECK(missing_file.error().message.find("/nonexistent/sk") != std::string::npos);
    auto unknown = parse_command_line(args{"--plain", "--colour"});
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().message.find("--colour") != std::string::npos);
    CHECK(parse_command_line(args{"--help"})->help);
}

TEST_CASE("a truncated answer is the whole head, for the request's version and closing, and half "
          "the body") {
    http::server_response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = "0123456789";
    const auto wire = truncated_wire(res, 11);
    const auto head_end = wire.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    const auto head = wire.substr(0, head_end);
    CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(head.find("Content-Length: 10") != std::string::npos);
    CHECK(head.find("Connection: close") != std::string::npos);
    CHECK(wire.substr(head_end + 4) == "01234");
    CHECK(truncated_wire(res, 10).rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
}

TEST_CASE("the handshake-failing TLS provider gives no context exactly when the fault fires") {
    auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    bool fire = false;
    auto provider = tls_failing_handshakes(ctx, [&] { return fire; });
    CHECK(provider() == ctx);
    fire = true;
    CHECK(provider() == nullptr);
}

TEST_CASE("HMAC-SHA256 and SHA-256 match RFC 4231 and FIPS 180 vectors, keys longer than a block "
          "included") {
    // RFC 4231 test case 2 and 6.
    CHECK(detail::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(detail::hmac_sha256_hex(std::string(131, '\xaa'),
                                  "Test Using Larger Than Block-Size Key - Hash Key First") ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    CHECK(detail::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(detail::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
