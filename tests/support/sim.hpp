// The ModelArts simulator under test, with a generated CA, one AK/SK pair and one IAM user:
// as a modelarts-sim child process (end-to-end tests) or in this process on its own thread
// (integration tests); either is driven through its control API over loopback.
#pragma once

#include "support/files.hpp"
#include "support/http_request.hpp"
#include "support/process.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace taskwatch::test {

struct sim_account {
    std::string project = "0123456789abcdef0123456789abcdef";
    std::string ak = "SIMTESTAK0000000001";
    std::string sk = "sim-test-secret-key-0001";
    std::string iam_user = "alice";
    std::string iam_domain = "acme";
    std::string iam_password = "correct horse battery staple";
};

/// What both kinds of simulator offer a test: the account, a folder, where it listens and its
/// control API (/sim/...). Control calls throw std::runtime_error on anything but 2xx.
class sim_control {
public:
    std::string url() const { return "https://127.0.0.1:" + std::to_string(address.port); }
    const std::string& ca_file() const { return address.ca_file; }

    /// A control request whose answer is not checked.
    http_reply control_reply(boost::beast::http::verb method, const std::string& target,
                             const std::string& body = {});
    /// A control request that must succeed: its JSON answer (null when it has no body).
    boost::json::value control(boost::beast::http::verb method, const std::string& target,
                               const std::string& body = {});
    boost::json::value stats();
    std::uint64_t requests_of_kind(const char* kind);
    void add_fault(const std::string& json_rule);
    /// Every task the simulator holds: {project_id, dataset_id, task_id, type, ...}.
    boost::json::array tasks();

    sim_account account;
    temp_dir dir{"sim"};
    server_address address;

protected:
    explicit sim_control(sim_account acct)
        : account(std::move(acct)) {}
    ~sim_control() = default;
    /// The simulator's command line: the account, a CA made in dir/tls (unless `extra` names
    /// --cert), then `extra`.
    std::vector<std::string> arguments(const std::vector<std::string>& extra);
};

/// modelarts-sim as a child process, started and listening.
class sim_process : public sim_control {
public:
    explicit sim_process(const std::vector<std::string>& extra = {}, sim_account acct = {});

    std::optional<child_process> proc;
};

/// The same simulator as a library on its own io_context thread, started and listening; stopped
/// and joined on destruction.
class sim_in_process : public sim_control {
public:
    explicit sim_in_process(const std::vector<std::string>& extra = {}, sim_account acct = {});
    ~sim_in_process();

private:
    struct runner;
    std::unique_ptr<runner> run_;
};

/// A dataset of the simulator: the first task's, and how many tasks of every type it holds.
struct dataset_ref {
    std::string id;
    std::size_t tasks = 0;
};
dataset_ref first_dataset(sim_control& sim);

/// The simulator's tasks that its list API shows, so the ones a daemon watching their dataset
/// watches: all but auto-grouping, in the simulator's order.
std::vector<boost::json::object> listed_tasks(sim_control& sim);

/// The text of a JSON string such as a task's "task_id"; throws when `v` is not a string.
std::string string_of(const boost::json::value& v);

/// Where many end-to-end tests start, as a doctest fixture (TEST_CASE_FIXTURE(static_sim<3>, ..)):
/// a static simulator with `Tasks` tasks in one dataset, the tasks its list API shows, their
/// dataset, and a state folder for a daemon.
template <int Tasks> struct static_sim {
    sim_process sim{
        std::vector<std::string>{"--static", "--tasks", std::to_string(Tasks), "--datasets", "1"}};
    std::vector<boost::json::object> tasks = listed_tasks(sim);
    std::string dataset = string_of(tasks.at(0).at("dataset_id"));
    temp_dir state{"state"};
};

} // namespace taskwatch::test
