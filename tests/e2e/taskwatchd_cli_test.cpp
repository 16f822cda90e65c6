// taskwatchd as a user runs it: `get` against a real modelarts-sim, `--check-config` over
// broken files, and no secret in anything it prints.
#include "sim_process.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;

struct run_result {
    int status = -1;
    std::string out, err;
};

run_result run_taskwatchd(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& env = {}) {
    test::child_process p(test::bin_dir() + "/taskwatchd", args, env);
    run_result r;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (auto line = p.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now()))) {
        r.out += *line;
        r.out += '\n';
    }
    r.status = p.wait(5s).value_or(-1);
    r.err = p.stderr_text();
    return r;
}

// A config for the simulator; `auth` is the YAML of modelarts.auth, indented by four.
std::string write_config(test::sim_process& sim, const std::string& auth,
                         const std::string& dataset, const std::string& log_level = "debug") {
    std::string yml = "state_dir: " + sim.dir.file("state") +
                      "\n"
                      "log_level: " +
                      log_level +
                      "\n"
                      "modelarts:\n"
                      "  endpoint: " +
                      sim.url() +
                      "\n"
                      "  project_id: " +
                      sim.account.project +
                      "\n"
                      "  ca_file: " +
                      sim.ca_file() +
                      "\n"
                      "  timeout: 5s\n"
                      "  auth:\n" +
                      auth +
                      "targets:\n"
                      "  - dataset_id: " +
                      dataset + "\n";
    return sim.dir.write("config.yml", yml);
}

std::string aksk_auth(test::sim_process& sim, const std::string& sk) {
    sim.dir.write("ak", sim.account.ak + "\n");
    sim.dir.write("sk", sk + "\n");
    return "    type: aksk\n    ak_file: ak\n    sk_file: sk\n";
}

} // namespace

TEST_CASE("taskwatchd get prints the task as JSON") {
    test::sim_process sim({"--static", "--tasks", "4", "--datasets", "1"});
    auto t = sim.tasks().at(0).as_object();
    std::string dataset(t.at("dataset_id").as_string()), task(t.at("task_id").as_string());
    auto cfg = write_config(sim, aksk_auth(sim, sim.account.sk), dataset);
    auto r = run_taskwatchd({"get", "--config", cfg, "--dataset", dataset, "--task", task});
    CHECK_MESSAGE(r.status == 0, r.err);
    auto doc = boost::json::parse(r.out);
    CHECK(doc.at("task_id").as_string() == task);
    CHECK(doc.at("status").to_number<int>() == t.at("status").to_number<int>());
    CHECK(doc.at("result").is_object());
}

TEST_CASE("taskwatchd get with a wrong SK exits 1 naming the failure, and never prints the SK") {
    test::sim_process sim({"--static", "--tasks", "1"});
    auto t = sim.tasks().at(0).as_object();
    std::string dataset(t.at("dataset_id").as_string()), task(t.at("task_id").as_string());
    const std::string wrong_sk = "WRONG-secret-key-that-must-not-leak-7731";
    auto cfg = write_config(sim, aksk_auth(sim, wrong_sk), dataset);
    auto r = run_taskwatchd({"get", "--config", cfg, "--dataset", dataset, "--task", task});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("auth: HTTP 401 APIGW.0301") != std::string::npos, r.err);
    CHECK(r.err.find("request_id") != std::string::npos);
    CHECK(r.err.find(wrong_sk) == std::string::npos);
    CHECK(r.out.find(wrong_sk) == std::string::npos);
    CHECK(r.err.find(wrong_sk.substr(0, 12)) == std::string::npos);
}

TEST_CASE("taskwatchd get with IAM token auth works, and a wrong password is never printed") {
    test::sim_process sim({"--static", "--tasks", "1"});
    auto t = sim.tasks().at(0).as_object();
    std::string dataset(t.at("dataset_id").as_string()), task(t.at("task_id").as_string());
    auto token_auth = [&](const std::string& password) {
        sim.dir.write("password", password + "\n");
        return "    type: token\n    iam_endpoint: " + sim.url() +
               "\n    domain_name: " + sim.account.iam_domain +
               "\n    user_name: " + sim.account.iam_user + "\n    password_file: password\n";
    };
    auto good = run_taskwatchd({"get", "--config",
                                write_config(sim, token_auth(sim.account.iam_password), dataset),
                                "--dataset", dataset, "--task", task});
    CHECK_MESSAGE(good.status == 0, good.err);
    CHECK(boost::json::parse(good.out).at("task_id").as_string() == task);
    CHECK(good.err.find(sim.account.iam_password) == std::string::npos);

    const std::string wrong = "wrong-password-that-must-not-leak-5521";
    auto bad = run_taskwatchd({"get", "--config", write_config(sim, token_auth(wrong), dataset),
                               "--dataset", dataset, "--task", task});
    CHECK(bad.status == 1);
    CHECK_MESSAGE(bad.err.find("auth: HTTP 401") != std::string::npos, bad.err);
    CHECK(bad.err.find(wrong) == std::string::npos);
    CHECK(bad.out.find(wrong) == std::string::npos);
}

TEST_CASE("taskwatchd get against an untrusted server fails as tls") {
    test::sim_process sim({"--static", "--tasks", "1"});
    auto cfg = write_config(sim, aksk_auth(sim, sim.account.sk), "d");
    // The system store does not know the simulator's CA.
    auto text = test::read_file(cfg);
    auto pos = text.find("  ca_file:");
    text.erase(pos, text.find('\n', pos) - pos + 1);
    sim.dir.write("config.yml", text);
    auto r = run_taskwatchd({"get", "--config", cfg, "--dataset", "d", "--task", "t"});
    CHECK(r.status == 1);
    CHECK_MESSAGE(r.err.find("taskwatchd get: tls:") != std::string::npos, r.err);
}

TEST_CASE("--check-config gives the expected line for every broken configuration") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::canonical(TASKWATCH_TEST_DATA "/config");
    int checked = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".expected") continue;
        auto yml = entry.path();
        yml.replace_extension(".yml");
        auto expected = test::read_file(entry.path().string());
        while (!expected.empty() && expected.back() == '\n')
            expected.pop_back();
        for (auto [placeholder, value] :
             {std::pair<std::string, std::string>{"@FILE@", yml.string()},
              {"@DIR@", dir.string()}}) {
            for (auto p = expected.find(placeholder); p != std::string::npos;
                 p = expected.find(placeholder))
                expected.replace(p, placeholder.size(), value);
        }
        CAPTURE(yml.filename().string());
        auto r = run_taskwatchd({"--config", yml.string(), "--check-config"});
        CHECK(r.status == 1);
        CHECK(r.err == expected + "\n");
        ++checked;
    }
    CHECK(checked >= 10);
    auto ok = run_taskwatchd({"--config", (dir / "valid_minimal.yml").string(), "--check-config"});
    CHECK_MESSAGE(ok.status == 0, ok.err);
    CHECK(ok.out.find(": ok:") != std::string::npos);
}

TEST_CASE("usage errors exit 2, --version exits 0") {
    auto bad = run_taskwatchd({"--frobnicate"});
    CHECK(bad.status == 2);
    CHECK(bad.err.find("unknown argument '--frobnicate'") != std::string::npos);
    auto v = run_taskwatchd({"--version"});
    CHECK(v.status == 0);
    CHECK(v.out.rfind("taskwatchd ", 0) == 0);
}
