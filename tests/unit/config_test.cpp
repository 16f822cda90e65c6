#include "taskwatch/config/settings.hpp"

#include "support/environment.hpp"
#include "support/files.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>

using namespace taskwatch;
using namespace taskwatch::config;
using namespace std::chrono_literals;
using taskwatch::test::fake_env;
using taskwatch::test::temp_dir;

namespace {

const std::string data_dir = TASKWATCH_TEST_DATA "/config";
const std::string example_path = TASKWATCH_TEST_DATA "/../../etc/taskwatch.example.yml";

std::string read_text(const std::string& path) {
    auto text = taskwatch::test::read_file(path);
    REQUIRE_MESSAGE(!text.empty(), path << " is empty or cannot be read");
    return text;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
    return s;
}

// The message of the config_error that `f` throws; fails the test when it throws none.
template <class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.what();
    }
    FAIL("no config_error thrown");
    return {};
}

const auth::environment env_keys =
    fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"}, {"HUAWEICLOUD_SDK_SK", "SKENV"}});

// A valid config: `in_modelarts` goes inside the modelarts section (indented by two),
// `after` at the top level after the targets.
std::string minimal(std::string_view after = {}, std::string_view in_modelarts = {}) {
    return "modelarts:\n"
           "  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
           "  project_id: p1\n" +
           std::string(in_modelarts) +
           "targets:\n"
           "  - dataset_id: d1\n" +
           std::string(after);
}

std::string problem_of(std::string_view yaml, const auth::environment& env = env_keys) {
    return error_of([&] { parse_settings(yaml, "/etc/taskwatch/config.yml", env); });
}

// How every message of problem_of() starts: the file, then the line number if there is one.
const std::string at = "/etc/taskwatch/config.yml:";

// A config that must not load, and the one line it must fail with.
struct bad_config {
    const char* name; ///< what is wrong with it, for the failure report
    std::string yaml;
    std::string error;
    auth::environment env = env_keys;
};

// Each of `cases` fails to load with exactly its error.
void check_problems(std::initializer_list<bad_config> cases) {
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(problem_of(c.yaml, c.env) == c.error);
    }
}

} // namespace

TEST_CASE("the example config loads to exactly the values it shows") {
    temp_dir conf;
    temp_dir creds;
    conf.write("web.yml", "tls_server_config: {}\n");
    creds.write("ak", "EXAMPLEAK\n");
    creds.write("sk", "EXAMPLESK\n");
    creds.write("security_token", "EXAMPLETOKEN\n");
    creds.write("hook.token", "Bearer EXAMPLETOKEN\n");
    creds.write("webhook.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    auto s = parse_settings(read_text(example_path), conf.file("config.yml"),
                            fake_env({{"CREDENTIALS_DIRECTORY", creds.str()}}));

    CHECK(s.source_path == conf.file("config.yml"));
    CHECK(s.listen == "127.0.0.1:9817");
    CHECK(s.web_config_file == conf.file("web.yml"));
    CHECK(s.state_dir == "/var/lib/taskwatch");
    CHECK(s.log_level == taskwatch::log::level::info);

    CHECK(s.modelarts.endpoint.to_string() == "https://modelarts.cn-north-4.myhuaweicloud.com");
    CHECK(s.modelarts.project_id == "0123456789abcdef");
    CHECK(s.modelarts.auth.type == modelarts_auth::type_t::aksk);
    const auto* aksk = std::get_if<auth::aksk_credentials>(&s.modelarts.auth.credentials);
    REQUIRE(aksk != nullptr);
    CHECK(aksk->access_key == "EXAMPLEAK");
    CHECK(aksk->secret_key.reveal() == "EXAMPLESK");
    REQUIRE(aksk->security_token.has_value());
    CHECK(aksk->security_token->reveal() == "EXAMPLETOKEN");
    CHECK(s.modelarts.ca_file == "/etc/ssl/certs/ca-certificates.crt");
    REQUIRE(s.modelarts.proxy.has_value());
    CHECK(s.modelarts.proxy->server.to_string() == "http://proxy.internal:3128");
    CHECK(s.modelarts.proxy->credentials.empty());
    CHECK(s.modelarts.timeout == 10s);
    CHECK(s.modelarts.max_connections == 16);
    CHECK(s.modelarts.max_requests_per_second == 20.0);

    CHECK(s.poll.interval == 15s);
    CHECK(s.poll.finished_interval == 10min);
    CHECK(s.poll.jitter == 0.1);
    CHECK(s.poll.stall_after == 30min);
    CHECK(s.poll.forget_finished_after == 24h);

    REQUIRE(s.targets.size() == 2);
    CHECK(s.targets[0].dataset_id == "d1");
    CHECK(s.targets[0].task_ids == std::vector<std::string>{"t1", "t2"});
    CHECK(s.targets[0].labels == std::map<std::string, std::string>{{"team", "vision"}});
    CHECK_FALSE(s.targets[0].project_id.has_value());
    CHECK_FALSE(s.targets[0].endpoint.has_value());
    CHECK(project_id_of(s, s.targets[0]) == "0123456789abcdef");
    CHECK(endpoint_of(s, s.targets[0]).to_string() ==
          "https://modelarts.cn-north-4.myhuaweicloud.com");
    CHECK(s.targets[1].dataset_id == "d9");
    CHECK_FALSE(s.targets[1].task_ids.has_value());
    CHECK(s.targets[1].labels.empty());
    CHECK(s.targets[1].project_id == "fedcba9876543210");
    CHECK(s.targets[1].endpoint->to_string() == "https://modelarts.cn-east-3.myhuaweicloud.com");
    CHECK(project_id_of(s, s.targets[1]) == "fedcba9876543210");
    CHECK(endpoint_of(s, s.targets[1]).to_string() ==
          "https://modelarts.cn-east-3.myhuaweicloud.com");

    REQUIRE(s.webhooks.size() == 3);
    const auto& ops = s.webhooks[0];
    CHECK(ops.name == "ops");
    CHECK(ops.urls.at(0).to_string() == "https://hooks.example.com/modelarts");
    CHECK(ops.format == webhook_format::generic);
    REQUIRE(ops.secret.has_value());
    CHECK(ops.secret->reveal() == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    using task::event_type;
    CHECK(ops.events == std::vector<event_type>{event_type::status_changed, event_type::progress,
                                                event_type::stalled, event_type::gone});
    CHECK(ops.wants(event_type::stalled));
    CHECK_FALSE(ops.wants(event_type::discovered));
    CHECK(ops.progress_step == 0.25);
    CHECK(ops.max_attempts == 12);
    CHECK(ops.match_labels == std::map<std::string, std::string>{{"team", "vision"}});
    CHECK(ops.timeout == std::chrono::seconds(10));
    CHECK_FALSE(ops.ca_file.has_value());
    CHECK_FALSE(ops.proxy.has_value());
    REQUIRE(ops.headers.size() == 2);
    CHECK(ops.headers[0].name == "Authorization");
    CHECK(ops.headers[0].value.reveal() == "Bearer EXAMPLETOKEN");
    CHECK(ops.headers[1].name == "X-Source");
    CHECK(ops.headers[1].value.reveal() == "taskwatch");
    const auto& chat = s.webhooks[1];
    CHECK(chat.name == "chat");
    CHECK(chat.format == webhook_format::feishu);
    CHECK_FALSE(chat.secret.has_value());
    CHECK(chat.events.size() == std::size(task::event_type_names));
    CHECK_FALSE(chat.progress_step.has_value());
    CHECK(chat.max_attempts == 12);
    CHECK(chat.template_text == "{task_name}: {previous_status} -> {status} ({progress}) {link}");
    const auto& am = s.webhooks[2];
    CHECK(am.format == webhook_format::alertmanager);
    REQUIRE(am.urls.size() == 1);
    CHECK(am.urls[0].to_string() == "http://127.0.0.1:9093/");
    CHECK(s.external_url == "https://taskwatch.example.com/");
}

TEST_CASE("state_dir left out is systemd's StateDirectory= ($STATE_DIRECTORY), else the default") {
    auto with_state = [](std::string value) {
        return fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"},
                         {"HUAWEICLOUD_SDK_SK", "SKENV"},
                         {"STATE_DIRECTORY", std::move(value)}});
    };
    const std::string path = "/etc/taskwatch/vision.yml";
    CHECK(parse_settings(minimal(), path, with_state("/var/lib/taskwatch-vision")).state_dir ==
          "/var/lib/taskwatch-vision");
    // Several directories (StateDirectory=a b): the first.
    CHECK(parse_settings(minimal(), path, with_state("/var/lib/a:/var/lib/b")).state_dir ==
          "/var/lib/a");
    // systemd only ever sets absolute paths; anything else is not its, and is ignored.
    CHECK(parse_settings(minimal(), path, with_state("relative")).state_dir ==
          "/var/lib/taskwatch");
    CHECK(parse_settings(minimal(), path, with_state("")).state_dir == "/var/lib/taskwatch");
    // The config's own state_dir wins.
    CHECK(
        parse_settings(minimal("state_dir: /srv/tw\n"), path, with_state("/var/lib/x")).state_dir ==
        "/srv/tw");
}

