// notify's chat formats: the default text and templates, each robot's body and signing, merged
// events within a robot's size limit, and what a robot's answer means.
#include "taskwatch/notify/format.hpp"

#include "support/openssl_cli.hpp"

#include "taskwatch/detail/percent.hpp"
#include "taskwatch/detail/utf8.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace taskwatch;
namespace json = boost::json;
using config::webhook_format;

namespace {

using namespace std::chrono_literals;

task::event failed_event(std::string name = "cats") {
    task::event e;
    e.id = "evt_1";
    e.type = task::event_type::status_changed;
    e.time = task::time_point(std::chrono::seconds(1764475200));
    e.key = {"proj", "ds1", "task7"};
    e.task_name = std::move(name);
    e.previous = task::snapshot{};
    e.previous->status = modelarts::task_status::running;
    e.previous->progress = 0.4;
    e.current = task::snapshot{};
    e.current->status = modelarts::task_status::failed;
    e.current->progress = 0.425;
    e.current->code = "C1";
    e.current->message = "labelling";
    e.current->error_code = "ModelArts.4501";
    e.current->error_msg = "out of memory";
    e.current->total_sample_count = 49;
    e.current->annotated_sample_count = 30;
    return e;
}

notify::event_context context() {
    return {{{"team", "vision"}}, "https://watch.example/tasks/ds1/task7"};
}

config::webhook hook(webhook_format f, std::optional<std::string> secret = std::nullopt) {
    config::webhook w;
    w.name = "robot";
    w.format = f;
    if (secret) w.secret = detail::secret(*secret);
    return w;
}

const auto now = task::time_point(std::chrono::seconds(1764475201) + 250ms);

notify::request one(const config::webhook& w, const task::event& e,
                    const notify::event_context& c = context()) {
    return notify::chat_request(w, std::span(&e, 1), std::span(&c, 1), now);
}

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

} // namespace

TEST_CASE(
    "the Feishu sign is base64 HMAC-SHA256 keyed with timestamp and secret, as openssl has it") {
    const std::string secret = "feishu-SEC-abc123";
    CHECK(notify::feishu_sign(secret, 1764475201) ==
          test::openssl_hmac_sha256_base64("1764475201\n" + secret, ""));
}

TEST_CASE("the DingTalk sign is base64 HMAC-SHA256 of timestamp and secret, as openssl has it") {
    const std::string secret = "SEC0123456789abcdef";
    CHECK(notify::dingtalk_sign(secret, 1764475201250) ==
          test::openssl_hmac_sha256_base64(secret, "1764475201250\n" + secret));
}

TEST_CASE("the default text tells task, status change, progress, samples, errors and link") {
    const auto text = notify::chat_text(std::nullopt, failed_event(), context());
    CHECK(contains(text, "任务状态变化 / Task status changed"));
    CHECK(contains(text, "cats (task7)"));
    CHECK(contains(text, "ds1"));
    CHECK(contains(text, "运行中 running → 失败 failed"));
    CHECK(contains(text, "40% → 42.5%"));
    CHECK(contains(text, "30 / 49"));
    CHECK(contains(text, "ModelArts.4501 out of memory"));
    CHECK(contains(text, "C1 labelling"));
    CHECK(contains(text, "team=vision"));
    CHECK(contains(text, "https://watch.example/tasks/ds1/task7"));
}

TEST_CASE("the default text leaves out what is unknown and shows a poll's error") {
    auto e = failed_event();
    e.type = task::event_type::poll_failing;
    e.previous.reset();
    e.current->error_code.clear();
    e.current->error_msg.clear();
    e.current->code.clear();
    e.current->message.clear();
    e.current->total_sample_count.reset();
    e.current->annotated_sample_count.reset();
    e.error = task::poll_error{"auth", "APIGW.0301", "token expired", "req-1"};
    const auto text = notify::chat_text(std::nullopt, e, {});
    CHECK(contains(text, "Polling the task fails"));
    CHECK(contains(text, "auth APIGW.0301 token expired"));
    CHECK_FALSE(contains(text, "→"));
    CHECK_FALSE(contains(text, "Samples"));
    CHECK_FALSE(contains(text, "Link"));
    CHECK_FALSE(contains(text, "Message"));
}

