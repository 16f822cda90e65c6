#include "support/receiver.hpp"

#include <boost/json/parse.hpp>

#include <regex>
#include <sstream>
#include <stdexcept>

namespace taskwatch::test {

std::string support_file(const std::string& name) {
    return std::string(TASKWATCH_TEST_SUPPORT_DIR) + "/" + name;
}

receiver_process::receiver_process(const test_ca& ca, const std::vector<std::string>& args) {
    auto pair = ca.issue("127.0.0.1", "IP:127.0.0.1");
    const auto cert = dir.write("cert.pem", pair.cert_pem);
    const auto key = dir.write("key.pem", pair.key_pem);
    std::vector<std::string> argv{support_file("webhook_receiver.py"),
                                  "--cert",
                                  cert,
                                  "--key",
                                  key,
                                  "--log",
                                  dir.file("log.jsonl")};
    argv.insert(argv.end(), args.begin(), args.end());
    proc.emplace("/usr/bin/python3", argv);
    static const std::regex listening(R"(listening (\d+))");
    auto line = proc->wait_for_line(listening, std::chrono::seconds(20));
    if (!line)
        throw std::runtime_error("the webhook receiver did not start: " + proc->stderr_text());
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(' ') + 1)));
}

std::string receiver_process::url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<received> receiver_process::requests() const {
    std::vector<received> out;
    std::istringstream in(read_file(dir.file("log.jsonl")));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
}

std::vector<std::string> receiver_process::accepted_ids() const {
    std::vector<std::string> out;
    for (const auto& r : requests()) {
        const auto status = r.at("status").to_number<int>();
        if (status >= 200 && status < 300 && r.at("id").is_string())
            out.emplace_back(r.at("id").as_string());
    }
    return out;
}

} // namespace taskwatch::test
