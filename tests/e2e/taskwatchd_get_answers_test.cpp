// `taskwatchd get` against a small HTTPS server that answers what the test says: answers the
// real service should never give (a redirect, a number no double holds, another task's id)
// must end in one clear line or valid JSON, never in a wrong task.
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/test_https_server.hpp"

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <thread>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr const char* dataset = "WxCREuCkBSAlQr9xrde";
constexpr const char* task_asked = "jMZGm2SBp4Ymr2wrhAK";

/// A test HTTPS server on its own thread, answering every request with `answer`.
struct fake_modelarts {
    test::temp_dir dir{"taskwatch-get"};
    test::test_ca ca;
    test::pem_pair cert = ca.issue("127.0.0.1", "IP:127.0.0.1");
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    test::test_https_server server;
    std::thread thread;

    explicit fake_modelarts(test::test_server_options answer)
        : server(io.get_executor(), &cert, std::move(answer)) {
        ca.write_cert(dir.file("ca.pem"));
        thread = std::thread([this] { io.run(); });
    }
    ~fake_modelarts() {
        asio::post(io, [this] { server.stop(); });
        work.reset();
        io.stop();
        thread.join();
    }

    std::string config() {
        dir.write("ak", "TESTAK0000000000001\n");
        dir.write("sk", "test-secret-key\n");
        return dir.write("config.yml", "state_dir: " + dir.file("state") +
                                           "\nmodelarts:\n  endpoint: https://127.0.0.1:" +
                                           std::to_string(server.port()) +
                                           "\n  project_id: 0123456789abcdef0123456789abcdef"
                                           "\n  ca_file: " +
                                           dir.file("ca.pem") +
                                           "\n  timeout: 5s\n  auth: {type: aksk, ak_file: ak, "
                                           "sk_file: sk}\ntargets:\n  - dataset_id: " +
                                           dataset + "\n");
    }
};

test::command_result run_get(fake_modelarts& fake) {
    return test::run_command(
        test::bin_dir() + "/taskwatchd",
        {"get", "--config", fake.config(), "--dataset", dataset, "--task", task_asked},
        {{"https_proxy", ""}, {"HTTPS_PROXY", ""}, {"all_proxy", ""}});
}

test::test_server_options json_answer(std::string body) {
    test::test_server_options o;
    o.content_type = "application/json";
    o.body = std::move(body);
    return o;
}

} // namespace

TEST_CASE("taskwatchd get: a redirect is an error that says where it pointed, without the query") {
    test::test_server_options o;
    o.status = 302;
    o.body = "";
    o.headers = {{"Location", "https://elsewhere.example.com/v2/login?ticket=s3cr3t&x=1"}};
    fake_modelarts fake(o);
    auto r = run_get(fake);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("taskwatchd get: client_error: HTTP 302 redirect to "
                             "https://elsewhere.example.com/v2/login, not followed") !=
                      std::string::npos,
                  r.err);
    CHECK(r.err.find("s3cr3t") == std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("taskwatchd get: a number too large for a double still prints valid JSON") {
    fake_modelarts fake(json_answer(std::string(R"({"task_id":")") + task_asked +
                                    R"(","status":1,"progress":1e400,"config":{"x":-1e400}})"));
    auto r = run_get(fake);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    boost::json::value doc;
    CHECK_NOTHROW(doc = boost::json::parse(r.out));
    CHECK_MESSAGE(r.out.find("Infinity") == std::string::npos, r.out);
    CHECK_MESSAGE(r.out.find("inf") == std::string::npos, r.out);
    if (doc.is_object()) {
        CHECK(doc.at("task_id").as_string() == task_asked);
        CHECK(doc.at("progress").is_null());
    }
}

TEST_CASE("taskwatchd get: an answer about another task is malformed and names both ids") {
    fake_modelarts fake(
        json_answer(R"({"task_id":"someOtherTask0000001","status":1,"progress":42.5})"));
    auto r = run_get(fake);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("taskwatchd get: malformed:") == 0, r.err);
    CHECK_MESSAGE(r.err.find("someOtherTask0000001") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(task_asked) != std::string::npos, r.err);
}
