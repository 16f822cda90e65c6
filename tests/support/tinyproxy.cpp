#include "support/tinyproxy.hpp"

#include "support/http_request.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"

#include <sstream>
#include <stdexcept>

namespace taskwatch::test {

using namespace std::chrono_literals;

tinyproxy_process::tinyproxy_process(const std::string& user, const std::string& password)
    : port(free_port()) {
    // Without ConnectPort lines every port may be tunnelled to; LogLevel Connect logs each
    // CONNECT request line.
    const auto config =
        dir.write("tinyproxy.conf", "Port " + std::to_string(port) +
                                        "\nListen 127.0.0.1\n"
                                        "Timeout 30\n"
                                        "MaxClients 200\n"
                                        "Allow 127.0.0.1\n"
                                        "BasicAuth " +
                                        user + " " + password +
                                        "\nLogLevel Connect\n"
                                        "LogFile \"" +
                                        dir.file("tinyproxy.log") + "\"\nDisableViaHeader Yes\n");
    // It writes its log as the user it runs as (nobody when started as root).
    std::filesystem::permissions(dir.file(""), std::filesystem::perms::all,
                                 std::filesystem::perm_options::add);
    proc.emplace(tinyproxy_bin, std::vector<std::string>{"-d", "-c", config});
    // Any HTTP answer means it accepts connections (a plain GET of / is refused with 4xx).
    if (!wait_until(
            [&] {
                return http_request(server_address{port, ""}, boost::beast::http::verb::get, "/")
                           .status != 0;
            },
            10s))
        throw std::runtime_error("tinyproxy did not start: " + proc->stderr_text());
}

std::string tinyproxy_process::url(const std::string& user, const std::string& password) const {
    return "http://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port);
}

std::size_t tinyproxy_process::connects_to(std::uint16_t to) const {
    if (!std::filesystem::exists(dir.file("tinyproxy.log"))) return 0;
    std::istringstream log(read_file(dir.file("tinyproxy.log")));
    const std::string wanted = "CONNECT 127.0.0.1:" + std::to_string(to) + " ";
    std::size_t n = 0;
    for (std::string line; std::getline(log, line);)
        n += line.find(wanted) != std::string::npos;
    return n;
}

} // namespace taskwatch::test
