// Fuzzes the config loader: any bytes as the text of the daemon's YAML configuration, read as
// if from a file in a folder that holds the files the test configurations name (ak, sk, a web
// config, a CA file). Either settings come out or a config_error with one line of text.
#include "support/environment.hpp"
#include "support/files.hpp"
#include "support/pki.hpp"
#include "taskwatch/config/settings.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace taskwatch;

struct setup {
    test::temp_dir dir{"taskwatch-fuzz"};
    std::string source;
    config::environment env;
    setup() {
        dir.write("ak", "AKTESTCONFIG0000000\n");
        dir.write("sk", "sk-for-broken-config-tests\n");
        dir.write("empty.secret", "");
        dir.write("webhook.secret", "s3cret\n");
        dir.write("web.yml", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
        test::test_ca ca;
        dir.write("ca.crt", ca.cert_pem());
        source = dir.file("taskwatch.yml");
        env = test::fake_env({{"HUAWEICLOUD_SDK_AK", "AKENV"},
                              {"HUAWEICLOUD_SDK_SK", "SKENV"},
                              {"HUAWEICLOUD_SDK_PROJECT_ID", "penv"}});
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const setup s;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto settings = config::parse_settings(text, s.source, s.env);
        (void)config::describe_restart_needed(settings, settings);
    } catch (const config::config_error& e) {
        if (std::string_view(e.what()).find('\n') != std::string_view::npos) {
            std::fprintf(stderr, "config_error of more than one line: %s\n", e.what());
            std::abort();
        }
    }
    return 0;
}
