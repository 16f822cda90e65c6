#include "taskwatch/auth/credentials.hpp"

#include "support/environment.hpp"
#include "support/files.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using namespace taskwatch;
using namespace taskwatch::auth;
using taskwatch::test::fake_env;
using taskwatch::test::temp_dir;

TEST_CASE(
    "a relative credential path is looked for in $CREDENTIALS_DIRECTORY, then beside the config") {
    auto with = credential_path_candidates("sk", "/etc/taskwatch",
                                           fake_env({{"CREDENTIALS_DIRECTORY", "/run/creds"}}));
    CHECK(with == std::vector<std::string>{"/run/creds/sk", "/etc/taskwatch/sk"});
    auto without = credential_path_candidates("sk", "/etc/taskwatch", fake_env());
    CHECK(without == std::vector<std::string>{"/etc/taskwatch/sk"});
    auto empty_var = credential_path_candidates("sk", "/etc/taskwatch",
                                                fake_env({{"CREDENTIALS_DIRECTORY", ""}}));
    CHECK(empty_var == std::vector<std::string>{"/etc/taskwatch/sk"});
    auto absolute = credential_path_candidates("/srv/sk", "/etc/taskwatch",
                                               fake_env({{"CREDENTIALS_DIRECTORY", "/run/creds"}}));
    CHECK(absolute == std::vector<std::string>{"/srv/sk"});
}

TEST_CASE("a secret in $CREDENTIALS_DIRECTORY wins over one beside the config") {
    temp_dir creds, conf;
    creds.write("sk", "from-credentials-dir\n");
    conf.write("sk", "from-config-dir\n");
    auto r = read_secret_file("sk", conf.str(), fake_env({{"CREDENTIALS_DIRECTORY", creds.str()}}));
    REQUIRE(r);
    CHECK(r->reveal() == "from-credentials-dir");
}

TEST_CASE("a secret missing from $CREDENTIALS_DIRECTORY is read beside the config") {
    temp_dir creds, conf;
    conf.write("sk", "from-config-dir");
    auto r = read_secret_file("sk", conf.str(), fake_env({{"CREDENTIALS_DIRECTORY", creds.str()}}));
    REQUIRE(r);
    CHECK(r->reveal() == "from-config-dir");
}

TEST_CASE(
    "an unreadable secret in $CREDENTIALS_DIRECTORY is an error, not a reason to look elsewhere") {
    temp_dir creds, conf;
    std::filesystem::create_directory(creds.path() /
                                      "sk"); // a folder cannot be read as a file, even by root
    conf.write("sk", "from-config-dir");
    auto r = read_secret_file("sk", conf.str(), fake_env({{"CREDENTIALS_DIRECTORY", creds.str()}}));
    REQUIRE_FALSE(r);
    CHECK(r.error() == "cannot read " + (creds.file("sk")) + ": not a regular file (a directory)");
}

TEST_CASE("a secret found nowhere names every place looked in") {
    temp_dir creds, conf;
    auto r = read_secret_file("sk", conf.str(), fake_env({{"CREDENTIALS_DIRECTORY", creds.str()}}));
    REQUIRE_FALSE(r);
    CHECK(r.error() == "cannot read sk: No such file or directory (looked in " +
                           (creds.file("sk")) + ", " + (conf.file("sk")) + ")");
    auto single = read_secret_file("sk", conf.str(), fake_env());
    REQUIRE_FALSE(single);
    CHECK(single.error() == "cannot read " + (conf.file("sk")) + ": No such file or directory");
}

TEST_CASE("secret files lose trailing whitespace and newlines, nothing else") {
    temp_dir d;
    d.write("crlf", "abc\r\n");
    d.write("many", "  abc def \t\n\n\n");
    d.write("plain", "abc");
    CHECK(read_secret_file("crlf", d.str(), fake_env())->reveal() == "abc");
    CHECK(read_secret_file("many", d.str(), fake_env())->reveal() == "  abc def");
    CHECK(read_secret_file("plain", d.str(), fake_env())->reveal() == "abc");
}

TEST_CASE("empty, multi-line and oversized secret files are refused without showing their bytes") {
    temp_dir d;
    d.write("empty", "");
    d.write("blank", " \n\t\n");
    d.write("two_lines", "TOPSECRET1\nTOPSECRET2\n");
    d.write("nul", std::string("TOPSECRET\0X", 11));
    d.write("huge", std::string(70 * 1024, 'S'));
    auto empty = read_secret_file("empty", d.str(), fake_env());
    REQUIRE_FALSE(empty);
    CHECK(empty.error() == (d.file("empty")) + " is empty");
    auto blank = read_secret_file("blank", d.str(), fake_env());
    REQUIRE_FALSE(blank);
    CHECK(blank.error() == (d.file("blank")) + " is empty");
    for (const char* name : {"two_lines", "nul"}) {
        auto r = read_secret_file(name, d.str(), fake_env());
        REQUIRE_FALSE(r);
        CHECK(r.error().find("TOPSECRET") == std::string::npos);
        CHECK(r.error() ==
              d.file(name) + " holds more than one line or a control character; expected one line");
    }
    auto huge = read_secret_file("huge", d.str(), fake_env());
    REQUIRE_FALSE(huge);
    CHECK(huge.error() == "cannot read " + (d.file("huge")) + ": larger than 64 KiB");
}