TEST_CASE("keys left out take their documented defaults") {
    auto s = parse_settings(minimal(), "/etc/taskwatch/config.yml", env_keys);
    settings defaults;
    CHECK(s.listen == "127.0.0.1:9817");
    CHECK_FALSE(s.web_config_file.has_value());
    CHECK(s.state_dir == "/var/lib/taskwatch");
    CHECK(s.log_level == taskwatch::log::level::info);
    CHECK(s.modelarts.auth.type == modelarts_auth::type_t::aksk);
    CHECK_FALSE(s.modelarts.ca_file.has_value());
    CHECK_FALSE(s.modelarts.proxy.has_value());
    CHECK(s.modelarts.timeout == 10s);
    CHECK(s.modelarts.max_connections == 16);
    CHECK(s.modelarts.max_requests_per_second == 20.0);
    CHECK(s.poll == defaults.poll);
    CHECK(s.poll.interval == 15s);
    CHECK(s.poll.finished_interval == 10min);
    CHECK(s.poll.jitter == 0.1);
    CHECK(s.poll.stall_after == 30min);
    CHECK(s.poll.forget_finished_after == 24h);
    CHECK(s.webhooks.empty());

    auto w = parse_settings(minimal("webhooks:\n  - {name: a, url: 'http://127.0.0.1:9/x'}\n"),
                            "/etc/taskwatch/config.yml", env_keys);
    REQUIRE(w.webhooks.size() == 1);
    CHECK(w.webhooks[0].format == webhook_format::generic);
    std::vector<task::event_type> every_type;
    for (const auto& [type, name] : task::event_type_names)
        every_type.push_back(type);
    CHECK(w.webhooks[0].events == every_type);
    CHECK(w.webhooks[0].max_attempts == 12);
    CHECK_FALSE(w.webhooks[0].progress_step.has_value());
    CHECK_FALSE(w.webhooks[0].secret.has_value());
}

TEST_CASE("shard: picks this instance's share of the tasks and of the account's request rate") {
    auto whole = parse_settings(minimal(), "/c.yml", env_keys);
    CHECK(whole.shard == task::shard{0, 1});
    CHECK(request_rate_of(whole) == 20.0);

    auto third =
        parse_settings(minimal("shard: {index: 2, count: 3}\n", "  max_requests_per_second: 30\n"),
                       "/c.yml", env_keys);
    CHECK(third.shard == task::shard{2, 3});
    CHECK(third.modelarts.max_requests_per_second == 30.0);
    CHECK(request_rate_of(third) == 10.0);

    check_problems({
        {"an index not below the count", minimal("shard: {index: 3, count: 3}\n"),
         at + "6: shard.index: must be below shard.count (3): shards are numbered 0 to 2"},
        {"no shards", minimal("shard: {index: 0, count: 0}\n"),
         at + "6: shard.count: must be between 1 and 4294967295, got \"0\""},
        {"a negative index", minimal("shard: {index: -1, count: 2}\n"),
         at + "6: shard.index: expected an integer, got \"-1\""},
        {"no count", minimal("shard: {index: 0}\n"),
         at + "6: shard: missing required key \"count\""},
        {"an unknown key", minimal("shard: {index: 0, count: 2, of: 3}\n"),
         at + "6: shard: unknown key \"of\""},
    });
}

TEST_CASE("relative paths are resolved against the config's folder") {
    temp_dir conf;
    conf.write("ca.pem", "not checked here\n");
    conf.write("web.yml", "{}\n");
    auto s = parse_settings(
        minimal("state_dir: state\nweb_config_file: ./web.yml\n", "  ca_file: ca.pem\n"),
        conf.file("c.yml"), env_keys);
    CHECK(s.state_dir == conf.file("state"));
    CHECK(s.web_config_file == conf.file("web.yml"));
    CHECK(s.modelarts.ca_file == conf.file("ca.pem"));
}

TEST_CASE("every Prometheus duration form parses") {
    struct {
        const char* text;
        std::chrono::milliseconds value;
    } const cases[] = {
        {"0", 0ms},
        {"0s", 0ms},
        {"500ms", 500ms},
        {"15s", 15s},
        {"10m", 10min},
        {"24h", 24h},
        {"2d", 48h},
        {"1w", 168h},
        {"1y", 365 * 24h},
        {"1h30m", 90min},
        {"1m30s", 90s},
        {"1s500ms", 1500ms},
        {"1y2w3d4h5m6s7ms", 365 * 24h + 2 * 168h + 3 * 24h + 4h + 5min + 6s + 7ms},
        {"90m", 90min},
        {"0010s", 10s},
        {"1d12h", 36h},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        auto d = parse_duration(c.text);
        REQUIRE(d);
        CHECK(*d == c.value);
    }
}

TEST_CASE("malformed durations are refused with the spelling to use") {
    for (const char* text : {"",
                             "10",
                             "10 s",
                             " 10s",
                             "10s ",
                             "1.5h",
                             "-5s",
                             "+5s",
                             "10S",
                             "10sec",
                             "s",
                             "ms",
                             "30m1h",
                             "1h1h",
                             "1s1m",
                             "500ms1s",
                             "5x",
                             "1h 30m",
                             "PT15S",
                             "15s,",
                             "1e3ms",
                             "99999999999999999999s",
                             "9223372036854775807y"}) {
        CAPTURE(text);
        auto d = parse_duration(text);
        REQUIRE_FALSE(d);
        CHECK(d.error().find("duration") != std::string::npos);
    }
    CHECK(parse_duration("10 s").error() ==
          "bad duration \"10 s\" (use e.g. 500ms, 15s, 10m, 24h)");
    CHECK(parse_duration("9223372036854775807y").error().ends_with("is too long"));
}

