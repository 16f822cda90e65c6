// modelarts-sim as a real process over real TLS: authentication, the task APIs, the control
// API and injected faults, as a client of ModelArts would meet them.
#include "support/sim.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <regex>
#include <set>
#include <thread>

namespace {

using namespace taskwatch;
namespace json = boost::json;
using bhttp_verb = boost::beast::http::verb;
using namespace std::chrono_literals;

constexpr const char* project = "0123456789abcdef0123456789abcdef";
const test::signing_key good_key{"SIMTESTAK0000000001", "sim-test-secret-key-0001"};

struct task_ref {
    std::string project_id, dataset_id, task_id;
    std::string path() const {
        return "/v2/" + project_id + "/datasets/" + dataset_id + "/tasks/" + task_id;
    }
};

// A modelarts-sim child with a small fixed world (12 tasks over 3 datasets, seed 42).
struct running_sim : test::sim_process {
    explicit running_sim(const std::vector<std::string>& extra = {}, bool static_world = true)
        : sim_process(world(extra, static_world)) {}

    static std::vector<std::string> world(const std::vector<std::string>& extra,
                                          bool static_world) {
        std::vector<std::string> args{"--tasks", "12", "--datasets", "3", "--seed", "42"};
        if (static_world) args.emplace_back("--static");
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    task_ref some_task() {
        const auto all = tasks();
        const auto& t = all.at(0);
        return {std::string(t.at("project_id").as_string()),
                std::string(t.at("dataset_id").as_string()),
                std::string(t.at("task_id").as_string())};
    }

    test::http_reply get(const task_ref& t, const test::signing_key& key = good_key,
                         std::optional<std::string> date = {}) {
        return test::signed_request(address, key, bhttp_verb::get, t.path(), {}, {}, {},
                                    std::move(date));
    }
};

json::object error_body(const test::http_reply& r) {
    auto v = json::parse(r.body);
    REQUIRE(v.is_object());
    return v.as_object();
}

} // namespace

TEST_CASE("a correctly signed GET of a task returns 200 and the task JSON in the seed's shape") {
    running_sim sim;
    auto t = sim.some_task();
    auto r = sim.get(t);
    REQUIRE_MESSAGE(r.status == 200, r.body << r.error.message());
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("X-Request-Id").size() == 32);
    auto body = json::parse(r.body).as_object();
    CHECK(body.at("task_id").as_string() == t.task_id);
    CHECK(body.at("resource_id").as_string().size() == 19);
    CHECK(std::regex_match(std::string(body.at("create_time").as_string()),
                           std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")));
    CHECK(body.at("progress").is_double()); // "10.0", never an integer spelling
    auto status = body.at("status").as_int64();
    CHECK(status >= -1);
    CHECK(status <= 5);
    CHECK(body.at("elapsed_time").is_int64());
    const auto& result = body.at("result").as_object();
    CHECK(result.at("annotated_sample_count").as_int64() <=
          result.at("total_sample_count").as_int64());
    CHECK(body.at("config").as_object().contains("algorithm_type"));
    CHECK(body.contains("export_type"));
    // A HEAD gets the same headers and no body.
    auto head = test::signed_request(sim.address, good_key, bhttp_verb::head, t.path());
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == std::to_string(r.body.size()));
    CHECK(head.body.empty());
}

TEST_CASE(
    "a request signed with the wrong SK gets 401 APIGW.0301 with the request id in the body") {
    running_sim sim;
    auto r = sim.get(sim.some_task(), test::signing_key{good_key.ak, "not-the-secret"});
    REQUIRE(r.status == 401);
    auto body = error_body(r);
    CHECK(body.at("error_code").as_string() == "APIGW.0301");
    CHECK(std::string(body.at("error_msg").as_string())
              .find("Incorrect IAM authentication information") == 0);
    CHECK(body.at("request_id").as_string() == r.header("X-Request-Id"));
    CHECK(r.body.find("not-the-secret") == std::string::npos);
    CHECK(r.body.find(good_key.sk) == std::string::npos);
}

TEST_CASE("an unknown access key and an unsigned request get 401 APIGW.0301") {
    running_sim sim;
    auto t = sim.some_task();
    auto unknown = sim.get(t, test::signing_key{"NOSUCHAK", good_key.sk});
    CHECK(unknown.status == 401);
    CHECK(error_body(unknown).at("error_code").as_string() == "APIGW.0301");
    auto unsigned_req = test::http_request(sim.address, bhttp_verb::get, t.path());
    CHECK(unsigned_req.status == 401);
    CHECK(error_body(unsigned_req).at("error_code").as_string() == "APIGW.0301");
}

TEST_CASE("an X-Sdk-Date more than 15 minutes off the server clock gets 401") {
    running_sim sim;
    auto t = sim.some_task();
    const auto now = std::chrono::system_clock::now();
    auto stale = sim.get(t, good_key, auth::format_sdk_date(now - 20min));
    CHECK(stale.status == 401);
    CHECK(error_body(stale).at("error_code").as_string() == "APIGW.0301");
    auto future = sim.get(t, good_key, auth::format_sdk_date(now + 20min));
    CHECK(future.status == 401);
    auto slightly_off = sim.get(t, good_key, auth::format_sdk_date(now - 5min));
    CHECK(slightly_off.status == 200);
}

TEST_CASE("a signed list request pages by limit and offset and filters by type") {
    running_sim sim;
    auto datasets = sim.control(bhttp_verb::get, "/sim/datasets").at("datasets").as_array();
    // The dataset with the most tasks.
    std::string dataset;
    std::int64_t most = -1;
    for (const auto& d : datasets)
        if (d.at("task_count").as_int64() > most) {
            most = d.at("task_count").as_int64();
            dataset = std::string(d.at("dataset_id").as_string());
        }
    const std::string path = std::string("/v2/") + project + "/datasets/" + dataset + "/tasks";
    std::set<std::string> seen;
    std::int64_t total = -1;
    for (int offset = 0; offset < 100; offset += 2) {
        auto r = test::signed_request(sim.address, good_key, bhttp_verb::get, path,
                                      {{"limit", "2"}, {"offset", std::to_string(offset)}});
        REQUIRE_MESSAGE(r.status == 200, r.body);
        auto body = json::parse(r.body).as_object();
        total = body.at("total_count").as_int64();
        CHECK(body.at("exist_running_deploy_task").is_bool());
        const auto& tasks = body.at("tasks").as_array();
        CHECK(tasks.size() <= 2);
        for (const auto& t : tasks) {
            auto type = std::string(t.at("type").as_string());
            CHECK((type == "auto-label" || type == "pre-label")); // omitted type: these two only
            CHECK(t.at("dataset_id").as_string() == dataset);
            seen.insert(std::string(t.at("task_id").as_string()));
        }
        if (tasks.size() < 2) break;
    }
    CHECK(static_cast<std::int64_t>(seen.size()) == total);

    auto bad_limit =
        test::signed_request(sim.address, good_key, bhttp_verb::get, path, {{"limit", "101"}});
    CHECK(bad_limit.status == 400);
    auto grouping = test::signed_request(sim.address, good_key, bhttp_verb::get, path,
                                         {{"type", "auto-grouping"}});
    REQUIRE(grouping.status == 200);
    const auto grouped = json::parse(grouping.body);
    for (const auto& t : grouped.at("tasks").as_array())
        CHECK(t.at("type").as_string() == "auto-grouping");
}

TEST_CASE("the control API sets a task's state and the task API then reports it") {
    running_sim sim;
    auto t = sim.some_task();
    auto set = sim.control_reply(
        bhttp_verb::patch, "/sim/tasks/" + t.task_id,
        R"({"status":"failed","progress":42.5,"error_code":"ModelArts.4355","error_msg":"boom"})");
    REQUIRE_MESSAGE(set.status == 200, set.body);
    auto r = sim.get(t);
    REQUIRE(r.status == 200);
    auto body = json::parse(r.body).as_object();
    CHECK(body.at("status").as_int64() == 2);
    CHECK(body.at("progress").as_double() == doctest::Approx(42.5));
    CHECK(body.at("error_code").as_string() == "ModelArts.4355");
    CHECK(body.at("error_msg").as_string() == "boom");

    auto bad =
        sim.control_reply(bhttp_verb::patch, "/sim/tasks/" + t.task_id, R"({"progress":"lots"})");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("progress") != std::string::npos);
}

