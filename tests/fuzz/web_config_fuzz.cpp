// Fuzzes the web config loader (exporter-toolkit format): any bytes as the text of
// web_config_file, read as if from a folder holding a server certificate and key and a client
// CA. Either a web_config comes out or a web_config_error with one line of text.
#include "support/files.hpp"
#include "support/pki.hpp"
#include "taskwatch/web/basic_auth.hpp"
#include "taskwatch/web/web_config.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace taskwatch;

struct setup {
    test::temp_dir dir{"taskwatch-fuzz"};
    std::string source;
    setup() {
        test::test_ca ca;
        auto pair = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
        dir.write("tls/server.crt", pair.cert_pem);
        dir.write("tls/server.key", pair.key_pem);
        dir.write("tls/ca.crt", ca.cert_pem());
        source = dir.file("web.yml");
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const setup s;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> referenced;
    try {
        (void)web::parse_web_config(text, s.source, &referenced);
    } catch (const web::web_config_error& e) {
        if (std::string_view(e.what()).find('\n') != std::string_view::npos) {
            std::fprintf(stderr, "web_config_error of more than one line: %s\n", e.what());
            std::abort();
        }
    }
    // The Authorization header is the other text the web config's users meet.
    (void)web::parse_basic_authorization(text);
    return 0;
}