TEST_CASE("durations print as Prometheus prints them and read back the same") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(500ms) == "500ms");
    CHECK(format_duration(15s) == "15s");
    CHECK(format_duration(90min) == "1h30m");
    CHECK(format_duration(1500ms) == "1s500ms");
    CHECK(format_duration(24h) == "1d");
    CHECK(format_duration(14 * 24h) == "2w");
    CHECK(format_duration(90 * 24h) == "90d"); // weeks only when exact
    CHECK(format_duration(365 * 24h) == "1y");
    CHECK(format_duration(366 * 24h) == "366d");
    CHECK(format_duration(-15s) == "-15s");
    const std::chrono::milliseconds samples[] = {1ms,      999ms,          61s, 3601s, 25h,
                                                 10 * 24h, 400 * 24h + 1ms};
    for (auto d : samples) {
        CAPTURE(d.count());
        auto back = parse_duration(format_duration(d));
        REQUIRE(back);
        CHECK(*back == d);
    }
}

TEST_CASE("every broken config in tests/data/config gives exactly its expected line") {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(data_dir))
        if (entry.path().extension() == ".expected") names.push_back(entry.path().stem().string());
    std::sort(names.begin(), names.end());
    // One per problem class the contract and the brief name, at least.
    for (const char* required :
         {"unknown_key", "wrong_type", "bad_duration", "unreadable_secret_file", "http_endpoint",
          "missing_dataset_id", "bad_label_name", "duplicate_webhook", "bad_event_type",
          "yaml_syntax_error"})
        CHECK(std::find(names.begin(), names.end(), required) != names.end());

    for (const auto& name : names) {
        CAPTURE(name);
        const std::string path = data_dir + "/" + name + ".yml";
        std::string expected = read_text(data_dir + "/" + name + ".expected");
        REQUIRE(expected.ends_with("\n"));
        expected.pop_back();
        REQUIRE(expected.find('\n') == std::string::npos);
        expected = replace_all(expected, "@FILE@", path);
        expected = replace_all(expected, "@DIR@",
                               std::filesystem::absolute(data_dir).lexically_normal().string());
        auto message = error_of([&] { load_settings(path, fake_env()); });
        CHECK(message == expected);
        CHECK(message.find('\n') == std::string::npos);
        CHECK(message.find("sk-for-broken-config-tests") == std::string::npos);
    }
}

TEST_CASE("the positive control of the broken configs loads") {
    auto s = load_settings(data_dir + "/valid_minimal.yml", fake_env());
    const auto& aksk = std::get<auth::aksk_credentials>(s.modelarts.auth.credentials);
    CHECK(aksk.access_key == "AKTESTCONFIG0000000");
    CHECK(aksk.secret_key.reveal() == "sk-for-broken-config-tests");
}

TEST_CASE("a missing or unreadable config file is one line naming it") {
    temp_dir d;
    CHECK(error_of([&] { load_settings(d.file("nope.yml"), fake_env()); }) ==
          d.file("nope.yml") + ": cannot read: No such file or directory");
    CHECK(error_of([&] { load_settings(d.str(), fake_env()); }) ==
          d.str() + ": cannot read: not a regular file (a directory)");
}

TEST_CASE("the document as a whole must be one mapping") {
    check_problems({
        {"empty", "",
         at + " the file is empty (expected a mapping with at least modelarts and targets)"},
        {"only a comment", "# nothing\n",
         at + " the file is empty (expected a mapping with at least modelarts and targets)"},
        {"a list", "- a\n- b\n", at + "1: expected a mapping, got a list"},
        {"two documents", minimal() + "---\nlisten: :1\n", at + "7: more than one YAML document"},
        {"no modelarts", "targets:\n  - dataset_id: d1\n",
         at + "1: missing required key \"modelarts\""},
        {"no targets",
         "modelarts:\n  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
         "  project_id: p\n",
         at + "1: missing required key \"targets\""},
    });
}

TEST_CASE("unknown keys are refused at every level, with a suggestion when one is close") {
    check_problems({
        {"at the top", "listn: :9\n" + minimal(),
         at + "1: unknown key \"listn\" (did you mean \"listen\"?)"},
        {"in modelarts", minimal({}, "  timeout_ms: 10\n"),
         at + "4: modelarts: unknown key \"timeout_ms\" (did you mean \"timeout\"?)"},
        {"in modelarts.auth", minimal({}, "  auth:\n    type: aksk\n    secret_key: x\n"),
         at + "6: modelarts.auth: unknown key \"secret_key\""},
        {"in poll", minimal("poll:\n  every: 5s\n"), at + "7: poll: unknown key \"every\""},
        {"in a webhook", minimal("webhooks:\n  - name: a\n    url: https://h/\n    retries: 3\n"),
         at + "9: webhooks[0]: unknown key \"retries\""},
    });
}

TEST_CASE("wrong types name the key, what was expected and what was found") {
    check_problems({
        {"a list for a string", "listen: [a, b]\n" + minimal(),
         at + "1: listen: expected a string, got a list"},
        {"a string for a mapping", minimal("poll: 15s\n"),
         at + "6: poll: expected a mapping, got \"15s\""},
        {"a word for a number", minimal("poll:\n  jitter: lots\n"),
         at + "7: poll.jitter: expected a number, got \"lots\""},
        {"NaN for a number", minimal("poll:\n  jitter: .nan\n"),
         at + "7: poll.jitter: expected a number, got \".nan\""},
        {"a mapping for a duration", minimal("poll:\n  interval: {a: 1}\n"),
         at + "7: poll.interval: expected a duration, got a mapping"},
        {"a negative count", minimal({}, "  max_connections: -1\n"),
         at + "4: modelarts.max_connections: expected an integer, got \"-1\""},
        {"a count beyond any integer", minimal({}, "  max_connections: 99999999999999999999999\n"),
         at + "4: modelarts.max_connections: must be between 1 and 1024, got "
              "\"99999999999999999999999\""},
        {"a mapping for a list",
         "modelarts:\n  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
         "  project_id: p\ntargets: {dataset_id: d1}\n",
         at + "4: targets: expected a list, got a mapping"},
        {"a string for a list",
         minimal("webhooks:\n  - name: a\n    url: https://h/\n    events: task.gone\n"),
         at + "9: webhooks[0].events: expected a list, got \"task.gone\""},
    });
    CHECK(problem_of(minimal("targets_extra: 1\n")).find("unknown key \"targets_extra\"") !=
          std::string::npos);
}

TEST_CASE("a key without a value is an error, not a default") {
    check_problems({
        {"at the top", "listen:\n" + minimal(),
         at + "1: listen: no value (remove the key to get the default)"},
        {"in a target", minimal("    task_ids:\n"),
         at + "6: targets[0].task_ids: no value (remove the key to get the default)"},
        {"a label", minimal("    labels: {team: ~}\n"), at + "6: targets[0].labels.team: no value"},
    });
}

TEST_CASE("a key written twice in one mapping is refused") {
    CHECK(problem_of("log_level: info\n" + minimal("log_level: debug\n")) ==
          "/etc/taskwatch/config.yml:7: key \"log_level\" appears twice (first at line 1)");
}