TEST_CASE("GET /sim/transitions lists status changes in order, marks those a GET showed intact, "
          "and pages with since") {
    running_sim sim;
    auto t = sim.some_task();
    auto before = sim.control(bhttp_verb::get, "/sim/transitions").as_object();
    const auto since = before.at("recorded").to_number<std::uint64_t>();
    // The first patch is no transition if the task was running already.
    for (auto status : {"running", "stopping", "failed"})
        REQUIRE(sim.control_reply(bhttp_verb::patch, "/sim/tasks/" + t.task_id,
                                  std::string(R"({"status":")") + status + "\"}")
                    .status == 200);
    REQUIRE(sim.get(t).status == 200); // shows "failed", never "stopping"
    auto after =
        sim.control(bhttp_verb::get, "/sim/transitions?since=" + std::to_string(since)).as_object();
    const auto& items = after.at("transitions").as_array();
    std::vector<std::string> got;
    for (const auto& v : items) {
        const auto& o = v.as_object();
        if (o.at("task_id").as_string() != t.task_id) continue;
        got.push_back(std::string(o.at("from").as_string()) + "->" +
                      std::string(o.at("to").as_string()) +
                      (o.at("served").as_bool() ? " served" : ""));
        CHECK(o.at("seq").to_number<std::uint64_t>() > since);
    }
    REQUIRE(got.size() >= 2);
    CHECK(got[got.size() - 2] == "running->stopping");
    CHECK(got.back() == "stopping->failed served");
    CHECK(after.at("dropped").to_number<std::uint64_t>() == 0);
    CHECK(sim.control_reply(bhttp_verb::get, "/sim/transitions?since=x").status == 400);
    CHECK(sim.control_reply(bhttp_verb::delete_, "/sim/transitions").status == 204);
    CHECK(sim.control(bhttp_verb::get, "/sim/transitions").at("transitions").as_array().empty());
}

