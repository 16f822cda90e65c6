// The README's configuration reference and the loader agree: every key the reference lists is
// set in one of two configs (AK/SK and token authentication) that load without error, and
// every key those configs set is in the reference.
#include "taskwatch/config/settings.hpp"
#include "taskwatch/detail/yaml.hpp"

#include "support/environment.hpp"
#include "support/files.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace taskwatch;

namespace {

const std::string readme_path = TASKWATCH_TEST_DATA "/../../README.md";

// Every key of the README's "## Configuration" tables: the first cell's backticked names,
// `a.b.c`, then siblings of its last part (`a.b.c`, `d` / `e` is a.b.c, a.b.d and a.b.e).
std::set<std::string> reference_keys() {
    std::ifstream in(readme_path);
    REQUIRE(in);
    std::set<std::string> out;
    bool in_section = false;
    static const std::regex backticked("`([^`]+)`");
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("## ")) in_section = line == "## Configuration";
        if (line.starts_with("### ")) in_section = false; // the key table comes first
        if (!in_section || !line.starts_with("| `")) continue;
        const auto cell = line.substr(1, line.find('|', 1) - 1);
        std::string prefix;
        bool first = true;
        for (std::sregex_iterator it(cell.begin(), cell.end(), backticked), end; it != end; ++it) {
            const std::string name = (*it)[1];
            if (first) {
                out.insert(name);
                const auto dot = name.rfind('.');
                prefix = dot == std::string::npos ? "" : name.substr(0, dot + 1);
                first = false;
            } else {
                out.insert(prefix + name);
            }
        }
    }
    return out;
}

// The key paths a YAML document sets: `a.b`, `list[].key`; `leaves` only those whose value is
// not a mapping (a section such as `poll` is no setting of its own).
void collect(detail::yaml::node n, const std::string& path, std::set<std::string>& out,
             std::set<std::string>& leaves) {
    if (n.is_mapping()) {
        for (std::size_t i = 0; i < n.size(); ++i) {
            const auto key = path.empty() ? std::string(n.key(i).text())
                                          : path + "." + std::string(n.key(i).text());
            out.insert(key);
            if (!n.value(i).is_mapping()) leaves.insert(key);
            collect(n.value(i), key, out, leaves);
        }
    } else if (n.is_sequence()) {
        for (std::size_t i = 0; i < n.size(); ++i)
            collect(n.item(i), path + "[]", out, leaves);
    }
}

// Every key of CONTRACT.md and the README, once; the values are valid.
const char* const with_aksk = R"(listen: 127.0.0.1:9817
web_config_file: web.yml
state_dir: /var/lib/taskwatch
log_level: info
modelarts:
  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com
  project_id: 0123456789abcdef
  auth:
    type: aksk
    ak_file: ak
    sk_file: sk
    security_token_file: token
  ca_file: ca.pem
  proxy: http://proxy:3128
  timeout: 10s
  max_connections: 16
  max_requests_per_second: 20
poll:
  interval: 15s
  finished_interval: 10m
  jitter: 0.1
  stall_after: 30m
  forget_finished_after: 24h
targets:
  - dataset_id: d1
    task_ids: [t1, t2]
    labels: {team: vision}
  - dataset_id: d9
    project_id: fedcba9876543210
    endpoint: https://modelarts.cn-east-3.myhuaweicloud.com
webhooks:
  - name: ops
    url: https://hooks.example.com/modelarts
    format: generic
    secret_file: hook.secret
    events: [task.status_changed, task.stalled, task.gone]
    progress_step: 0.25
    match_labels: {team: vision}
    max_attempts: 12
    timeout: 10s
    ca_file: ca.pem
    proxy: http://proxy:3128
    headers: {Authorization: {file: hook.token}}
  - name: chat
    url: https://open.feishu.cn/open-apis/bot/v2/hook/x
    format: feishu
    template: "{task_name}: {status}"
  - name: am
    format: alertmanager
    urls: [http://am1:9093, http://am2:9093]
external_url: https://taskwatch.example.com/
shard: {index: 0, count: 1}
)";

const char* const with_token = R"(modelarts:
  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com
  project_id: 0123456789abcdef
  auth:
    type: token
    iam_endpoint: https://iam.cn-north-4.myhuaweicloud.com
    domain_name: acme
    user_name: watcher
    password_file: password
targets:
  - dataset_id: d1
)";

} // namespace

TEST_CASE("every key of the README's configuration reference loads, and every key loaded is in "
          "the reference") {
    test::temp_dir conf;
    for (const char* f : {"ak", "sk", "token", "password", "hook.secret", "hook.token"})
        conf.write(f, std::string("value-of-") + f + "\n");
    conf.write("web.yml", "tls_server_config: {}\n");
    conf.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    const auto env = test::fake_env();

    std::set<std::string> loaded, settings;
    for (const char* text : {with_aksk, with_token}) {
        CHECK_NOTHROW(config::parse_settings(text, conf.file("c.yml"), env));
        detail::yaml::tree doc(text);
        collect(doc.document(0), "", loaded, settings);
    }
    const auto reference = reference_keys();
    REQUIRE(reference.size() > 30);
    for (const auto& key : reference) {
        CAPTURE(key);
        CHECK(loaded.count(key) == 1); // documented, and accepted by the loader
    }
    for (const auto& key : settings) {
        // Values under labels, match_labels and headers are the user's names, not keys.
        if (key.find("labels.") != std::string::npos || key.find("headers.") != std::string::npos)
            continue;
        CAPTURE(key);
        CHECK(reference.count(key) == 1); // loaded, so it must be documented
    }
}