TEST_CASE("anchors and aliases read as the node they name - their mistakes are one line") {
    auto s = parse_settings(minimal("    labels: &team {team: vision}\n"
                                    "  - dataset_id: d2\n"
                                    "    labels: *team\n"
                                    "    task_ids: &ids [t1, t2]\n"
                                    "  - {dataset_id: d3, task_ids: *ids}\n"),
                            "/c.yml", env_keys);
    REQUIRE(s.targets.size() == 3);
    CHECK(s.targets[1].labels == std::map<std::string, std::string>{{"team", "vision"}});
    CHECK(s.targets[2].task_ids == std::vector<std::string>{"t1", "t2"});
    CHECK(problem_of(minimal("    labels: *nothing\n")) ==
          "/etc/taskwatch/config.yml:6: YAML syntax error: alias \"*nothing\" names no anchor "
          "before it (column 13)");
    // "Billion laughs": nine levels of ten aliases each; the fourth alias of level 6 crosses
    // the limit.
    std::string bomb = "    labels: {a: &l0 x}\nwebhooks:\n  - &l1 [*l0, *l0, *l0, *l0, *l0, "
                       "*l0, *l0, *l0, *l0, *l0]\n";
    for (int i = 2; i <= 9; ++i) {
        const auto prev = std::to_string(i - 1);
        bomb += "  - &l" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k)
            bomb += (k ? ", *l" : "*l") + prev;
        bomb += "]\n";
    }
    auto problem = problem_of(minimal(bomb));
    CHECK(problem.starts_with("/etc/taskwatch/config.yml:13: YAML aliases expand the document "
                              "beyond "));
    CHECK(problem.ends_with(" nodes and bytes of text (8 times the text's size plus 1 MiB) "
                            "(column 25)"));
}

TEST_CASE("values out of range or malformed are refused with the rule") {
    check_problems({
        {"a port without a host", "listen: 9817\n" + minimal(),
         at + "1: listen: expected HOST:PORT (e.g. 127.0.0.1:9817, [::1]:9817 or :9817), got "
              "\"9817\""},
        {"an unknown log level", "log_level: verbose\n" + minimal(),
         at + "1: log_level: unknown level \"verbose\" (expected debug, info, warn or error)"},
        {"jitter over 1", minimal("poll:\n  jitter: 1.5\n"),
         at + "7: poll.jitter: must be between 0 and 1, got \"1.5\""},
        {"a zero interval", minimal("poll:\n  interval: 0s\n"),
         at + "7: poll.interval: must be longer than 0s"},
        {"no requests per second", minimal({}, "  max_requests_per_second: 0\n"),
         at + "4: modelarts.max_requests_per_second: must be greater than 0"},
        {"no connections", minimal({}, "  max_connections: 0\n"),
         at + "4: modelarts.max_connections: must be between 1 and 1024, got \"0\""},
        {"an https proxy", minimal({}, "  proxy: https://proxy:3128\n"),
         at + "4: modelarts.proxy: expected http://[USER:PASSWORD@]HOST:PORT"},
        {"a proxy without a port", minimal({}, "  proxy: http://proxy\n"),
         at + "4: modelarts.proxy: expected http://[USER:PASSWORD@]HOST:PORT"},
        {"a missing ca_file", minimal({}, "  ca_file: /nonexistent/ca.pem\n"),
         at + "4: modelarts.ca_file: cannot read /nonexistent/ca.pem: No such file or directory"},
        {"a missing web_config_file", "web_config_file: /nonexistent/web.yml\n" + minimal(),
         at + "1: web_config_file: cannot read /nonexistent/web.yml: No such file or directory"},
    });
    CHECK(problem_of("listen: 127.0.0.1:70000\n" + minimal()).find("expected HOST:PORT") !=
          std::string::npos);
    CHECK(problem_of("listen: ::1:9817\n" + minimal()).find("expected HOST:PORT") !=
          std::string::npos);
    for (const char* ok : {":9817", "[::1]:9817", "0.0.0.0:0", "localhost:9817"}) {
        CAPTURE(ok);
        CHECK(parse_settings("listen: '" + std::string(ok) + "'\n" + minimal(), "/c.yml", env_keys)
                  .listen == ok);
    }
    for (const auto& [level, bound_name] : taskwatch::log::level_names) {
        const std::string_view name = bound_name; // clang 14: no structured binding in CAPTURE
        CAPTURE(name);
        auto s = parse_settings("log_level: " + std::string(name) + "\n" + minimal(), "/c.yml",
                                env_keys);
        CHECK(s.log_level == level);
    }
}

TEST_CASE("endpoints must be https, without a path or user information") {
    const std::string head = "modelarts:\n  project_id: p1\n  endpoint: ";
    const std::string tail = "\ntargets:\n  - dataset_id: d1\n";
    check_problems({
        {"http", head + "http://modelarts.cn-north-4.myhuaweicloud.com" + tail,
         at + "3: modelarts.endpoint: must be an https:// URL, not http:// (TLS verification is "
              "never off)"},
        {"no scheme", head + "modelarts.cn-north-4.myhuaweicloud.com" + tail,
         at + "3: modelarts.endpoint: bad URL: not a URL (expected http:// or https://)"},
        {"a path", head + "https://modelarts.example.com/v2" + tail,
         at + "3: modelarts.endpoint: must be https://HOST[:PORT] without a path"},
        {"user information", head + "https://user:pw@modelarts.example.com" + tail,
         at + "3: modelarts.endpoint: must not contain user information"},
        {"a bad port", head + "https://modelarts.example.com:99999" + tail,
         at + "3: modelarts.endpoint: bad URL: bad port \"99999\""},
        {"http for one target",
         minimal("    endpoint: http://modelarts.cn-east-3.myhuaweicloud.com\n"),
         at + "6: targets[0].endpoint: must be an https:// URL, not http:// (TLS verification is "
              "never off)"},
    });
    auto s = parse_settings(head + "https://127.0.0.1:8443/" + tail, "/c.yml", env_keys);
    CHECK(s.modelarts.endpoint.to_string() == "https://127.0.0.1:8443");
    auto v6 = parse_settings(head + "'https://[::1]:8443'" + tail, "/c.yml", env_keys);
    CHECK(v6.modelarts.endpoint.to_string() == "https://[::1]:8443");
    auto upper =
        parse_settings(head + "HTTPS://modelarts.example.com:8443/" + tail, "/c.yml", env_keys);
    CHECK(upper.modelarts.endpoint.to_string() == "https://modelarts.example.com:8443");
}

TEST_CASE("every URL is kept parsed: endpoints, the proxy with its credentials, webhook targets") {
    auto s = parse_settings(
        minimal("    endpoint: 'https://ModelArts.cn-east-3.myhuaweicloud.com:8443/'\n"
                "webhooks:\n  - name: a\n    url: "
                "'https://oapi.dingtalk.com/robot/send?access_token=TOKEN123#frag'\n",
                "  proxy: 'http://us%65r:p%40ss@proxy.internal:3128'\n"),
        "/c.yml", env_keys);
    const auto& ep = *s.targets[0].endpoint;
    CHECK(ep.scheme == "https");
    CHECK(ep.host == "modelarts.cn-east-3.myhuaweicloud.com");
    CHECK(ep.port == 8443);
    CHECK(ep.base_path.empty());
    REQUIRE(s.modelarts.proxy.has_value());
    CHECK(s.modelarts.proxy->server.host == "proxy.internal");
    CHECK(s.modelarts.proxy->server.port == 3128);
    CHECK(s.modelarts.proxy->credentials == "user:p@ss");
    const auto& hook = s.webhooks[0].urls.at(0);
    CHECK(hook.server.host == "oapi.dingtalk.com");
    CHECK(hook.server.port == 443);
    CHECK(hook.target == "/robot/send?access_token=TOKEN123");
    CHECK(hook.to_string() == "https://oapi.dingtalk.com/robot/send");
}

