// The alertmanager format against a real Alertmanager (Debian's prometheus-alertmanager, started
// on loopback by the test), which routes to the test's webhook receiver: a task that fails in
// the simulator becomes an Alertmanager notification, and it resolves when the task restarts.
#include "support/alertmanager.hpp"
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/http_request.hpp"
#include "support/outbox.hpp"
#include "support/pki.hpp"
#include "support/ports.hpp"
#include "support/receiver.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

namespace {

// The notifications the receiver got for `task_id`'s ModelArtsTaskFailed with `status`.
std::size_t notifications(const receiver_process& r, const std::string& task_id,
                          const std::string& status) {
    std::size_t n = 0;
    for (const auto& req : r.requests()) {
        const auto& body = req.at("body");
        if (!body.is_object() || !body.as_object().contains("alerts")) continue;
        for (const auto& a : body.at("alerts").as_array())
            if (string_of(a.at("status")) == status &&
                string_of(a.at("labels").at("alertname")) == "ModelArtsTaskFailed" &&
                string_of(a.at("labels").at("task_id")) == task_id)
                ++n;
    }
    return n;
}

} // namespace

TEST_CASE("a task that fails becomes an Alertmanager notification, resolved when it restarts") {
    REQUIRE_MESSAGE(std::filesystem::exists(alertmanager_bin),
                    "prometheus-alertmanager is not installed (scripts/install-deps.sh --test)");
    sim_process sim({"--static", "--tasks", "4", "--datasets", "1"});
    const auto dataset = first_dataset(sim).id;
    test_ca ca;
    const auto ca_file = sim.dir.file("receiver-ca.pem");
    ca.write_cert(ca_file);
    receiver_process hook(ca, {});
    alertmanager_process am(hook.url("/am"), ca_file);
    temp_dir state("state");
    daemon_options o;
    o.extra_top = "webhooks:\n  - name: am\n    format: alertmanager\n    urls: [" + am.url() +
                  "]\nexternal_url: https://taskwatch.example.com/\n";
    served_daemon d(sim, dataset, state.str(), o);
    wait_for_discovery(d.d, listed_tasks(sim).size());

    std::string task_id;
    for (const auto& t : listed_tasks(sim))
        if (string_of(t.at("status_name")) != "failed") task_id = string_of(t.at("task_id"));
    REQUIRE(!task_id.empty());
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status": "failed"})");
    const bool fired = wait_until([&] { return notifications(hook, task_id, "firing") > 0; }, 20s);
    REQUIRE_MESSAGE(fired, (d.d.proc->stderr_text() + am.proc->stderr_text()));
    // The alert as Alertmanager passed it on: labels, annotations and the link.
    for (const auto& req : hook.requests())
        for (const auto& a : req.at("body").at("alerts").as_array())
            if (string_of(a.at("labels").at("task_id")) == task_id) {
                CHECK(string_of(a.at("labels").at("dataset_id")) == dataset);
                CHECK(string_of(a.at("annotations").at("summary")).find("failed") !=
                      std::string::npos);
                CHECK(string_of(a.at("generatorURL")) ==
                      "https://taskwatch.example.com/tasks/" + dataset + "/" + task_id);
            }

    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status": "running"})");
    REQUIRE_MESSAGE(wait_until([&] { return notifications(hook, task_id, "resolved") > 0; }, 20s),
                    d.d.proc->stderr_text());
    for (const auto& [id, delivery_state] : read_deliveries(d.d.db, "am")) {
        const std::string st = delivery_state; // clang 14: no structured binding in CHECK
        CHECK(st == "delivered");
    }
    CHECK(d.d.stop() == 0);
}
