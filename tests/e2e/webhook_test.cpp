// Webhook delivery end to end: the real daemon polls the simulator and delivers its outbox over
// HTTPS (a test CA) to receivers that run as their own processes (tests/support/
// webhook_receiver.py) and verify the Standard Webhooks signatures with their own code.
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/openssl_cli.hpp"
#include "support/outbox.hpp"
#include "support/pki.hpp"
#include "support/promtool.hpp"
#include "support/receiver.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>

using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

namespace {

const std::string secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string secret_b = "raw-secret-not-base64"; // space-separated: several secrets

// A simulator with `tasks` static tasks in one dataset, a test CA for the receivers, and the
// config lines of webhooks that trust that CA.
struct webhook_world {
    sim_process sim;
    dataset_ref dataset;
    test_ca ca;
    temp_dir state{"state"};
    std::string ca_file;

    explicit webhook_world(int tasks)
        : sim({"--static", "--tasks", std::to_string(tasks), "--datasets", "1"})
        , dataset(first_dataset(sim)) {
        ca_file = sim.dir.file("receiver-ca.pem");
        ca.write_cert(ca_file);
        sim.dir.write("a.secret", secret_a + "\n");
        sim.dir.write("b.secret", secret_b + "\n");
    }

    /// One webhooks[] entry for `r`, with `extra` lines ("    key: value\n").
    std::string hook(const std::string& name, const receiver_process& r,
                     const std::string& extra = {}) const {
        return "  - name: " + name + "\n    url: " + r.url() +
               "?key=SECRETKEY\n    ca_file: " + ca_file + "\n" + extra;
    }

    daemon_options options(const std::string& hooks) const {
        daemon_options o;
        o.extra_top = "webhooks:\n" + hooks;
        return o;
    }

    /// A change the daemon turns into a task.status_changed event: the `nth` task not yet
    /// failed fails.
    void fail_task(std::size_t nth) {
        for (const auto& t : listed_tasks(sim)) {
            if (string_of(t.at("status_name")) == "failed") continue;
            if (nth-- > 0) continue;
            sim.control(verb::patch, "/sim/tasks/" + string_of(t.at("task_id")),
                        R"({"status": "failed"})");
            return;
        }
        throw std::runtime_error("no task left to fail");
    }
};

std::set<std::string> keys_of(const std::map<std::string, std::string>& m) {
    std::set<std::string> out;
    for (const auto& [k, v] : m)
        out.insert(k);
    return out;
}

bool all_in_state(const std::map<std::string, std::string>& deliveries, const std::string& state,
                  std::size_t at_least) {
    return deliveries.size() >= at_least &&
           std::all_of(deliveries.begin(), deliveries.end(),
                       [&](const auto& d) { return d.second == state; });
}

} // namespace