TEST_CASE("a URL the HTTP client could not use fails the load") {
    // Hosts the loader once let through, for the poller to fall back to an empty endpoint.
    check_problems({
        {"an endpoint host", minimal("    endpoint: https://a..b\n"),
         at + "6: targets[0].endpoint: bad URL: bad host \"a..b\""},
        {"proxy credentials", minimal({}, "  proxy: 'http://a%zz:b@proxy:3128'\n"),
         at + "4: modelarts.proxy: bad percent-encoding in the credentials"},
    });
    auto leak = problem_of(minimal({}, "  proxy: 'http://user:hun/ter2@proxy:3128'\n"));
    CHECK(leak.find("ter2") == std::string::npos);
    CHECK(leak.find("hun") == std::string::npos);
}

TEST_CASE("targets: IDs, task lists, labels and duplicates") {
    check_problems({
        {"an empty task list", minimal("    task_ids: []\n"),
         at + "6: targets[0].task_ids: empty list (remove the key to watch every task of the "
              "dataset)"},
        {"a task twice", minimal("    task_ids: [t1, t1]\n"),
         at + "6: targets[0].task_ids[1]: task \"t1\" listed twice (first at line 6)"},
        {"a slash in an ID", minimal("  - dataset_id: a/b\n"),
         at + "6: targets[1].dataset_id: \"a/b\" is not a valid ID (no spaces, \"/\", \"?\" or "
              "\"#\")"},
        {"an empty ID", minimal("  - dataset_id: ''\n"),
         at + "6: targets[1].dataset_id: must not be empty"},
        {"no targets",
         "modelarts:\n  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
         "  project_id: p\ntargets: []\n",
         at + "4: targets: empty list (at least one target is required)"},
        {"a label name of Prometheus", minimal("    labels: {__meta: x}\n"),
         at + "6: targets[0].labels: label name \"__meta\" is reserved (names starting with __ "
              "belong to Prometheus)"},
        {"a bad label name", minimal("    labels: {1team: x}\n"),
         at + "6: targets[0].labels: bad label name \"1team\" (expected "
              "[a-zA-Z_][a-zA-Z0-9_]*)"},
        {"a list for a label value", minimal("    labels: {team: [a]}\n"),
         at + "6: targets[0].labels.team: expected a string, got a list"},
        {"the same dataset of the same project twice",
         minimal(
             "  - {dataset_id: d1, endpoint: 'https://modelarts.cn-east-3.myhuaweicloud.com'}\n"),
         at + "6: targets[1]: duplicate target: dataset \"d1\" of project \"p1\" is already "
              "watched by targets[0] (line 5)"},
    });
    for (const char* reserved : {"project_id", "dataset_id", "task_id", "status", "kind",
                                 "task_name", "resource_id", "algorithm_type"}) {
        CAPTURE(reserved);
        CHECK(problem_of(minimal("    labels: {" + std::string(reserved) + ": x}\n"))
                  .ends_with("is reserved (taskwatch sets it on its own series)"));
    }
    // Same dataset in another project is another target (the same pair twice is not: above).
    auto s = parse_settings(minimal("  - {dataset_id: d1, project_id: p2}\n"), "/c.yml", env_keys);
    CHECK(s.targets.size() == 2);
    // Label values are strings whatever YAML thinks they are.
    auto typed =
        parse_settings(minimal("    labels: {cost: 42, on: yes, empty: ''}\n"), "/c.yml", env_keys);
    CHECK(typed.targets[0].labels ==
          std::map<std::string, std::string>{{"cost", "42"}, {"on", "yes"}, {"empty", ""}});
}

TEST_CASE("webhooks: names, URLs, formats, events and limits") {
    auto hook = [](std::string_view body) {
        return minimal("webhooks:\n  - name: a\n    url: https://h/x\n" + std::string(body));
    };
    check_problems({
        {"no name", minimal("webhooks:\n  - url: https://h/x\n"),
         at + "7: webhooks[0]: missing required key \"name\""},
        {"no url", minimal("webhooks:\n  - name: a\n"),
         at + "7: webhooks[0]: missing required key \"url\""},
        {"an ftp url", minimal("webhooks:\n  - name: a\n    url: ftp://h/x\n"),
         at + "8: webhooks[0].url: bad URL: unsupported scheme \"ftp\" (expected http or https)"},
        {"an unknown format", hook("    format: teams\n"),
         at + "9: webhooks[0].format: unknown format \"teams\" (expected generic, alertmanager, "
              "slack, feishu, dingtalk or wecom)"},
        {"no events", hook("    events: []\n"),
         at + "9: webhooks[0].events: empty list (remove the key to get every event type)"},
        {"an event twice", hook("    events: [task.gone, task.gone]\n"),
         at + "9: webhooks[0].events[1]: event type \"task.gone\" listed twice"},
        {"a zero progress step", hook("    progress_step: 0\n"),
         at + "9: webhooks[0].progress_step: must be greater than 0 and at most 1, got \"0\""},
        {"no attempts", hook("    max_attempts: 0\n"),
         at + "9: webhooks[0].max_attempts: must be between 1 and 1000, got \"0\""},
    });
    CHECK(problem_of(hook("    progress_step: 1.01\n"))
              .find("must be greater than 0 and at most 1") != std::string::npos);
    for (const char* format : {"generic", "alertmanager", "slack", "feishu", "dingtalk", "wecom"}) {
        CAPTURE(format);
        auto s =
            parse_settings(hook("    format: " + std::string(format) + "\n"), "/c.yml", env_keys);
        CHECK(to_string(s.webhooks[0].format) == format);
    }
    // Events are kept in contract order whatever order they are written in.
    auto s = parse_settings(hook("    events: [task.poll_recovered, task.discovered, "
                                 "task.progress]\n    progress_step: 1\n"),
                            "/c.yml", env_keys);
    CHECK(s.webhooks[0].events == std::vector<task::event_type>{task::event_type::discovered,
                                                                task::event_type::progress,
                                                                task::event_type::poll_recovered});
    CHECK(s.webhooks[0].progress_step == 1.0);
    for (const auto& [type, bound_name] : task::event_type_names) {
        const std::string_view name = bound_name; // clang 14: no structured binding in CAPTURE
        CAPTURE(name);
        auto one =
            parse_settings(hook("    events: [" + std::string(name) + "]\n"), "/c.yml", env_keys);
        CHECK(one.webhooks[0].events == std::vector<task::event_type>{type});
    }
}

TEST_CASE("the webhook URL never appears in an error, since it often carries a token") {
    auto msg =
        problem_of(minimal("webhooks:\n  - name: a\n    url: "
                           "'https://oapi.dingtalk.com/robot/send?access_token=TOKEN123 x'\n"));
    CHECK(
        msg ==
        "/etc/taskwatch/config.yml:8: webhooks[0].url: bad URL: space or control character in URL");
    CHECK(msg.find("TOKEN123") == std::string::npos);
}