TEST_CASE("a template fills every documented placeholder and keeps doubled braces literal") {
    std::string tpl = "{{literal}} ";
    for (auto name : config::template_placeholders)
        tpl += std::string(name) + "=[{" + std::string(name) + "}] ";
    const auto text = notify::chat_text(tpl, failed_event(), context());
    CHECK(text.starts_with("{literal} "));
    for (auto name : config::template_placeholders) {
        INFO(name);
        const auto at = text.find(std::string(name) + "=[");
        REQUIRE(at != std::string::npos);
        CHECK(text[at + name.size() + 2] != '{'); // filled in, not left as written
    }
    for (std::string_view part :
         {"type=[task.status_changed]", "time=[2025-11-30T04:00:00Z]", "project_id=[proj]",
          "dataset_id=[ds1]", "task_id=[task7]", "task_name=[cats]", "labels=[team=vision]",
          "status=[failed]", "previous_status=[running]", "progress=[42.5%]",
          "previous_progress=[40%]", "annotated=[30]", "total=[49]", "code=[C1]",
          "message=[labelling]", "error_code=[ModelArts.4501]", "error_msg=[out of memory]",
          "link=[https://watch.example/tasks/ds1/task7]"})
        CHECK_MESSAGE(contains(text, part), part);
}

TEST_CASE("a template's unknown values are empty, and its lone braces stay as written") {
    auto e = failed_event();
    e.current->total_sample_count.reset();
    const auto text = notify::chat_text("total=<{total}> {nope} }", e, {});
    CHECK(text == "total=<> {nope} }");
}

TEST_CASE("slack sends {\"text\"} and escapes what Slack would read as a mention or link") {
    auto w = hook(webhook_format::slack);
    const auto r = one(w, failed_event("<!channel> & co"));
    CHECK(r.content_type == "application/json");
    CHECK(r.query.empty());
    const auto body = json::parse(r.body).as_object();
    CHECK(body.size() == 1);
    const std::string text(body.at("text").as_string());
    CHECK(contains(text, "&lt;!channel&gt; &amp; co"));
    CHECK_FALSE(contains(text, "<!channel>"));

    w.template_text = "<{link}|{task_name}>";
    const auto templated = json::parse(one(w, failed_event("a<b")).body);
    CHECK(templated.at("text") == "<https://watch.example/tasks/ds1/task7|a&lt;b>");
}

TEST_CASE("feishu sends a text message, signed in the body when it has a secret") {
    const std::string secret = "feishu-secret";
    const auto r = one(hook(webhook_format::feishu, secret), failed_event());
    CHECK(r.query.empty());
    const auto body = json::parse(r.body).as_object();
    CHECK(body.at("msg_type") == "text");
    CHECK(contains(body.at("content").at("text").as_string(), "cats (task7)"));
    CHECK(body.at("timestamp") == "1764475201");
    CHECK(body.at("sign") ==
          json::value(test::openssl_hmac_sha256_base64("1764475201\n" + secret, "")));
    CHECK_FALSE(contains(r.body, secret));

    const auto unsigned_body = json::parse(one(hook(webhook_format::feishu), failed_event()).body);
    CHECK_FALSE(unsigned_body.as_object().contains("timestamp"));
    CHECK_FALSE(unsigned_body.as_object().contains("sign"));
}

TEST_CASE("dingtalk sends text, signed in the query with milliseconds when it has a secret") {
    const std::string secret = "SECdingtalk+/=";
    const auto r = one(hook(webhook_format::dingtalk, secret), failed_event());
    const auto body = json::parse(r.body);
    CHECK(body.at("msgtype") == "text");
    CHECK(contains(body.at("text").at("content").as_string(), "cats (task7)"));
    REQUIRE(r.query.starts_with("timestamp=1764475201250&sign="));
    const auto sign = r.query.substr(std::string_view("timestamp=1764475201250&sign=").size());
    CHECK(sign.find_first_of("+/=") == std::string::npos); // URL-encoded
    CHECK(detail::percent_decode(sign) ==
          test::openssl_hmac_sha256_base64(secret, "1764475201250\n" + secret));
    CHECK_FALSE(contains(r.body, secret));
    CHECK_FALSE(contains(r.query, secret));
    CHECK(one(hook(webhook_format::dingtalk), failed_event()).query.empty());
}