TEST_CASE("a task added through the control API can be fetched, and a deleted one gets 400 "
          "ModelArts.4338") {
    running_sim sim;
    auto some = sim.some_task();
    auto added =
        sim.control(bhttp_verb::post, "/sim/tasks",
                    R"({"dataset_id":")" + some.dataset_id +
                        R"(","task_id":"addedTask0000000001","status":"running","progress":5.0})");
    task_ref t{some.project_id, some.dataset_id, "addedTask0000000001"};
    CHECK(added.at("task_id").as_string() == t.task_id);
    auto before = sim.get(t);
    CHECK(before.status == 200);
    auto del = sim.control_reply(bhttp_verb::delete_, "/sim/tasks/" + t.task_id);
    CHECK(del.status == 204);
    auto after = sim.get(t);
    REQUIRE(after.status == 400);
    CHECK(error_body(after).at("error_code").as_string() == "ModelArts.4338");
}

TEST_CASE("an unknown API path gets 404 APIGW.0101") {
    running_sim sim;
    auto r = test::signed_request(sim.address, good_key, bhttp_verb::get,
                                  std::string("/v2/") + project + "/nothing-here");
    CHECK(r.status == 404);
    CHECK(error_body(r).at("error_code").as_string() == "APIGW.0101");
}

TEST_CASE("a forced 429 carries APIGW.0308 and Retry-After, then requests succeed again") {
    running_sim sim;
    auto t = sim.some_task();
    sim.control(bhttp_verb::post, "/sim/faults",
                R"({"kind":"429-retry-after","count":1,"retry_after":7})");
    auto throttled = sim.get(t);
    REQUIRE(throttled.status == 429);
    CHECK(throttled.header("Retry-After") == "7");
    CHECK(error_body(throttled).at("error_code").as_string() == "APIGW.0308");
    CHECK(sim.get(t).status == 200);

    sim.control(bhttp_verb::post, "/sim/faults", R"({"kind":"429","count":1})");
    auto plain = sim.get(t);
    CHECK(plain.status == 429);
    CHECK(plain.header("Retry-After").empty());
}