TEST_CASE("credentials in the config: files beside it, $CREDENTIALS_DIRECTORY first, the "
          "environment last") {
    temp_dir conf, creds;
    conf.write("ak", "AK-CONF");
    conf.write("sk", "SK-CONF");
    creds.write("sk", "SK-CREDS");
    const std::string text = minimal({}, "  auth:\n    ak_file: ak\n    sk_file: sk\n");
    auto s = parse_settings(text, conf.file("config.yml"),
                            fake_env({{"CREDENTIALS_DIRECTORY", creds.str()}}));
    const auto& both = std::get<auth::aksk_credentials>(s.modelarts.auth.credentials);
    CHECK(both.access_key == "AK-CONF");           // not in the credentials dir: beside the config
    CHECK(both.secret_key.reveal() == "SK-CREDS"); // in both: the credentials dir wins

    auto from_env = parse_settings(minimal(), conf.file("config.yml"),
                                   fake_env({{"HUAWEICLOUD_SDK_AK", "AK-ENV"},
                                             {"HUAWEICLOUD_SDK_SK", "SK-ENV"},
                                             {"HUAWEICLOUD_SDK_SECURITY_TOKEN", "TOKEN-ENV"}}));
    const auto& env = std::get<auth::aksk_credentials>(from_env.modelarts.auth.credentials);
    CHECK(env.access_key == "AK-ENV");
    CHECK(env.secret_key.reveal() == "SK-ENV");
    REQUIRE(env.security_token.has_value());
    CHECK(env.security_token->reveal() == "TOKEN-ENV");

    check_problems({
        {"none anywhere", minimal(),
         at + "1: modelarts.auth: no credentials: set ak_file and sk_file, or "
              "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK in the environment",
         fake_env()},
        {"none with type aksk", minimal({}, "  auth:\n    type: aksk\n"),
         at + "4: modelarts.auth: no credentials: set ak_file and sk_file, or "
              "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK in the environment",
         fake_env()},
        {"ak_file alone", minimal({}, "  auth:\n    ak_file: ak\n"),
         at + "4: modelarts.auth.sk_file: missing: ak_file needs sk_file beside it", fake_env()},
        {"an unreadable ak_file",
         minimal({}, "  auth:\n    ak_file: /nonexistent/ak\n    sk_file: /nonexistent/sk\n"),
         at + "5: modelarts.auth.ak_file: cannot read /nonexistent/ak: No such file or directory"},
    });
}

TEST_CASE("modelarts.project_id falls back to HUAWEICLOUD_SDK_PROJECT_ID") {
    const std::string text =
        "modelarts:\n  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
        "targets:\n  - dataset_id: d1\n";
    auto s = parse_settings(text, "/c.yml",
                            fake_env({{"HUAWEICLOUD_SDK_AK", "A"},
                                      {"HUAWEICLOUD_SDK_SK", "S"},
                                      {"HUAWEICLOUD_SDK_PROJECT_ID", "envproject"}}));
    CHECK(s.modelarts.project_id == "envproject");
    CHECK(project_id_of(s, s.targets[0]) == "envproject");
    CHECK(problem_of(text) ==
          "/etc/taskwatch/config.yml:1: modelarts: missing required key \"project_id\" (or set "
          "HUAWEICLOUD_SDK_PROJECT_ID)");
    // The configured value wins over the environment.
    auto configured = parse_settings(minimal(), "/c.yml",
                                     fake_env({{"HUAWEICLOUD_SDK_AK", "A"},
                                               {"HUAWEICLOUD_SDK_SK", "S"},
                                               {"HUAWEICLOUD_SDK_PROJECT_ID", "envproject"}}));
    CHECK(configured.modelarts.project_id == "p1");
}

TEST_CASE("token authentication in the config") {
    temp_dir conf;
    conf.write("password", "hunter2\n");
    auto s = parse_settings(
        minimal({}, "  auth:\n    type: token\n    domain_name: acme\n    user_name: watcher\n"
                    "    password_file: password\n"),
        conf.file("c.yml"), fake_env());
    CHECK(s.modelarts.auth.type == modelarts_auth::type_t::token);
    const auto& t = std::get<auth::token_credentials>(s.modelarts.auth.credentials);
    CHECK(t.iam_endpoint.to_string() == "https://iam.cn-north-4.myhuaweicloud.com");
    CHECK(t.domain_name == "acme");
    CHECK(t.user_name == "watcher");
    CHECK(t.password.reveal() == "hunter2");

    check_problems({
        {"ak_file with type token", minimal({}, "  auth:\n    type: token\n    ak_file: ak\n"),
         at + "6: modelarts.auth: key \"ak_file\" is only valid with type: aksk"},
        {"user_name with type aksk", minimal({}, "  auth:\n    user_name: watcher\n"),
         at + "5: modelarts.auth: key \"user_name\" is only valid with type: token"},
        {"an unknown type", minimal({}, "  auth:\n    type: password\n"),
         at + "5: modelarts.auth.type: unknown type \"password\" (expected aksk or token)"},
        {"no domain_name",
         minimal({}, "  auth:\n    type: token\n    user_name: watcher\n    password_file: p\n"),
         at + "4: modelarts.auth.domain_name: missing (required with type: token)"},
        {"an http IAM endpoint",
         minimal({}, "  auth:\n    type: token\n    iam_endpoint: http://iam\n    domain_name: a\n"
                     "    user_name: u\n    password_file: p\n"),
         at + "6: modelarts.auth.iam_endpoint: must be an https:// URL"},
    });
}

TEST_CASE("no error message ever contains the bytes of a secret") {
    const std::string sk = "SKBYTES-7f3a9c1e-DO-NOT-PRINT";
    const std::string password = "PWBYTES-0b1d2e3f-DO-NOT-PRINT";
    const std::string hook_secret = "whsec_HOOKBYTES-DO-NOT-PRINT";
    temp_dir conf;
    conf.write("ak", "AK");
    conf.write("sk", sk + "\n");
    conf.write("sk_two_lines", sk + "\n" + sk + "\n");
    conf.write("sk_huge", std::string(70000, 'x') + sk);
    conf.write("sk_nul", sk + std::string(1, '\0') + sk);
    conf.write("password", password + "\n");
    conf.write("password_two_lines", password + "\r" + password);
    conf.write("hook.secret", hook_secret + "\n");
    conf.write("hook_bad.secret", hook_secret + "\x1b[2J");
    const auto config_path = conf.file("config.yml");
    const std::string aksk = "  auth:\n    ak_file: ak\n    sk_file: sk\n";
    const std::string token = "  auth:\n    type: token\n    domain_name: d\n    user_name: u\n    "
                              "password_file: password\n";
    const std::string hook =
        "webhooks:\n  - {name: a, url: 'https://h/', secret_file: hook.secret}\n";

    // Each case fails after the secrets were read, or because of what a secret file holds.
    const std::vector<std::pair<std::string, auth::environment>> cases = {
        {minimal(hook + "  - {name: a, url: 'https://h/'}\n", aksk), fake_env()},
        {minimal(hook + "  - dataset_id: d1\n", aksk), fake_env()},
        {minimal(hook, aksk + "  ca_file: missing.pem\n"), fake_env()},
        {minimal(hook, "  auth:\n    ak_file: ak\n    sk_file: sk_two_lines\n"), fake_env()},
        {minimal(hook, "  auth:\n    ak_file: ak\n    sk_file: sk_huge\n"), fake_env()},
        {minimal(hook, "  auth:\n    ak_file: ak\n    sk_file: sk_nul\n"), fake_env()},
        {minimal(
             hook,
             "  auth:\n    ak_file: ak\n    sk_file: sk\n    security_token_file: sk_two_lines\n"),
         fake_env()},
        {minimal(hook + "  - dataset_id: d1\n", token), fake_env()},
        {minimal(hook, "  auth:\n    type: token\n    domain_name: d\n    user_name: u\n"
                       "    password_file: password_two_lines\n"),
         fake_env()},
        {minimal("webhooks:\n  - {name: a, url: 'https://h/', secret_file: hook_bad.secret}\n",
                 aksk),
         fake_env()},
        {minimal(hook),
         fake_env({{"HUAWEICLOUD_SDK_AK", "AK"}, {"HUAWEICLOUD_SDK_SK", sk + "\n" + sk}})},
        {minimal(hook), fake_env({{"HUAWEICLOUD_SDK_SK", sk}})},
        {minimal(hook + "  - dataset_id: d1\n"),
         fake_env({{"HUAWEICLOUD_SDK_AK", "AK"}, {"HUAWEICLOUD_SDK_SK", sk}})},
        {minimal(hook), fake_env({{"HUAWEICLOUD_SDK_AK", "AK"},
                                  {"HUAWEICLOUD_SDK_SK", sk},
                                  {"HUAWEICLOUD_SDK_SECURITY_TOKEN", sk + "\n" + sk}})},
    };
    int failures = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(i);
        auto msg = error_of([&] { parse_settings(cases[i].first, config_path, cases[i].second); });
        CAPTURE(msg);
        CHECK(msg.starts_with(config_path + ":"));
        for (const auto& bytes : {sk, password, hook_secret}) {
            CHECK(msg.find(bytes) == std::string::npos);
            CHECK(msg.find(bytes.substr(0, 12)) == std::string::npos); // not even a prefix
        }
        ++failures;
    }
    CHECK(failures == static_cast<int>(cases.size()));
}