TEST_CASE("every event reaches every webhook once, signed, under its outbox id - the delivery "
          "figures say so") {
    webhook_world w(6);
    receiver_process a(w.ca, {"--secret", secret_a});
    receiver_process b(w.ca, {"--secret", secret_b});
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(w.hook("a", a, "    secret_file: a.secret\n") +
                              w.hook("b", b, "    secret_file: b.secret\n")));
    const auto listed = listed_tasks(w.sim).size();
    wait_for_discovery(d.d, listed);
    w.fail_task(0);
    REQUIRE_MESSAGE(
        wait_until(
            [&] {
                return all_in_state(read_deliveries(d.d.db, "a"), "delivered", listed + 1) &&
                       all_in_state(read_deliveries(d.d.db, "b"), "delivered", listed + 1);
            },
            20s),
        d.d.proc->stderr_text());

    for (auto* r : {&a, &b}) {
        const auto name = r == &a ? std::string("a") : std::string("b");
        CAPTURE(name);
        const auto outbox = keys_of(read_deliveries(d.d.db, name));
        const auto ids = r->accepted_ids();
        CHECK(std::set<std::string>(ids.begin(), ids.end()) == outbox);
        CHECK(ids.size() == outbox.size()); // each once
        for (const auto& req : r->requests()) {
            CHECK(req.at("signature_ok").as_bool());
            CHECK(req.at("body").at("id") == req.at("id"));
            // The URL's query reached the receiver as written.
            CHECK(req.at("query") == "key=SECRETKEY");
        }
    }
    // The status change carries the contract's body.
    bool seen = false;
    for (const auto& req : a.requests())
        if (req.at("body").at("type") == "task.status_changed") {
            seen = true;
            CHECK(req.at("body").at("current").at("status") == "failed");
            CHECK(string_of(req.at("body").at("task").at("dataset_id")) == w.dataset.id);
        }
    CHECK(seen);

    // The figures: /metrics and /api/v1/deliveries.
    const auto metrics = d.metrics();
    CHECK(metrics.find("taskwatch_webhook_deliveries_total{webhook=\"a\"} " +
                       std::to_string(listed + 1)) != std::string::npos);
    CHECK(metrics.find("taskwatch_webhook_queue_length{webhook=\"a\"} 0") != std::string::npos);
    {
        const auto verdict = promtool_check(metrics); // every webhook series, lint included
        const std::string said = verdict.second;
        CHECK_MESSAGE(verdict.first == 0, said);
        CHECK_MESSAGE(said.empty(), said);
    }
    auto api = d.get("/api/v1/deliveries");
    REQUIRE(api.status == 200);
    auto hooks = boost::json::parse(api.body).as_array();
    REQUIRE(hooks.size() == 2);
    CHECK(hooks[0].at("webhook") == "a");
    CHECK(hooks[0].at("delivered").to_number<std::size_t>() == listed + 1);
    CHECK(hooks[0].at("queue_length").to_number<int>() == 0);
    // The key in the URL's query is a secret: not in the API, the metrics or the log.
    CHECK(api.body.find("SECRETKEY") == std::string::npos);
    CHECK(metrics.find("SECRETKEY") == std::string::npos);
    CHECK(d.d.proc->stderr_text().find("SECRETKEY") == std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("a receiver answering 500 and then 200 gets every event under its first id") {
    webhook_world w(3);
    receiver_process a(w.ca, {"--secret", secret_a, "--script", "500,500,503"});
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(w.hook("a", a, "    secret_file: a.secret\n")));
    const auto listed = listed_tasks(w.sim).size();
    wait_for_discovery(d.d, listed);
    REQUIRE_MESSAGE(
        wait_until([&] { return all_in_state(read_deliveries(d.d.db, "a"), "delivered", listed); },
                   40s),
        d.d.proc->stderr_text());
    const auto outbox = keys_of(read_deliveries(d.d.db, "a"));
    const auto ids = a.accepted_ids();
    CHECK(std::set<std::string>(ids.begin(), ids.end()) == outbox);
    CHECK(ids.size() == outbox.size());
    const auto requests = a.requests();
    CHECK(requests.size() == outbox.size() + 3);
    for (const auto& r : requests) {
        CHECK(r.at("signature_ok").as_bool());
        CHECK(outbox.count(std::string(r.at("id").as_string())) == 1); // retries reuse the id
    }
    CHECK(d.metric_or_fail("taskwatch_webhook_deliveries_total{webhook=\"a\"}") ==
          static_cast<double>(listed));
    const auto metrics = d.metrics();
    CHECK(metrics.find(
              R"(taskwatch_webhook_delivery_failures_total{webhook="a",reason="http_5xx"} 3)") !=
          std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("a hanging receiver delays no other webhook") {
    webhook_world w(4);
    receiver_process slow(w.ca, {"--hang"});
    receiver_process fast(w.ca, {});
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(w.hook("slow", slow, "    timeout: 60s\n") + w.hook("fast", fast)));
    const auto listed = listed_tasks(w.sim).size();
    wait_for_discovery(d.d, listed);
    w.fail_task(1);
    REQUIRE_MESSAGE(
        wait_until(
            [&] { return all_in_state(read_deliveries(d.d.db, "fast"), "delivered", listed + 1); },
            10s),
        d.d.proc->stderr_text());
    CHECK(slow.accepted_ids().empty());
    CHECK(all_in_state(read_deliveries(d.d.db, "slow"), "pending", listed + 1));
    // The stop does not wait for the hanging receiver beyond its grace: within the contract's
    // 10 s, and the events stay pending for the next start.
    CHECK(d.d.stop() == 0);
    CHECK(all_in_state(read_deliveries(d.d.db, "slow"), "pending", listed + 1));
}

TEST_CASE("410 Gone disables the webhook until a reload - the others go on") {
    webhook_world w(2);
    receiver_process gone(w.ca, {"--status", "410"});
    receiver_process other(w.ca, {});
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(w.hook("gone", gone) + w.hook("other", other)));
    const auto listed = listed_tasks(w.sim).size();
    wait_for_discovery(d.d, listed);
    REQUIRE(wait_until([&] { return !gone.requests().empty(); }, 10s));
    REQUIRE(wait_until(
        [&] {
            auto hooks = boost::json::parse(d.get("/api/v1/deliveries").body).as_array();
            return hooks.at(0).at("disabled").as_bool();
        },
        10s));
    const auto asked = gone.requests().size();
    // A new event: the other webhook gets it, the disabled one is not asked again.
    w.fail_task(0);
    REQUIRE(wait_until(
        [&] { return all_in_state(read_deliveries(d.d.db, "other"), "delivered", listed + 1); },
        10s));
    CHECK(gone.requests().size() == asked);
    CHECK(all_in_state(read_deliveries(d.d.db, "gone"), "pending", listed + 1));
    // Each attempt in flight when the 410 came counts once (up to 8 go at once).
    const auto gone_count = d.metric_or_fail(
        R"(taskwatch_webhook_delivery_failures_total{webhook="gone",reason="gone"})");
    CHECK(gone_count >= 1);
    CHECK(gone_count == static_cast<double>(asked));
    CHECK(d.d.proc->stderr_text().find("410 Gone") != std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("after max_attempts an event is a dead letter: listed by outbox list, delivered after "
          "outbox redeliver") {
    webhook_world w(3);
    const auto listed = listed_tasks(w.sim).size();
    // Two failed attempts for every event, then the receiver accepts.
    std::string script;
    for (std::size_t i = 0; i < 2 * listed; ++i)
        script += (script.empty() ? "" : ",") + std::string("500");
    receiver_process a(w.ca, {"--script", script});
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(w.hook("a", a, "    max_attempts: 2\n")));
    wait_for_discovery(d.d, listed);
    REQUIRE_MESSAGE(
        wait_until([&] { return all_in_state(read_deliveries(d.d.db, "a"), "dead", listed); }, 60s),
        d.d.proc->stderr_text());
    CHECK(d.metric_or_fail("taskwatch_webhook_dead_letters{webhook=\"a\"}") ==
          static_cast<double>(listed));

    const auto taskwatchd = bin_dir() + "/taskwatchd";
    auto list = run_command(taskwatchd, {"outbox", "list", "--config", d.d.config, "--dead"});
    CHECK(list.status == 0);
    for (const auto& id : keys_of(read_deliveries(d.d.db, "a")))
        CHECK(list.out.find(id + "\ta\tdead\ttask.discovered\t") != std::string::npos);
    CHECK(list.out.find("HTTP 500") != std::string::npos);

    // Put back while the daemon runs: it sends them within seconds.
    auto redeliver =
        run_command(taskwatchd, {"outbox", "redeliver", "--config", d.d.config, "--all-dead"});
    CHECK(redeliver.status == 0);
    CHECK(redeliver.out == std::to_string(listed) + " dead letter(s) put back in the queue\n");
    REQUIRE_MESSAGE(
        wait_until([&] { return all_in_state(read_deliveries(d.d.db, "a"), "delivered", listed); },
                   15s),
        d.d.proc->stderr_text());
    const auto ids = a.accepted_ids();
    CHECK(std::set<std::string>(ids.begin(), ids.end()) == keys_of(read_deliveries(d.d.db, "a")));
    auto none = run_command(taskwatchd, {"outbox", "list", "--config", d.d.config, "--dead"});
    CHECK(std::count(none.out.begin(), none.out.end(), '\n') == 1); // the header only
    CHECK(d.d.stop() == 0);
}

TEST_CASE("outbox redeliver ends a receiver's hour-long backoff: the dead letters go out within "
          "seconds") {
    webhook_world w(3);
    const auto listed = listed_tasks(w.sim).size();
    // The receiver is down and asks for an hour (503, Retry-After: 3600) for every event's one
    // attempt, then is fixed.
    std::string script;
    for (std::size_t i = 0; i < listed; ++i)
        script += (script.empty() ? "" : ",") + std::string("503");
    receiver_process a(w.ca, {"--script", script, "--retry-after", "3600"});
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(w.hook("a", a, "    max_attempts: 1\n")));
    wait_for_discovery(d.d, listed);
    // The first failed batch pauses the queue for the hour; what it held is dead.
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            const auto ds = read_deliveries(d.d.db, "a");
                            return std::any_of(ds.begin(), ds.end(),
                                               [](const auto& kv) { return kv.second == "dead"; });
                        },
                        20s),
                    d.d.proc->stderr_text());
    const auto asked = a.requests().size();
    CHECK(asked >= 1);
    CHECK(asked <= listed);

    auto redeliver = run_command(bin_dir() + "/taskwatchd",
                                 {"outbox", "redeliver", "--config", d.d.config, "--all-dead"});
    REQUIRE(redeliver.status == 0);
    // Within seconds, not an hour: every event reaches the fixed receiver.
    REQUIRE_MESSAGE(
        wait_until([&] { return all_in_state(read_deliveries(d.d.db, "a"), "delivered", listed); },
                   15s),
        d.d.proc->stderr_text());
    CHECK(d.d.proc->stderr_text().find("dead letters were put back") != std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("kill -9 during delivery and a restart: every event arrives, never under two ids") {
    webhook_world w(40);
    receiver_process a(w.ca, {"--secret", secret_a, "--delay", "40"});
    const auto options = w.options(w.hook("a", a, "    secret_file: a.secret\n"));
    const auto listed = listed_tasks(w.sim).size();
    {
        daemon_process d(w.sim, w.dataset.id, w.state.str(), options);
        REQUIRE(wait_until([&] { return a.accepted_ids().size() >= 5; }, 20s));
        d.proc->send_signal(SIGKILL);
        d.proc->wait(5s);
    }
    const auto before = a.accepted_ids().size();
    CHECK(before < listed); // killed mid-way
    daemon_process d(w.sim, w.dataset.id, w.state.str(), options);
    REQUIRE_MESSAGE(
        wait_until([&] { return all_in_state(read_deliveries(d.db, "a"), "delivered", listed); },
                   30s),
        d.proc->stderr_text());
    const auto outbox = keys_of(read_deliveries(d.db, "a"));
    // The restart made no second task.discovered for a task.
    const auto events = read_events(d.db);
    for (const auto& t : listed_tasks(w.sim))
        CHECK(count_of(events, "task.discovered", string_of(t.at("task_id"))) == 1);
    const auto ids = a.accepted_ids();
    CHECK(std::set<std::string>(ids.begin(), ids.end()) == outbox);
    const auto twice = ids.size() - outbox.size();
    MESSAGE(twice, " event(s) delivered twice (at least once)");
    for (const auto& r : a.requests())
        CHECK(r.at("signature_ok").as_bool());
    CHECK(d.stop() == 0);
}

TEST_CASE("a chat robot's 200 carrying an error code is a failure, retried - its signed query "
          "keeps the webhook's key") {
    webhook_world w(3);
    const std::string fast = R"({"errcode":130101,"errmsg":"send too fast"})";
    receiver_process robot(
        w.ca,
        {"--body", R"({"errcode":0,"errmsg":"ok"})", "--body-script",
         "[\"" + std::string(R"({\"errcode\":130101,\"errmsg\":\"send too fast\"})") + "\"]"});
    w.sim.dir.write("ding.secret", "SECtest0123456789\n");
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options("  - name: ding\n    format: dingtalk\n    url: " +
                              robot.url("/robot/send") + "?access_token=TOKEN123\n" +
                              "    ca_file: " + w.ca_file + "\n    secret_file: ding.secret\n"));
    const auto listed = listed_tasks(w.sim).size();
    wait_for_discovery(d.d, listed);
    REQUIRE_MESSAGE(
        wait_until(
            [&] { return all_in_state(read_deliveries(d.d.db, "ding"), "delivered", listed); },
            20s),
        d.d.proc->stderr_text());
    const auto requests = robot.requests();
    REQUIRE(requests.size() >= 2);
    CHECK(string_of(requests[0].at("answer")) == fast);
    // Every task's event went again after the rejection, and was accepted.
    std::string accepted_text;
    for (std::size_t i = 1; i < requests.size(); ++i)
        accepted_text += string_of(requests[i].at("body").at("text").at("content"));
    for (const auto& t : listed_tasks(w.sim))
        CHECK(accepted_text.find(string_of(t.at("task_id"))) != std::string::npos);
    for (const auto& r : requests) {
        CHECK(string_of(r.at("body").at("msgtype")).size() > 0);
        const auto query = string_of(r.at("query"));
        CHECK(query.starts_with("access_token=TOKEN123&timestamp="));
        CHECK(query.find("&sign=") != std::string::npos);
    }
    // One failed attempt: the one message, however many events it carried.
    CHECK(d.metric_or_fail(
              R"(taskwatch_webhook_delivery_failures_total{webhook="ding",reason="rejected"})") ==
          1);
    // The token is in the query: never in the log, the metrics or the API.
    CHECK(d.d.proc->stderr_text().find("TOKEN123") == std::string::npos);
    CHECK(d.get("/api/v1/deliveries").body.find("TOKEN123") == std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("each chat robot gets its own body over HTTPS, and a hostile task name in it "
          "mentions nobody, links nowhere and forges no line") {
    webhook_world w(1);
    // Anyone allowed to create a labeling task chooses its name.
    const std::string hostile_id = "hostilename00000001";
    const std::string hostile = "<at user_id=\"all\"></at> <@zhangsan> [x](https://evil.example)"
                                "\n状态 Status: 成功 succeeded";
    boost::json::object spec{{"dataset_id", w.dataset.id},
                             {"task_id", hostile_id},
                             {"task_name", hostile},
                             {"status", "running"},
                             {"progress", 10.0}};
    w.sim.control(verb::post, "/sim/tasks", boost::json::serialize(spec));
    const std::string ok_errcode = R"({"errcode":0,"errmsg":"ok"})";
    receiver_process slack(w.ca, {"--body", "ok"});
    receiver_process feishu(w.ca, {"--body", R"({"code":0,"msg":"success"})"});
    receiver_process dingtalk(w.ca, {"--body", ok_errcode});
    receiver_process wecom(w.ca, {"--body", ok_errcode});
    const std::string feishu_secret = "feishu-e2e-secret";
    w.sim.dir.write("feishu.secret", feishu_secret + "\n");
    auto robot = [&](const std::string& name, const receiver_process& r, const std::string& extra) {
        return "  - name: " + name + "\n    format: " + name + "\n    url: " + r.url("/" + name) +
               "\n    ca_file: " + w.ca_file + "\n" + extra;
    };
    served_daemon d(w.sim, w.dataset.id, w.state.str(),
                    w.options(robot("slack", slack, "") +
                              robot("feishu", feishu, "    secret_file: feishu.secret\n") +
                              robot("dingtalk", dingtalk, "") + robot("wecom", wecom, "")));
    const auto listed = listed_tasks(w.sim).size();
    wait_for_discovery(d.d, listed);
    w.sim.control(verb::patch, "/sim/tasks/" + hostile_id, R"({"status": "failed"})");
    const std::vector<std::string> robots = {"slack", "feishu", "dingtalk", "wecom"};
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            return std::all_of(robots.begin(), robots.end(), [&](const auto& r) {
                                return all_in_state(read_deliveries(d.d.db, r), "delivered",
                                                    listed + 1);
                            });
                        },
                        30s),
                    d.d.proc->stderr_text());

    // The text each robot's body carries, by its format's own shape.
    auto text_of = [](const std::string& robot, const boost::json::object& body) {
        if (robot == "slack") return string_of(body.at("text"));
        if (robot == "feishu") {
            CHECK(body.at("msg_type") == "text");
            return string_of(body.at("content").at("text"));
        }
        if (robot == "dingtalk") {
            CHECK(body.at("msgtype") == "text");
            return string_of(body.at("text").at("content"));
        }
        CHECK(body.at("msgtype") == "markdown");
        return string_of(body.at("markdown").at("content"));
    };
    for (const auto& [name, r] : std::vector<std::pair<std::string, const receiver_process*>>{
             {"slack", &slack}, {"feishu", &feishu}, {"dingtalk", &dingtalk}, {"wecom", &wecom}}) {
        CAPTURE(name);
        const auto requests = r->requests();
        REQUIRE(!requests.empty());
        CHECK(string_of(requests.front().at("path")) == "/" + name);
        std::string all_text;
        for (const auto& req : requests) {
            CHECK(req.at("headers").at("content-type").as_string().starts_with("application/json"));
            const auto& body = req.at("body").as_object();
            all_text += text_of(name, body) + "\n";
            if (name == "feishu") { // signed in the body, as Feishu checks it
                const auto ts = string_of(body.at("timestamp"));
                CHECK(string_of(body.at("sign")) ==
                      openssl_hmac_sha256_base64(ts + "\n" + feishu_secret, ""));
            }
        }
        // The hostile task's failure is in the messages, its name defused.
        CHECK(all_text.find(hostile_id) != std::string::npos);
        CHECK(all_text.find("zhangsan") != std::string::npos);
        CHECK(all_text.find("<at user_id") == std::string::npos);
        CHECK(all_text.find("<@zhangsan") == std::string::npos);
        if (name == "wecom") // markdown: a link there would be clickable
            CHECK(all_text.find("](https://evil.example)") == std::string::npos);
        CHECK(all_text.find("\n状态 Status: 成功 succeeded") == std::string::npos);
    }
    CHECK(d.d.proc->stderr_text().find(feishu_secret) == std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("with the simulator's own lifecycles, every event of the outbox reaches the webhook "
          "once, signed, in order per task") {
    // Tasks that queue, initialize, run and finish by themselves within seconds.
    sim_process sim({"--tasks", "12", "--datasets", "1", "--phase-seconds", "1"});
    const auto dataset = first_dataset(sim).id;
    test_ca ca;
    const auto ca_file = sim.dir.file("receiver-ca.pem");
    ca.write_cert(ca_file);
    sim.dir.write("a.secret", secret_a + "\n");
    receiver_process a(ca, {"--secret", secret_a});
    temp_dir state("state");
    daemon_options o;
    o.extra_top = "webhooks:\n  - name: a\n    url: " + a.url() + "\n    ca_file: " + ca_file +
                  "\n    secret_file: a.secret\n";
    served_daemon d(sim, dataset, state.str(), o);
    // Every task finishes within seconds; then the outbox stops growing and is delivered.
    auto finished = [&] {
        for (const auto& t : sim.tasks()) {
            const auto st = string_of(t.at("status_name"));
            if (st != "succeeded" && st != "failed" && st != "stopped") return false;
        }
        return true;
    };
    REQUIRE_MESSAGE(wait_until(finished, 60s), d.d.proc->stderr_text());
    // The daemon has polled every task's last status: no event is still to come.
    auto seen_all = [&] {
        std::map<std::string, std::string> in_sim;
        for (const auto& t : sim.tasks())
            in_sim[string_of(t.at("task_id"))] = string_of(t.at("status_name"));
        const auto reply = d.get("/api/v1/tasks");
        if (reply.status != 200) return false;
        std::map<std::string, std::string> seen;
        const auto tasks = boost::json::parse(reply.body); // kept alive over the loop
        for (const auto& t : tasks.as_array())
            if (t.at("status").is_string())
                seen[string_of(t.at("task_id"))] = string_of(t.at("status"));
        return seen == in_sim;
    };
    REQUIRE_MESSAGE(wait_until(seen_all, 30s), d.d.proc->stderr_text());
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            auto ds = read_deliveries(d.d.db, "a");
                            return ds.size() == read_events(d.d.db).size() &&
                                   std::all_of(
                                       ds.begin(), ds.end(),
                                       [](const auto& kv) { return kv.second == "delivered"; }) &&
                                   count_type(read_events(d.d.db), "task.status_changed") >= 3;
                        },
                        30s),
                    d.d.proc->stderr_text());
    CHECK(d.d.stop() == 0);
    // What the daemon recorded as delivered (an event the stop itself committed may still
    // wait for the next start) is what the receiver accepted, once each.
    std::set<std::string> outbox;
    for (const auto& [id, delivery_state] : read_deliveries(d.d.db, "a"))
        if (delivery_state == "delivered") outbox.insert(id);
    const auto ids = a.accepted_ids();
    CHECK(std::set<std::string>(ids.begin(), ids.end()) == outbox);
    CHECK(ids.size() == outbox.size());
    // Per task, the receiver saw the events in the order the outbox holds them.
    std::map<std::string, std::vector<std::string>> sent, stored;
    for (const auto& r : a.requests()) {
        CHECK(r.at("signature_ok").as_bool());
        sent[string_of(r.at("body").at("task").at("task_id"))].push_back(string_of(r.at("id")));
    }
    for (const auto& e : read_events(d.d.db))
        if (outbox.count(string_of(e.payload.at("id"))))
            stored[e.task_id].push_back(string_of(e.payload.at("id")));
    CHECK(sent == stored);
}