TEST_CASE("with --split-writes answers come as a chunked body after the head, intact, for tasks "
          "and errors alike") {
    running_sim sim({"--split-writes"});
    auto t = sim.some_task();
    auto r = sim.get(t);
    REQUIRE_MESSAGE(r.status == 200, r.body << r.error.message());
    CHECK(r.header("Transfer-Encoding") == "chunked");
    CHECK(r.header("Content-Length").empty());
    CHECK(json::parse(r.body).as_object().at("task_id").as_string() == t.task_id);
    // A second request on the same keep-alive connection kind works the same way.
    auto missing = sim.get(task_ref{t.project_id, t.dataset_id, "no-such-task"});
    CHECK(missing.status == 400);
    CHECK(missing.header("Transfer-Encoding") == "chunked");
    CHECK(error_body(missing).at("error_code").as_string() == "ModelArts.4338");
    // Control answers are written whole.
    sim.control(bhttp_verb::post, "/sim/faults",
                R"({"kind":"latency","ratio":1,"delay":"1ms..3ms"})");
    auto rules = sim.control(bhttp_verb::get, "/sim/faults");
    CHECK(rules.at("faults").as_array().at(0).at("delay_max_ms").as_int64() == 3);
    CHECK(sim.get(t).status == 200);
}

TEST_CASE("without --split-writes an answer carries its Content-Length and no chunking") {
    running_sim sim;
    auto r = sim.get(sim.some_task());
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
    CHECK(r.header("Transfer-Encoding").empty());
}

TEST_CASE("faults scoped to a path hit only that path, and --fault works from the command line") {
    running_sim sim({"--fault", "503:x1:path=/tasks/nomatch"});
    auto t = sim.some_task();
    CHECK(sim.get(t).status == 200); // the rule's path does not match
    sim.control(bhttp_verb::post, "/sim/faults",
                R"({"kind":"500","count":1,"path":")" + t.task_id + R"("})");
    CHECK(sim.get(t).status == 500);
    auto stats = sim.control(bhttp_verb::get, "/sim/stats").as_object();
    CHECK(stats.at("faults_injected").as_object().at("500").as_int64() == 1);
}

TEST_CASE("reset, truncated body, malformed JSON and TLS handshake faults fail the exchange the "
          "way they say") {
    running_sim sim;
    auto t = sim.some_task();

    sim.control(bhttp_verb::post, "/sim/faults", R"({"kind":"reset","count":1})");
    auto reset = sim.get(t);
    CHECK(reset.status == 0);
    CHECK(reset.error);

    sim.control(bhttp_verb::post, "/sim/faults", R"({"kind":"truncate","count":1})");
    auto cut = sim.get(t);
    CHECK(cut.status == 0);
    CHECK(cut.error);

    sim.control(bhttp_verb::post, "/sim/faults", R"({"kind":"malformed-json","count":1})");
    auto garbled = sim.get(t);
    CHECK(garbled.status == 200);
    boost::system::error_code ec;
    json::parse(garbled.body, ec);
    CHECK(ec);

    sim.control(bhttp_verb::post, "/sim/faults", R"({"kind":"tls-handshake","count":1})");
    auto handshake = sim.get(t);
    CHECK(handshake.status == 0);
    CHECK(handshake.error);
    CHECK(sim.get(t).status == 200);
}

TEST_CASE("a hang fault never answers while the server keeps serving others") {
    running_sim sim;
    auto t = sim.some_task();
    sim.control(bhttp_verb::post, "/sim/faults", R"({"kind":"hang","count":1})");
    auto hung = test::signed_request(sim.address, good_key, bhttp_verb::get, t.path(), {}, {}, {},
                                     {}, 400ms);
    CHECK(hung.status == 0);
    CHECK(hung.error == boost::asio::error::timed_out);
    CHECK(sim.get(t).status == 200);
}