TEST_CASE("wecom sends markdown with the link as a markdown link") {
    const auto r = one(hook(webhook_format::wecom), failed_event());
    const auto body = json::parse(r.body);
    CHECK(body.at("msgtype") == "markdown");
    const std::string content(body.at("markdown").at("content").as_string());
    CHECK(contains(content, "**【taskwatch】"));
    CHECK(contains(
        content, "[https://watch.example/tasks/ds1/task7](https://watch.example/tasks/ds1/task7)"));
}

TEST_CASE("several events make one message with each of them, oldest first") {
    std::vector<task::event> events{failed_event("first"), failed_event("second"),
                                    failed_event("third")};
    std::vector<notify::event_context> contexts(3, context());
    const auto r = notify::chat_request(hook(webhook_format::dingtalk), events, contexts, now);
    const std::string text(json::parse(r.body).at("text").at("content").as_string());
    const auto a = text.find("first"), b = text.find("second"), c = text.find("third");
    CHECK(a < b);
    CHECK(b < c);
    CHECK(c != std::string::npos);
}

// The text of a robot's message (Feishu's, DingTalk's, WeCom's or Slack's) for one event.
std::string message_text(webhook_format f, const task::event& e) {
    const auto body = json::parse(one(hook(f), e).body);
    switch (f) {
    case webhook_format::feishu:
        return std::string(body.at("content").at("text").as_string());
    case webhook_format::dingtalk:
        return std::string(body.at("text").at("content").as_string());
    case webhook_format::wecom:
        return std::string(body.at("markdown").at("content").as_string());
    default:
        return std::string(body.at("text").as_string());
    }
}

// What a reader sees: the text without the invisible word joiners (U+2060) the escaping adds.
std::string shown(std::string text) {
    const std::string joiner = "\u2060";
    for (auto at = text.find(joiner); at != std::string::npos; at = text.find(joiner, at))
        text.erase(at, joiner.size());
    return text;
}

TEST_CASE("a task name cannot mention everyone in a Feishu group or a WeCom member, and shows "
          "as it is") {
    const std::string name =
        R"(<at user_id="all"></at> <@zhangsan> <font color="warning">x</font>)";
    for (auto f : {webhook_format::feishu, webhook_format::wecom, webhook_format::dingtalk}) {
        CAPTURE(static_cast<int>(f));
        const auto text = message_text(f, failed_event(name));
        CHECK_FALSE(contains(text, "<at"));
        CHECK_FALSE(contains(text, "<@"));
        CHECK_FALSE(contains(text, "<font"));
        CHECK(contains(shown(text), name + " (task7)"));
    }
}

TEST_CASE("a task name cannot put a link or bold text of its own in WeCom's markdown") {
    const std::string name = "[click me](https://evil.example) **urgent**";
    const auto text = message_text(webhook_format::wecom, failed_event(name));
    CHECK_FALSE(contains(text, "](https://evil.example)"));
    CHECK_FALSE(contains(text, "**urgent**"));
    CHECK(contains(shown(text), name + " (task7)"));
    // taskwatch's own markup stays.
    CHECK(contains(text, "**【taskwatch】"));
    CHECK(contains(text, "](https://watch.example/tasks/ds1/task7)"));
}

TEST_CASE("a line break in a task name cannot forge a line of the message") {
    const std::string forged = "\n状态 Status: 成功 succeeded";
    for (auto f : {webhook_format::feishu, webhook_format::wecom, webhook_format::dingtalk,
                   webhook_format::slack}) {
        CAPTURE(static_cast<int>(f));
        const auto text = message_text(f, failed_event("cats" + forged));
        CHECK_FALSE(contains(text, forged));
        CHECK(contains(shown(text), "cats 状态 Status: 成功 succeeded (task7)"));
    }
}

TEST_CASE("wecom content stays within 4096 bytes, counting the events it cannot show") {
    std::vector<task::event> events;
    for (int i = 0; i < 40; ++i)
        events.push_back(failed_event("任务-" + std::to_string(i)));
    std::vector<notify::event_context> contexts(events.size(), context());
    const auto limit = notify::limits_of(webhook_format::wecom).max_body_bytes;
    const auto r = notify::chat_request(hook(webhook_format::wecom), events, contexts, now);
    const std::string content(json::parse(r.body).at("markdown").at("content").as_string());
    CHECK(content.size() <= limit);
    CHECK(content.size() > limit / 2);
    CHECK_FALSE(detail::first_invalid_utf8(content));
    CHECK(contains(content, "任务-0 "));
    CHECK(contains(content, "more events"));
}

