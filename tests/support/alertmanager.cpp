#include "support/alertmanager.hpp"

#include "support/http_request.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"

#include <boost/json/parse.hpp>

#include <stdexcept>

namespace taskwatch::test {

using verb = boost::beast::http::verb;
using namespace std::chrono_literals;

alertmanager_process::alertmanager_process(const std::string& hook_url, const std::string& ca_file,
                                           std::optional<alertmanager_cluster> cluster)
    : port(free_port()) {
    const auto config = dir.write("am.yml", "route:\n"
                                            "  receiver: hook\n"
                                            "  group_by: [alertname, task_id]\n"
                                            "  group_wait: 1s\n"
                                            "  group_interval: 1s\n"
                                            "  repeat_interval: 1h\n"
                                            "receivers:\n"
                                            "  - name: hook\n"
                                            "    webhook_configs:\n"
                                            "      - url: " +
                                                hook_url +
                                                "\n"
                                                "        send_resolved: true\n"
                                                "        http_config:\n"
                                                "          tls_config: {ca_file: " +
                                                ca_file + "}\n");
    std::vector<std::string> args{"--config.file=" + config, "--storage.path=" + dir.file("data"),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    if (!cluster) {
        args.push_back("--cluster.listen-address=");
    } else {
        const auto self = "127.0.0.1:" + std::to_string(cluster->gossip_port);
        args.push_back("--cluster.listen-address=" + self);
        args.push_back("--cluster.advertise-address=" + self);
        for (auto p : cluster->peers)
            args.push_back("--cluster.peer=127.0.0.1:" + std::to_string(p));
        // Seconds instead of the defaults' minutes: gossip every 50 ms, a full sync every
        // second, settled after a few quiet rounds, 3 s between members' notifications.
        args.insert(args.end(), {"--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
                                 "--cluster.probe-interval=200ms", "--cluster.settle-timeout=5s",
                                 "--cluster.peer-timeout=3s", "--cluster.reconnect-interval=1s"});
    }
    proc.emplace(alertmanager_bin, std::move(args));
    server_address at{port, ""};
    if (!wait_until([&] { return http_request(at, verb::get, "/-/ready").status == 200; }, 20s))
        throw std::runtime_error("alertmanager did not start: " + proc->stderr_text());
}

std::size_t alertmanager_process::cluster_size() const {
    auto r = http_request(server_address{port, ""}, verb::get, "/api/v2/status");
    if (r.status != 200) return 0;
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec || !v.is_object()) return 0;
    const auto* cl = v.as_object().if_contains("cluster");
    if (!cl || !cl->is_object()) return 0;
    const auto* peers = cl->as_object().if_contains("peers");
    return peers && peers->is_array() ? peers->as_array().size() : 0;
}

} // namespace taskwatch::test