TEST_CASE("reload: only listen, web_config_file, state_dir, ca_file, proxy and max_connections "
          "need a restart") {
    settings a;
    a.modelarts.proxy = http::parse_proxy_url("http://user:PROXYPASS@proxy:3128").value();
    settings b = a;
    CHECK(describe_restart_needed(a, b).empty());
    b.log_level = taskwatch::log::level::debug;
    b.poll.interval = 1s;
    b.targets.push_back(target{"d1", std::nullopt, {}, std::nullopt, std::nullopt});
    b.webhooks.push_back(webhook{});
    b.modelarts.endpoint = http::parse_url("https://modelarts.cn-east-3.myhuaweicloud.com").value();
    b.modelarts.auth.credentials =
        auth::aksk_credentials{"AK2", detail::secret{"SK2"}, std::nullopt};
    CHECK(describe_restart_needed(a, b).empty());

    b.listen = ":9000";
    CHECK(describe_restart_needed(a, b) ==
          "listen changed from 127.0.0.1:9817 to :9000: restart to apply");
    b.web_config_file = "/etc/taskwatch/web.yml";
    b.state_dir = "/srv/taskwatch";
    b.modelarts.ca_file = "/etc/ca.pem";
    b.modelarts.proxy = http::parse_proxy_url("http://user:OTHERPASS@proxy:3128").value();
    b.modelarts.max_connections = 4;
    auto msg = describe_restart_needed(a, b);
    CHECK(msg ==
          "listen changed from 127.0.0.1:9817 to :9000: restart to apply; "
          "web_config_file changed from (unset) to /etc/taskwatch/web.yml: restart to apply; "
          "state_dir changed from /var/lib/taskwatch to /srv/taskwatch: restart to apply; "
          "modelarts.ca_file changed from (unset) to /etc/ca.pem: restart to apply; "
          "modelarts.proxy changed: restart to apply; "
          "modelarts.max_connections changed from 16 to 4: restart to apply");
    CHECK(msg.find("PASS") == std::string::npos);
}

TEST_CASE("loading the same file twice gives equal settings") {
    auto a = load_settings(data_dir + "/valid_minimal.yml", fake_env());
    auto b = load_settings(data_dir + "/valid_minimal.yml", fake_env());
    CHECK(a == b);
    CHECK(describe_restart_needed(a, b).empty());
}

TEST_CASE("text that is not UTF-8 is refused where it would reach labels, IDs and names") {
    // 0xff never occurs in UTF-8; 0xc3 0x28 is a lead byte without its continuation; 0xed 0xa0
    // 0x80 is an encoded surrogate; 0xc0 0xaf an overlong "/".
    check_problems({
        {"a label value", minimal("    labels: {team: \"vi\xffsion\"}\n"),
         at + "6: targets[0].labels.team: not valid UTF-8 (byte 0xff at offset 2)"},
        {"a dataset ID", minimal("  - dataset_id: d\xc3\x28\n"),
         at + "6: targets[1].dataset_id: not valid UTF-8 (byte 0xc3 at offset 1)"},
        {"a task ID", minimal("    task_ids: [t1, \"t\xed\xa0\x80\"]\n"),
         at + "6: targets[0].task_ids[1]: not valid UTF-8 (byte 0xed at offset 1)"},
        {"the project ID",
         "modelarts:\n  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
         "  project_id: p\xc0\xaf\ntargets:\n  - dataset_id: d1\n",
         at + "3: modelarts.project_id: not valid UTF-8 (byte 0xc0 at offset 1)"},
        {"a webhook name", minimal("webhooks:\n  - name: \"ops\xfe\"\n    url: https://h/x\n"),
         at + "7: webhooks[0].name: not valid UTF-8 (byte 0xfe at offset 3)"},
        // A key is checked before anything looks at it.
        {"a label name", minimal("    labels: {\"te\xffm\": x}\n"),
         at + "6: targets[0].labels: a key is not valid UTF-8 (byte 0xff at offset 2)"},
        // The project ID from the environment becomes a label too.
        {"the project ID from the environment",
         "modelarts:\n  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
         "targets:\n  - dataset_id: d1\n",
         at + "1: modelarts: HUAWEICLOUD_SDK_PROJECT_ID is not valid UTF-8 (byte 0xff at "
              "offset 1)",
         fake_env({{"HUAWEICLOUD_SDK_AK", "AK"},
                   {"HUAWEICLOUD_SDK_SK", "SK"},
                   {"HUAWEICLOUD_SDK_PROJECT_ID", "p\xff"}})},
    });
    // Valid UTF-8, control characters included, stays allowed in label values (they are
    // escaped wherever they are served); IDs refuse control characters and spaces as before.
    auto s = parse_settings(
        minimal("    labels: {team: \"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 a\\nb\"}\n"),
        "/c.yml", env_keys);
    CHECK(s.targets[0].labels.at("team") == "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 a\nb");
}

TEST_CASE("a duplicate among many task_ids is found and names both lines") {
    std::string ids = "    task_ids:\n";
    constexpr int n = 20'000;
    for (int i = 0; i < n; ++i)
        ids += "      - task" + std::to_string(i) + "\n";
    ids += "      - task17\n";
    // Line 5 is the target, 6 "task_ids:", 7 the first id: task17 is on line 24, its copy on
    // line 7 + n.
    CHECK(problem_of(minimal(ids)) == "/etc/taskwatch/config.yml:" + std::to_string(7 + n) +
                                          ": targets[0].task_ids[" + std::to_string(n) +
                                          "]: task \"task17\" listed twice (first at line 24)");
    auto s =
        parse_settings(minimal(ids.substr(0, ids.size() - std::string("      - task17\n").size())),
                       "/c.yml", env_keys);
    REQUIRE(s.targets[0].task_ids.has_value());
    CHECK(s.targets[0].task_ids->size() == n);
    CHECK(s.targets[0].task_ids->at(n - 1) == "task" + std::to_string(n - 1));
}

