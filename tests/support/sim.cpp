#include "support/sim.hpp"

#include "taskwatch/sim/options.hpp"
#include "taskwatch/sim/simulator.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <future>
#include <regex>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace taskwatch::test {

using verb = boost::beast::http::verb;

http_reply sim_control::control_reply(verb method, const std::string& target,
                                      const std::string& body) {
    return http_request(address, method, target, {}, body);
}

boost::json::value sim_control::control(verb method, const std::string& target,
                                        const std::string& body) {
    auto r = control_reply(method, target, body);
    if (r.status / 100 != 2)
        throw std::runtime_error("simulator control " + target + " -> " + std::to_string(r.status) +
                                 " " + r.body + " " + r.error.message());
    if (r.body.empty()) return nullptr;
    return boost::json::parse(r.body);
}

boost::json::value sim_control::stats() {
    return control(verb::get, "/sim/stats");
}

std::uint64_t sim_control::requests_of_kind(const char* kind) {
    return stats().at("requests_by_kind").at(kind).to_number<std::uint64_t>();
}

void sim_control::add_fault(const std::string& json_rule) {
    control(verb::post, "/sim/faults", json_rule);
}

boost::json::array sim_control::tasks() {
    return control(verb::get, "/sim/tasks").at("tasks").as_array();
}

std::vector<std::string> sim_control::arguments(const std::vector<std::string>& extra) {
    const auto sk = dir.write("sim-sk", account.sk + "\n");
    const auto pw = dir.write("sim-password", account.iam_password + "\n");
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
    if (std::find(extra.begin(), extra.end(), "--cert") == extra.end()) {
        args.push_back("--self-signed");
        args.push_back(dir.file("tls"));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

sim_process::sim_process(const std::vector<std::string>& extra, sim_account acct)
    : sim_control(std::move(acct)) {
    proc.emplace(bin_dir() + "/modelarts-sim", arguments(extra));
    auto line = proc->wait_for_line(std::regex(R"(^listening on https://127\.0\.0\.1:\d+$)"),
                                    std::chrono::seconds(10));
    if (!line)
        throw std::runtime_error("modelarts-sim did not start; stderr: " + proc->stderr_text());
    address.port = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
    address.ca_file = dir.file("tls/ca.pem");
}

struct sim_in_process::runner {
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
        io.get_executor()};
    std::optional<sim::simulator> simulator;
    std::thread thread;
};

sim_in_process::sim_in_process(const std::vector<std::string>& extra, sim_account acct)
    : sim_control(std::move(acct))
    , run_(std::make_unique<runner>()) {
    const auto args = arguments(extra);
    const std::vector<std::string_view> views(args.begin(), args.end());
    auto cl = sim::parse_command_line(views);
    if (!cl) throw std::runtime_error("simulator arguments: " + cl.error().message);
    run_->simulator.emplace(run_->io.get_executor(), cl->options);
    run_->simulator->start(); // before the thread: nothing else touches it yet
    address.port = run_->simulator->port();
    address.ca_file = dir.file("tls/ca.pem");
    run_->thread = std::thread([r = run_.get()] { r->io.run(); });
}

sim_in_process::~sim_in_process() {
    // Stop on the simulator's thread; requests left hanging by a fault are cut after 100 ms.
    std::promise<void> stopped;
    boost::asio::post(run_->io, [this, &stopped] {
        run_->simulator->stop([&stopped] { stopped.set_value(); }, std::chrono::milliseconds(100));
    });
    stopped.get_future().wait_for(std::chrono::seconds(10));
    run_->work.reset();
    run_->io.stop();
    run_->thread.join();
}

dataset_ref first_dataset(sim_control& sim) {
    const auto tasks = sim.tasks();
    if (tasks.empty()) throw std::runtime_error("the simulator holds no task");
    dataset_ref d;
    d.id = std::string(tasks.at(0).at("dataset_id").as_string());
    for (const auto& t : tasks)
        d.tasks += t.at("dataset_id").as_string() == d.id;
    return d;
}

std::vector<boost::json::object> listed_tasks(sim_control& sim) {
    std::vector<boost::json::object> out;
    for (const auto& t : sim.tasks())
        if (t.at("type").as_string() != "auto-grouping") out.push_back(t.as_object());
    return out;
}

std::string string_of(const boost::json::value& v) {
    return std::string(v.as_string());
}

} // namespace taskwatch::test