TEST_CASE("an IAM token is issued for the right password, works as X-Auth-Token, and stops working "
          "when expired") {
    running_sim sim({"--token-ttl", "1s"});
    auto t = sim.some_task();
    const std::string request =
        R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"correct horse battery staple","domain":{"name":"acme"}}}},"scope":{"project":{"id":")" +
        t.project_id + R"("}}}})";
    auto issued = sim.control_reply(bhttp_verb::post, "/v3/auth/tokens", request);
    REQUIRE_MESSAGE(issued.status == 201, issued.body);
    auto token = issued.header("X-Subject-Token");
    REQUIRE(!token.empty());
    auto body = json::parse(issued.body).as_object();
    auto expires_at = std::string(body.at("token").at("expires_at").as_string());
    CHECK(std::regex_match(expires_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    CHECK(issued.body.find("correct horse") == std::string::npos);

    auto ok = test::http_request(sim.address, bhttp_verb::get, t.path(), {{"X-Auth-Token", token}});
    CHECK(ok.status == 200);

    // The token lives one second: after that the same request is refused as expired.
    std::this_thread::sleep_for(1100ms);
    auto expired =
        test::http_request(sim.address, bhttp_verb::get, t.path(), {{"X-Auth-Token", token}});
    REQUIRE(expired.status == 401);
    auto err = error_body(expired);
    CHECK(err.at("error_code").as_string() == "APIGW.0301");
    CHECK(std::string(err.at("error_msg").as_string()).find("expired") != std::string::npos);

    auto wrong =
        sim.control_reply(bhttp_verb::post, "/v3/auth/tokens",
                          std::regex_replace(request, std::regex("correct horse"), "wrong horse"));
    CHECK(wrong.status == 401);
    CHECK(json::parse(wrong.body).at("error").at("code").as_string() == "401");
}

TEST_CASE("the control endpoint expires tokens on demand and a token of another project gets 403") {
    running_sim sim;
    auto t = sim.some_task();
    auto issue = [&](const std::string& project_id) {
        auto r = sim.control_reply(
            bhttp_verb::post, "/v3/auth/tokens",
            R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"correct horse battery staple","domain":{"name":"acme"}}}},"scope":{"project":{"id":")" +
                project_id + R"("}}}})");
        REQUIRE(r.status == 201);
        return r.header("X-Subject-Token");
    };
    auto other = issue("ffffffffffffffffffffffffffffffff");
    CHECK(test::http_request(sim.address, bhttp_verb::get, t.path(), {{"X-Auth-Token", other}})
              .status == 403);
    auto token = issue(t.project_id);
    CHECK(test::http_request(sim.address, bhttp_verb::get, t.path(), {{"X-Auth-Token", token}})
              .status == 200);
    CHECK(sim.control_reply(bhttp_verb::post, "/sim/tokens/expire").status == 204);
    CHECK(test::http_request(sim.address, bhttp_verb::get, t.path(), {{"X-Auth-Token", token}})
              .status == 401);
}

TEST_CASE("temporary credentials need their signed X-Security-Token") {
    test::temp_dir dir("sim-sts");
    auto creds = dir.write("creds", "# ak sk token\nSTSAK01 sts-secret sts-token-value\n");
    running_sim sim({"--credentials-file", creds});
    auto t = sim.some_task();
    test::signing_key sts{"STSAK01", "sts-secret"};
    CHECK(sim.get(t, sts).status == 401);
    auto with_token = test::signed_request(sim.address, sts, bhttp_verb::get, t.path(), {},
                                           {{"X-Security-Token", "sts-token-value"}});
    CHECK(with_token.status == 200);
    auto wrong_token = test::signed_request(sim.address, sts, bhttp_verb::get, t.path(), {},
                                            {{"X-Security-Token", "another"}});
    CHECK(wrong_token.status == 401);
}

TEST_CASE("stats count requests by kind and status and report CPU seconds") {
    running_sim sim;
    auto t = sim.some_task();
    CHECK(sim.control_reply(bhttp_verb::delete_, "/sim/stats").status == 204);
    for (int i = 0; i < 3; ++i)
        CHECK(sim.get(t).status == 200);
    CHECK(sim.get(t, test::signing_key{good_key.ak, "bad"}).status == 401);
    auto stats = sim.control(bhttp_verb::get, "/sim/stats").as_object();
    CHECK(stats.at("requests_by_kind").at("get_task").as_int64() == 4);
    CHECK(stats.at("requests_by_status").at("200").as_int64() == 3);
    CHECK(stats.at("requests_by_status").at("401").as_int64() == 1);
    CHECK(stats.at("cpu_seconds").as_double() > 0);
    CHECK(stats.at("connections_accepted").as_int64() >= 5);
}