TEST_CASE("webhook transport, routing and template keys load to what they say") {
    temp_dir conf;
    conf.write("hook.token", "Bearer s3cret\n");
    conf.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    auto s = parse_settings(
        minimal("webhooks:\n"
                "  - name: ops\n"
                "    url: https://hooks.example.com/x?key=K\n"
                "    match_labels: {team: vision}\n"
                "    timeout: 3s\n"
                "    ca_file: ca.pem\n"
                "    proxy: http://proxy.internal:3128\n"
                "    headers: {Authorization: {file: hook.token}, X-Team: vision}\n"
                "  - name: chat\n"
                "    format: wecom\n"
                "    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K2\n"
                "    template: \"{task_name}: {previous_status} -> {status} {{ok}}\"\n"
                "  - name: am\n"
                "    format: alertmanager\n"
                "    urls: [http://am1:9093, http://am2:9093/prefix]\n"
                "external_url: https://taskwatch.example.com\n"),
        conf.file("c.yml"), env_keys);
    REQUIRE(s.webhooks.size() == 3);
    const auto& ops = s.webhooks[0];
    CHECK(ops.match_labels == std::map<std::string, std::string>{{"team", "vision"}});
    CHECK(ops.matches({{"team", "vision"}, {"site", "a"}}));
    CHECK_FALSE(ops.matches({{"team", "nlp"}}));
    CHECK_FALSE(ops.matches({}));
    CHECK(ops.timeout == std::chrono::seconds(3));
    CHECK(ops.ca_file == conf.file("ca.pem"));
    REQUIRE(ops.proxy.has_value());
    CHECK(ops.proxy->server.host == "proxy.internal");
    REQUIRE(ops.headers.size() == 2);
    CHECK(ops.headers[0].name == "Authorization");
    CHECK(ops.headers[0].value.reveal() == "Bearer s3cret");
    CHECK(ops.headers[1].name == "X-Team");
    CHECK(ops.headers[1].value.reveal() == "vision");
    CHECK(ops.urls.at(0).to_string() == "https://hooks.example.com/x");
    CHECK(ops.urls.at(0).target == "/x?key=K");
    CHECK(s.webhooks[1].template_text == "{task_name}: {previous_status} -> {status} {{ok}}");
    const auto& am = s.webhooks[2];
    REQUIRE(am.urls.size() == 2);
    CHECK(am.urls[0].to_string() == "http://am1:9093/");
    CHECK(am.urls[1].to_string() == "http://am2:9093/prefix");
    CHECK(s.webhooks[1].matches({})); // no match_labels: every event
    CHECK(s.external_url == "https://taskwatch.example.com/");
}

TEST_CASE("bad webhook transport, routing and template keys fail with one line naming them") {
    check_problems({
        {"urls for a generic webhook", minimal("webhooks:\n  - {name: a, urls: ['http://h/']}\n"),
         at + "7: webhooks[0].urls: only the alertmanager format takes urls (use url)"},
        {"alertmanager without urls", minimal("webhooks:\n  - {name: a, format: alertmanager}\n"),
         at + "7: webhooks[0]: missing required key \"urls\" (every member of the Alertmanager "
              "cluster; or url for one)"},
        {"the same member twice",
         minimal(
             "webhooks:\n  - {name: a, format: alertmanager, urls: ['http://h/', 'http://h/']}\n"),
         at + "7: webhooks[0].urls[1]: URL listed twice"},
        {"a header taskwatch sets",
         minimal("webhooks:\n  - {name: a, url: 'http://h/', headers: {Content-Type: x}}\n"),
         at + "7: webhooks[0].headers: header \"Content-Type\" is set by taskwatch and cannot "
              "be configured"},
        {"a header name that is no token",
         minimal("webhooks:\n  - {name: a, url: 'http://h/', headers: {'X Bad': x}}\n"),
         at + "7: webhooks[0].headers: bad header name \"X Bad\""},
        {"a control character in a header value",
         minimal("webhooks:\n  - {name: a, url: 'http://h/', headers: {X-A: \"a\\r\\nB: c\"}}\n"),
         at + "7: webhooks[0].headers.X-A: control character in the header value"},
        {"a template for the generic format",
         minimal("webhooks:\n  - {name: a, url: 'http://h/', template: '{status}'}\n"),
         at + "7: webhooks[0].template: only the chat formats (slack, feishu, dingtalk, wecom) "
              "take a template"},
        {"an unknown placeholder",
         minimal(
             "webhooks:\n  - {name: a, format: slack, url: 'http://h/', template: '{stauts}'}\n"),
         at + "7: webhooks[0].template: unknown placeholder {stauts} (known: {type}, {time}, "
              "{project_id}, {dataset_id}, {task_id}, {task_name}, {labels}, {status}, "
              "{previous_status}, {progress}, {previous_progress}, {annotated}, {total}, "
              "{code}, {message}, {error_code}, {error_msg}, {link})"},
        {"an unclosed brace",
         minimal(
             "webhooks:\n  - {name: a, format: slack, url: 'http://h/', template: 'x {status'}\n"),
         at + "7: webhooks[0].template: unclosed \"{\" at offset 2 (write \"{{\" for a brace)"},
        {"a bad match label",
         minimal("webhooks:\n  - {name: a, url: 'http://h/', match_labels: {1x: y}}\n"),
         at + "7: webhooks[0].match_labels: bad label name \"1x\" (expected "
              "[a-zA-Z_][a-zA-Z0-9_]*)"},
        {"an external_url with a query", minimal("external_url: https://t.example.com/?a=b\n"),
         at + "6: external_url: must not have a query or fragment"},
        {"an ftp external_url", minimal("external_url: ftp://t.example.com/\n"),
         at + "6: external_url: bad URL: unsupported scheme \"ftp\" (expected http or https)"},
    });
}

TEST_CASE("a webhook header read from a file: missing file and multi-line file are errors") {
    temp_dir conf;
    conf.write("two-lines", "a\nb\n");
    auto problem = [&](const std::string& file) {
        return error_of([&] {
            parse_settings(minimal("webhooks:\n  - name: a\n    url: http://h/\n"
                                   "    headers: {Authorization: {file: " +
                                   file + "}}\n"),
                           conf.file("c.yml"), env_keys);
        });
    };
    CHECK(problem("two-lines") ==
          conf.file("c.yml") +
              ":9: webhooks[0].headers.Authorization.file: " + conf.file("two-lines") +
              " holds more than one line or a control character; expected one line");
    CHECK(problem("missing").find(conf.file("c.yml") +
                                  ":9: webhooks[0].headers.Authorization.file: ") == 0);
}

TEST_CASE("a generic webhook's whsec_ secret must be base64: a broken one fails at load, not as "
          "rejected deliveries") {
    temp_dir conf;
    conf.write("good.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw raw-second-secret\n");
    conf.write("bad.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_not*base64\n");
    auto load = [&](const std::string& file) {
        return parse_settings(minimal("webhooks:\n  - name: a\n    url: http://h/\n"
                                      "    secret_file: " +
                                      file + "\n"),
                              conf.file("c.yml"), env_keys);
    };
    CHECK(load("good.secret").webhooks.at(0).secret.has_value());
    const auto error = error_of([&] { load("bad.secret"); });
    CHECK(error == conf.file("c.yml") +
                       ":9: webhooks[0].secret_file: secret 2 in bad.secret starts "
                       "with whsec_ but the rest is not base64");
    CHECK(error.find("not*base64") == std::string::npos); // the secret itself is never shown
}
