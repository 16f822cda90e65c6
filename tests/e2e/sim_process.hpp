// A modelarts-sim child process with a generated CA, one AK/SK pair and one IAM user,
// for tests of anything that talks to ModelArts.
#pragma once

#include "https_client.hpp"
#include "process.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace taskwatch::test {

struct sim_account {
    std::string project = "0123456789abcdef0123456789abcdef";
    std::string ak = "SIMTESTAK0000000001";
    std::string sk = "sim-test-secret-key-0001";
    std::string iam_user = "alice";
    std::string iam_domain = "acme";
    std::string iam_password = "correct horse battery staple";
};

class sim_process {
public:
    explicit sim_process(std::vector<std::string> extra = {}, sim_account acct = {})
        : account(std::move(acct)) {
        const auto sk = dir.write("sim-sk", account.sk + "\n");
        const auto pw = dir.write("sim-password", account.iam_password + "\n");
        const bool own_cert = std::find(extra.begin(), extra.end(), "--cert") != extra.end();
        std::vector<std::string> args{"--ak",
                                      account.ak,
                                      "--sk-file",
                                      sk,
                                      "--iam-user",
                                      account.iam_user,
                                      "--iam-domain",
                                      account.iam_domain,
                                      "--iam-password-file",
                                      pw,
                                      "--project-id",
                                      account.project};
        if (!own_cert) {
            args.push_back("--self-signed");
            args.push_back(dir.file("tls"));
        }
        args.insert(args.end(), extra.begin(), extra.end());
        proc.emplace(bin_dir() + "/modelarts-sim", args);
        auto line = proc->wait_for_line(std::regex(R"(^listening on https://127\.0\.0\.1:\d+$)"),
                                        std::chrono::seconds(10));
        REQUIRE_MESSAGE(line, "modelarts-sim did not start; stderr: " << proc->stderr_text());
        address.port = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
        address.ca_file = dir.file("tls/ca.pem");
    }

    std::string url() const { return "https://127.0.0.1:" + std::to_string(address.port); }
    const std::string& ca_file() const { return address.ca_file; }

    boost::json::value control(boost::beast::http::verb method, const std::string& target,
                               const std::string& body = {}) {
        auto r = http_request(address, method, target, {}, body);
        REQUIRE_MESSAGE(r.status / 100 == 2,
                        target << " -> " << r.status << " " << r.body << " " << r.error.message());
        if (r.body.empty()) return nullptr;
        return boost::json::parse(r.body);
    }
    boost::json::value stats() { return control(boost::beast::http::verb::get, "/sim/stats"); }
    std::uint64_t requests_of_kind(const char* kind) {
        return stats().at("requests_by_kind").at(kind).to_number<std::uint64_t>();
    }
    void add_fault(const std::string& json_rule) {
        control(boost::beast::http::verb::post, "/sim/faults", json_rule);
    }
    /// Every task the simulator holds: {project_id, dataset_id, task_id, ...}.
    boost::json::array tasks() {
        return control(boost::beast::http::verb::get, "/sim/tasks").at("tasks").as_array();
    }

    sim_account account;
    temp_dir dir{"sim"};
    std::optional<child_process> proc;
    server_address address;
};

} // namespace taskwatch::test
