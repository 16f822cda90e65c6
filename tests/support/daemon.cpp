#include "support/daemon.hpp"

#include "support/wait.hpp"

#include <csignal>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace taskwatch::test {

using verb = boost::beast::http::verb;

std::string daemon_config(const sim_control& sim, const std::string& dataset,
                          const std::string& state_dir, const daemon_options& o) {
    std::string y = "listen: " + o.listen + "\n";
    if (!o.web_config_file.empty()) y += "web_config_file: " + o.web_config_file + "\n";
    y += "state_dir: " + state_dir + "\n";
    y += "log_level: debug\n";
    y += "modelarts:\n";
    y += "  endpoint: " + sim.url() + "\n";
    y += "  project_id: " + sim.account.project + "\n";
    y += "  ca_file: " + sim.ca_file() + "\n";
    y += "  auth: {type: aksk, ak_file: ak, sk_file: sk}\n";
    y += "  max_requests_per_second: " + std::to_string(o.max_requests_per_second) + "\n";
    y += o.extra_modelarts;
    y += "poll:\n";
    y += "  interval: " + o.interval + "\n";
    y += "  finished_interval: " + o.finished_interval + "\n";
    y += "  jitter: 0\n";
    y += o.extra_poll;
    y += "targets:\n";
    y += "  - dataset_id: " + dataset + "\n";
    y += o.extra_target;
    y += o.extra_top;
    return y;
}

daemon_process::daemon_process(sim_control& sim, const std::string& dataset,
                               const std::string& state_dir, const daemon_options& o) {
    sim.dir.write("ak", sim.account.ak + "\n");
    sim.dir.write("sk", sim.account.sk + "\n");
    config = sim.dir.write(o.config_name, daemon_config(sim, dataset, state_dir, o));
    db = state_dir + "/taskwatch.db";
    std::vector<std::string> args{"--config", config};
    args.insert(args.end(), o.args.begin(), o.args.end());
    proc.emplace(bin_dir() + "/taskwatchd", std::move(args));
}

int daemon_process::stop() {
    proc->send_signal(SIGTERM);
    return proc->wait(std::chrono::seconds(10)).value_or(-1);
}

server_address http_address_of(child_process& daemon, bool* tls,
                               std::chrono::milliseconds timeout) {
    static const std::regex serving(R"(msg="serving HTTP" url=(https?)://127\.0\.0\.1:(\d+)/)");
    std::smatch m;
    std::string text;
    bool exited = false;
    const bool found = wait_until(
        [&] {
            exited = !daemon.running();
            text = daemon.stderr_text();
            return std::regex_search(text, m, serving) || exited;
        },
        timeout, std::chrono::milliseconds(20));
    if (!found || m.empty())
        throw std::runtime_error(std::string(exited ? "taskwatchd exited at start"
                                                    : "taskwatchd did not log 'serving HTTP'") +
                                 "; its log:\n" + text);
    if (tls != nullptr) *tls = m[1] == "https";
    server_address a;
    a.port = static_cast<std::uint16_t>(std::stoi(m[2]));
    return a;
}

served_daemon::served_daemon(sim_control& sim, const std::string& dataset,
                             const std::string& state_dir, const daemon_options& o,
                             const std::string& ca_file)
    : d(sim, dataset, state_dir, o) {
    http = http_address_of(*d.proc, &tls, std::chrono::seconds(10));
    http.ca_file = ca_file;
}

http_reply served_daemon::request(verb method, const std::string& target, header_list headers,
                                  std::chrono::milliseconds timeout) {
    return http_request(http, method, target, std::move(headers), {}, timeout);
}

http_reply served_daemon::get(const std::string& target, header_list headers,
                              std::chrono::milliseconds timeout) {
    return request(verb::get, target, std::move(headers), timeout);
}

std::string served_daemon::metrics() {
    auto r = get("/metrics");
    if (r.status != 200)
        throw std::runtime_error("GET /metrics -> " + std::to_string(r.status) + " " +
                                 r.error.message());
    return r.body;
}

std::optional<double> served_daemon::metric(const std::string& name) {
    std::istringstream in(metrics());
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
    return std::nullopt;
}

double served_daemon::metric_or_fail(const std::string& name) {
    auto v = metric(name);
    if (!v) throw std::runtime_error(name + " is missing from /metrics");
    return *v;
}

std::vector<stored_event> wait_for_discovery(const daemon_process& d, std::size_t listed) {
    auto events = wait_for_events(
        d.db, [&](const auto& ev) { return count_type(ev, "task.discovered") >= listed; });
    if (const auto n = count_type(events, "task.discovered"); n != listed)
        throw std::runtime_error(std::to_string(n) + " task.discovered events, not " +
                                 std::to_string(listed) + "; the daemon's log:\n" +
                                 d.proc->stderr_text());
    return events;
}

} // namespace taskwatch::test
