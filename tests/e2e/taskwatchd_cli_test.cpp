// taskwatchd as a user runs it: `get` against a real modelarts-sim, `--check-config` over
// broken files, and no secret in anything it prints.
#include "support/sim.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;

// taskwatchd with `args`, run to its end.
test::command_result run_taskwatchd(const std::vector<std::string>& args,
                                    const test::env_list& env = {},
                                    std::chrono::seconds timeout = 30s) {
    return test::run_command(test::bin_dir() + "/taskwatchd", args, env, timeout);
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

// A config that needs no server: --check-config and start-up read it, its secrets and its
// state_dir. `top` goes first (line 1); then state_dir, modelarts (auth on line 5 + lines of
// `top`) and one target.
std::string offline_config(const test::temp_dir& dir, const std::string& top = "",
                           const std::string& state_dir = "") {
    if (!std::filesystem::exists(dir.file("ak"))) dir.write("ak", "AKCHECKCONFIG00000000\n");
    if (!std::filesystem::exists(dir.file("sk"))) dir.write("sk", "sk-check-config-secret\n");
    return dir.write("config.yml",
                     top + "state_dir: " + (state_dir.empty() ? dir.file("state") : state_dir) +
                         "\n"
                         "modelarts:\n"
                         "  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
                         "  project_id: p1\n"
                         "  auth: {type: aksk, ak_file: ak, sk_file: sk}\n"
                         "targets:\n"
                         "  - dataset_id: d1\n");
}

// Both commands that read the config: each must give `line` and exit 1 within 10 s (a reader
// that blocks on a FIFO would hang them).
void check_both_refuse(const std::string& config, const std::string& line) {
    for (auto args : {std::vector<std::string>{"--config", config, "--check-config"},
                      std::vector<std::string>{"--config", config}}) {
        CAPTURE(args.size());
        auto r = run_taskwatchd(args, {}, 10s);
        CHECK(r.status == 1);
        CHECK(r.err == line + "\n");
    }
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

TEST_CASE("a FIFO or /dev/zero as config is refused at once, naming the file") {
    test::temp_dir dir;
    const auto fifo = dir.file("config.yml");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_both_refuse(fifo, fifo + ": cannot read: not a regular file (a FIFO)");
    check_both_refuse("/dev/zero",
                      "/dev/zero: cannot read: not a regular file (a character device)");
    std::filesystem::create_symlink("/dev/zero", dir.file("zero.yml"));
    check_both_refuse(dir.file("zero.yml"),
                      dir.file("zero.yml") +
                          ": cannot read: not a regular file (a character device)");
}

TEST_CASE("a FIFO as sk_file is refused at once, naming the key and the file") {
    test::temp_dir dir;
    REQUIRE(::mkfifo(dir.file("sk").c_str(), 0600) == 0);
    const auto config = offline_config(dir);
    check_both_refuse(config, config + ":5: modelarts.auth.sk_file: cannot read " + dir.file("sk") +
                                  ": not a regular file (a FIFO)");
}

TEST_CASE("--check-config refuses a listen address the daemon could not listen on") {
    test::temp_dir dir;
    auto config = offline_config(dir, "listen: 999.1.1.1:80\n");
    check_both_refuse(config, config +
                                  ":1: listen: \"999.1.1.1\" is not an IP address (expected an "
                                  "IPv4 address, [an IPv6 address], localhost or nothing before "
                                  "the port)");
    // A well-formed address of no interface of this machine: bind says so, at start-up and now.
    config = offline_config(dir, "listen: 192.0.2.1:80\n");
    auto r = run_taskwatchd({"--config", config, "--check-config"}, {}, 10s);
    CHECK(r.status == 1);
    CHECK(r.err == config + ":1: listen: cannot listen on 192.0.2.1:80: Cannot assign requested "
                            "address\n");
    CHECK(!std::filesystem::exists(dir.file("state"))); // nothing created by the check
}

TEST_CASE("--check-config refuses a state_dir the daemon could not open, and creates nothing") {
    namespace fs = std::filesystem;
    test::temp_dir dir;
    dir.write("plain", "a regular file\n");

    // Below a regular file: the daemon could not create it.
    auto config = offline_config(dir, "", dir.file("plain/state"));
    auto r = run_taskwatchd({"--config", config, "--check-config"}, {}, 10s);
    CHECK(r.status == 1);
    CHECK(r.err == config + ":1: state_dir: " + dir.file("plain/state") +
                       ": cannot create the state directory: Not a directory\n");
    auto start = run_taskwatchd({"--config", config}, {}, 10s);
    CHECK(start.status == 1);

    // A regular file itself.
    config = offline_config(dir, "", dir.file("plain"));
    r = run_taskwatchd({"--config", config, "--check-config"}, {}, 10s);
    CHECK(r.status == 1);
    CHECK(r.err == config + ":1: state_dir: " + dir.file("plain") +
                       ": cannot create the state directory: Not a directory\n");

    // A taskwatch.db that is not a database: start-up refuses it, so does the check.
    fs::create_directory(dir.file("foreign"));
    dir.write("foreign/taskwatch.db", std::string(4096, 'x'));
    config = offline_config(dir, "", dir.file("foreign"));
    r = run_taskwatchd({"--config", config, "--check-config"}, {}, 10s);
    CHECK(r.status == 1);
    CHECK(r.err == config + ":1: state_dir: " + dir.file("foreign/taskwatch.db") +
                       " is not a SQLite database (not a taskwatch state database)\n");

    // A state_dir that does not exist yet is fine, and the check leaves it absent.
    config = offline_config(dir, "", dir.file("new/state"));
    r = run_taskwatchd({"--config", config, "--check-config"}, {}, 10s);
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK(!fs::exists(dir.file("new")));
}