TEST_CASE("SIGTERM stops modelarts-sim cleanly with exit status 0") {
    running_sim sim;
    CHECK(sim.get(sim.some_task()).status == 200);
    sim.proc->send_signal(SIGTERM);
    auto code = sim.proc->wait(10s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
}

TEST_CASE("modelarts-sim rejects bad flags with exit status 2 and names the flag") {
    test::child_process p(test::bin_dir() + "/modelarts-sim",
                          {"--self-signed", "/tmp/x", "--tasks", "many"});
    CHECK(p.wait(10s) == 2);
    CHECK(p.stderr_text().find("--tasks") != std::string::npos);
    test::child_process q(test::bin_dir() + "/modelarts-sim",
                          {"--plain", "--ak", "A", "--sk-file", "/nonexistent/sk"});
    CHECK(q.wait(10s) == 1);
    CHECK(q.stderr_text().find("/nonexistent/sk") != std::string::npos);
}

TEST_CASE("without --static, spawned tasks appear and run to a terminal state with progress only "
          "rising") {
    running_sim sim({"--phase-seconds", "0.03", "--spawn-rate", "40", "--tasks", "0"}, false);
    // Poll the task API the way a watcher would until a spawned task has finished.
    std::optional<task_ref> watched;
    double last_progress = -1;
    int last_status = -2;
    bool finished = false;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
        if (!watched) {
            auto all = sim.control(bhttp_verb::get, "/sim/tasks");
            if (all.at("tasks").as_array().empty()) continue;
            const auto& t = all.at("tasks").as_array().back(); // oldest in its dataset
            watched = task_ref{std::string(t.at("project_id").as_string()),
                               std::string(t.at("dataset_id").as_string()),
                               std::string(t.at("task_id").as_string())};
        }
        auto r = sim.get(*watched);
        REQUIRE(r.status == 200);
        auto body = json::parse(r.body).as_object();
        const auto progress = body.at("progress").as_double();
        const auto status = static_cast<int>(body.at("status").as_int64());
        CHECK(progress >= last_progress);
        last_progress = progress;
        last_status = status;
        finished = status == 2 || status == 3 || status == 5;
    }
    CHECK(finished);
    CHECK(last_status >= 2);
    auto datasets = sim.control(bhttp_verb::get, "/sim/datasets").at("datasets").as_array();
    std::int64_t tasks = 0;
    for (const auto& d : datasets)
        tasks += d.at("task_count").as_int64();
    CHECK(tasks >= 3);
}

TEST_CASE("--list-offset-mode pages reads offset as a page number") {
    running_sim items_sim({"--tasks", "30", "--datasets", "1"});
    running_sim pages_sim({"--tasks", "30", "--datasets", "1", "--list-offset-mode", "pages"});
    auto ids = [](running_sim& sim, const std::string& offset) {
        auto t = sim.some_task();
        auto r =
            test::signed_request(sim.address, good_key, bhttp_verb::get,
                                 "/v2/" + t.project_id + "/datasets/" + t.dataset_id + "/tasks",
                                 {{"limit", "3"}, {"offset", offset}, {"type", "auto-label"}});
        REQUIRE(r.status == 200);
        std::vector<std::string> out;
        const auto body = json::parse(r.body);
        for (const auto& x : body.at("tasks").as_array())
            out.emplace_back(x.at("task_id").as_string());
        return out;
    };
    // Same seed, same world: page 1 of size 3 is items 3..5.
    auto by_items = ids(items_sim, "3");
    auto by_pages = ids(pages_sim, "1");
    REQUIRE(by_items.size() == 3);
    CHECK(by_items == by_pages);
    CHECK(ids(items_sim, "1") != by_pages);
}