TEST_CASE("AK/SK come from the files when ak_file and sk_file are set, ignoring the environment") {
    temp_dir d;
    d.write("ak", "AKFILE\n");
    d.write("sk", "SKFILE\n");
    d.write("token", "TOKENFILE\n");
    auto env = fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"},
                         {"HUAWEICLOUD_SDK_SK", "SKENV"},
                         {"HUAWEICLOUD_SDK_SECURITY_TOKEN", "TOKENENV"}});
    auto r = resolve_aksk({"ak", "sk", std::nullopt}, d.str(), env);
    REQUIRE(r);
    CHECK(r->access_key == "AKFILE");
    CHECK(r->secret_key.reveal() == "SKFILE");
    CHECK_FALSE(
        r->security_token.has_value()); // the environment's token belongs to the environment's keys
    auto with_token = resolve_aksk({"ak", "sk", "token"}, d.str(), env);
    REQUIRE(with_token);
    REQUIRE(with_token->security_token.has_value());
    CHECK(with_token->security_token->reveal() == "TOKENFILE");
}

TEST_CASE("AK/SK fall back to HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, with the optional "
          "security token") {
    auto r = resolve_aksk(
        {}, "/nonexistent",
        fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"}, {"HUAWEICLOUD_SDK_SK", "SKENV\n"}}));
    REQUIRE(r);
    CHECK(r->access_key == "AKENV");
    CHECK(r->secret_key.reveal() == "SKENV");
    CHECK_FALSE(r->security_token.has_value());
    auto t = resolve_aksk({}, "/nonexistent",
                          fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"},
                                    {"HUAWEICLOUD_SDK_SK", "SKENV"},
                                    {"HUAWEICLOUD_SDK_SECURITY_TOKEN", "TOKENENV"}}));
    REQUIRE(t);
    REQUIRE(t->security_token.has_value());
    CHECK(t->security_token->reveal() == "TOKENENV");
}

TEST_CASE("no credentials anywhere, or half of them, is a problem naming what to set") {
    auto none = resolve_aksk({}, "/nonexistent", fake_env());
    REQUIRE_FALSE(none);
    CHECK(none.error().key == "");
    CHECK(none.error().message == "no credentials: set ak_file and sk_file, or HUAWEICLOUD_SDK_AK "
                                  "and HUAWEICLOUD_SDK_SK in the environment");
    auto blank = resolve_aksk({}, "/nonexistent",
                              fake_env({{"HUAWEICLOUD_SDK_AK", ""}, {"HUAWEICLOUD_SDK_SK", ""}}));
    REQUIRE_FALSE(blank);
    CHECK(blank.error().message.starts_with("no credentials"));
    auto ak_only = resolve_aksk({}, "/nonexistent", fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"}}));
    REQUIRE_FALSE(ak_only);
    CHECK(ak_only.error().message == "HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not");
    auto sk_only =
        resolve_aksk({}, "/nonexistent", fake_env({{"HUAWEICLOUD_SDK_SK", "TOPSECRET"}}));
    REQUIRE_FALSE(sk_only);
    CHECK(sk_only.error().message == "HUAWEICLOUD_SDK_SK is set but HUAWEICLOUD_SDK_AK is not");

    auto no_sk_file = resolve_aksk({"ak", std::nullopt, std::nullopt}, "/nonexistent", fake_env());
    REQUIRE_FALSE(no_sk_file);
    CHECK(no_sk_file.error().key == "sk_file");
    auto no_ak_file = resolve_aksk({std::nullopt, "sk", std::nullopt}, "/nonexistent", fake_env());
    REQUIRE_FALSE(no_ak_file);
    CHECK(no_ak_file.error().key == "ak_file");
    auto lone_token =
        resolve_aksk({std::nullopt, std::nullopt, "token"}, "/nonexistent",
                     fake_env({{"HUAWEICLOUD_SDK_AK", "A"}, {"HUAWEICLOUD_SDK_SK", "S"}}));
    REQUIRE_FALSE(lone_token);
    CHECK(lone_token.error().key == "security_token_file");
}

TEST_CASE("a multi-line SK in the environment is refused without showing it") {
    auto r = resolve_aksk({}, "/nonexistent",
                          fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"},
                                    {"HUAWEICLOUD_SDK_SK", "TOPSECRET\nINJECTED: x"}}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "the environment variable HUAWEICLOUD_SDK_SK holds more than one "
                               "line or a control character");
}