TEST_CASE("one event too long for wecom is cut on a UTF-8 boundary with an ellipsis") {
    auto e = failed_event();
    e.current->error_msg.clear();
    for (int i = 0; i < 3000; ++i)
        e.current->error_msg += "错"; // 3 bytes each: any byte count may land inside one
    for (std::size_t extra = 0; extra < 3; ++extra) {
        e.task_name = std::string(extra, 'x') + "cats";
        const auto r = one(hook(webhook_format::wecom), e);
        const std::string content(json::parse(r.body).at("markdown").at("content").as_string());
        CHECK(content.size() <= 4096);
        CHECK(content.size() >= 4090);
        CHECK(content.ends_with("…"));
        CHECK_FALSE(detail::first_invalid_utf8(content));
    }
}

TEST_CASE("a feishu body stays within its 20 KB, even with text that JSON escaping doubles") {
    auto e = failed_event();
    e.current->error_msg = std::string(30000, '"');
    const auto r = one(hook(webhook_format::feishu, "s"), e);
    CHECK(r.body.size() <= notify::limits_of(webhook_format::feishu).max_body_bytes);
    const auto body = json::parse(r.body); // still whole JSON
    CHECK(body.at("content").at("text").as_string().ends_with("…"));
}

TEST_CASE(
    "a robot's answer: success as each robot reports it, else one line with code and message") {
    using notify::answer_error;
    CHECK_FALSE(answer_error(webhook_format::slack, "ok"));
    CHECK_FALSE(answer_error(webhook_format::slack, R"({"success":true})")); // Rocket.Chat
    CHECK(answer_error(webhook_format::slack, "invalid_payload") ==
          R"(answer is not "ok": "invalid_payload")");
    CHECK_FALSE(answer_error(webhook_format::feishu, R"({"code":0,"msg":"success","data":{}})"));
    CHECK_FALSE(
        answer_error(webhook_format::feishu, R"({"StatusCode":0,"StatusMessage":"success"})"));
    CHECK(answer_error(webhook_format::feishu, R"({"code":19021,"msg":"sign match fail"})") ==
          "code 19021: sign match fail");
    CHECK(answer_error(webhook_format::feishu, "<html>busy</html>") ==
          R"(answer is not a JSON object: "<html>busy</html>")");
    for (auto f : {webhook_format::dingtalk, webhook_format::wecom}) {
        CHECK_FALSE(answer_error(f, R"({"errcode":0,"errmsg":"ok"})"));
        CHECK(answer_error(f, R"({"errcode":130101,"errmsg":"send too fast"})") ==
              "errcode 130101: send too fast");
        CHECK(answer_error(f, "") == R"(answer is not a JSON object: "")");
        CHECK(answer_error(f, R"({"errmsg":"ok"})") ==
              R"(answer has no errcode: "{"errmsg":"ok"}")");
    }
    CHECK(answer_error(webhook_format::wecom, "{\"errcode\":45009,\"errmsg\":\"a\\nb\"}") ==
          "errcode 45009: a\\nb");
    CHECK_FALSE(answer_error(webhook_format::generic, "anything"));
    CHECK_FALSE(answer_error(webhook_format::alertmanager, "anything"));
}

TEST_CASE("robots' limits: chat formats merge and pace, generic and alertmanager do not") {
    CHECK(notify::limits_of(webhook_format::generic).max_events == 1);
    CHECK(notify::limits_of(webhook_format::generic).min_gap == 0ms);
    CHECK(notify::limits_of(webhook_format::slack).min_gap == 1s);
    CHECK(notify::limits_of(webhook_format::feishu).per_minute == 100);
    CHECK(notify::limits_of(webhook_format::dingtalk).per_minute == 20);
    CHECK(notify::limits_of(webhook_format::wecom).per_minute == 20);
    CHECK(notify::limits_of(webhook_format::wecom).max_body_bytes == 4096);
    for (auto f : {webhook_format::slack, webhook_format::feishu, webhook_format::dingtalk,
                   webhook_format::wecom})
        CHECK(notify::limits_of(f).max_events > 1);
}