TEST_CASE("the file key that failed is named in the problem") {
    temp_dir d;
    d.write("ak", "AK");
    auto r = resolve_aksk({"ak", "sk", std::nullopt}, d.str(), fake_env());
    REQUIRE_FALSE(r);
    CHECK(r.error().key == "sk_file");
    CHECK(r.error().message == "cannot read " + (d.file("sk")) + ": No such file or directory");
}

TEST_CASE("the IAM endpoint is derived from a Huawei Cloud ModelArts endpoint only") {
    auto derived = [](std::string_view modelarts) -> std::optional<std::string> {
        auto iam = default_iam_endpoint(http::parse_url(modelarts).value());
        if (!iam) return std::nullopt;
        return iam->to_string();
    };
    CHECK(derived("https://modelarts.cn-north-4.myhuaweicloud.com") ==
          "https://iam.cn-north-4.myhuaweicloud.com");
    CHECK(derived("https://ModelArts.AP-Southeast-1.myhuaweicloud.cn") ==
          "https://iam.ap-southeast-1.myhuaweicloud.com");
    CHECK(derived("https://modelarts.cn-east-3.myhuaweicloud.com:443") ==
          "https://iam.cn-east-3.myhuaweicloud.com");
    CHECK_FALSE(derived("https://127.0.0.1:8443").has_value());
    CHECK_FALSE(derived("https://modelarts.myhuaweicloud.com").has_value());
    CHECK_FALSE(derived("https://modelarts.cn-north-4.example.com").has_value());
    CHECK_FALSE(derived("http://modelarts.cn-north-4.myhuaweicloud.com").has_value());
}

TEST_CASE("token credentials: explicit iam_endpoint, then the environment, then derived") {
    temp_dir d;
    d.write("password", "hunter2\n");
    token_source src{std::nullopt, "acme", "watcher", "password"};
    const auto ep = http::parse_url("https://modelarts.cn-north-4.myhuaweicloud.com").value();

    auto derived = resolve_token(src, ep, d.str(), fake_env());
    REQUIRE(derived);
    CHECK(derived->iam_endpoint.to_string() == "https://iam.cn-north-4.myhuaweicloud.com");
    CHECK(derived->domain_name == "acme");
    CHECK(derived->user_name == "watcher");
    CHECK(derived->password.reveal() == "hunter2");

    auto from_env = resolve_token(
        src, ep, d.str(), fake_env({{"HUAWEICLOUD_SDK_IAM_ENDPOINT", "https://iam.example.com/"}}));
    REQUIRE(from_env);
    CHECK(from_env->iam_endpoint.to_string() == "https://iam.example.com");

    src.iam_endpoint = "https://iam.myhuaweicloud.com";
    auto explicit_ep = resolve_token(
        src, ep, d.str(), fake_env({{"HUAWEICLOUD_SDK_IAM_ENDPOINT", "https://iam.example.com"}}));
    REQUIRE(explicit_ep);
    CHECK(explicit_ep->iam_endpoint.to_string() == "https://iam.myhuaweicloud.com");
}

TEST_CASE("token credentials: every missing or wrong piece is named") {
    temp_dir d;
    d.write("password", "hunter2");
    const std::string_view ep = "https://modelarts.cn-north-4.myhuaweicloud.com";
    auto problem = [&](token_source src,
                       std::string_view modelarts =
                           "https://modelarts.cn-north-4.myhuaweicloud.com",
                       environment env = fake_env()) {
        auto r = resolve_token(src, http::parse_url(modelarts).value(), d.str(), env);
        REQUIRE_FALSE(r);
        return r.error();
    };
    auto http = problem({"http://iam.example.com", "acme", "watcher", "password"});
    CHECK(http.key == "iam_endpoint");
    CHECK(http.message == "must be an https:// URL");
    auto bad_env = problem({std::nullopt, "acme", "watcher", "password"}, ep,
                           fake_env({{"HUAWEICLOUD_SDK_IAM_ENDPOINT", "iam.example.com"}}));
    CHECK(bad_env.key == "iam_endpoint");
    CHECK(bad_env.message.starts_with("the environment variable HUAWEICLOUD_SDK_IAM_ENDPOINT "));
    auto underivable =
        problem({std::nullopt, "acme", "watcher", "password"}, "https://127.0.0.1:8443");
    CHECK(underivable.key == "iam_endpoint");
    CHECK(underivable.message == "missing, and it cannot be derived from modelarts.endpoint "
                                 "https://127.0.0.1:8443 (only from "
                                 "https://modelarts.<region>.myhuaweicloud.com)");
    CHECK(problem({std::nullopt, std::nullopt, "watcher", "password"}).key == "domain_name");
    CHECK(problem({std::nullopt, "acme", std::nullopt, "password"}).key == "user_name");
    CHECK(problem({std::nullopt, "acme", "watcher", std::nullopt}).key == "password_file");
    auto unreadable = problem({std::nullopt, "acme", "watcher", "nope"});
    CHECK(unreadable.key == "password_file");
    CHECK(unreadable.message == "cannot read " + (d.file("nope")) + ": No such file or directory");
}
