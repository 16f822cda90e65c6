// HA (docs/scaling.md): two replicas of taskwatchd with the same config, watching the same
// task, push to a two-member Alertmanager cluster (Debian's prometheus-alertmanager, gossiping
// on loopback), which notifies once; and the generic webhook's webhook-id, computed from what
// both replicas see, is the same from both, so a receiver de-duplicating on it keeps one.
#include "support/alertmanager.hpp"
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/outbox.hpp"
#include "support/pki.hpp"
#include "support/ports.hpp"
#include "support/receiver.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>

using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

namespace {

// Alertmanager's notifications of `task_id`'s ModelArtsTaskFailed firing.
std::size_t firing(const receiver_process& r, const std::string& task_id) {
    std::size_t n = 0;
    for (const auto& req : r.requests()) {
        const auto& body = req.at("body");
        if (string_of(req.at("path")) != "/am" || !body.is_object()) continue;
        for (const auto& a : body.at("alerts").as_array())
            if (string_of(a.at("status")) == "firing" &&
                string_of(a.at("labels").at("alertname")) == "ModelArtsTaskFailed" &&
                string_of(a.at("labels").at("task_id")) == task_id)
                ++n;
    }
    return n;
}

// The webhook-ids of the generic deliveries of `task_id` going to `status`, one per request.
std::vector<std::string> status_change_ids(const receiver_process& r, const std::string& task_id,
                                           const std::string& status) {
    std::vector<std::string> out;
    for (const auto& req : r.requests()) {
        const auto& body = req.at("body");
        if (string_of(req.at("path")) != "/generic" || !body.is_object()) continue;
        if (string_of(body.at("type")) == "task.status_changed" &&
            string_of(body.at("task").at("task_id")) == task_id &&
            string_of(body.at("current").at("status")) == status)
            out.push_back(string_of(req.at("id")));
    }
    return out;
}

} // namespace

TEST_CASE("two replicas and a two-member Alertmanager cluster notify a failed task once, and "
          "the replicas' webhook-ids for it are the same") {
    REQUIRE_MESSAGE(std::filesystem::exists(alertmanager_bin),
                    "prometheus-alertmanager is not installed (scripts/install-deps.sh --test)");
    sim_process sim({"--static", "--tasks", "4", "--datasets", "1"});
    std::vector<boost::json::object> listed; // what a daemon watches: every type
    for (const auto& t : sim.tasks())
        listed.push_back(t.as_object());
    const auto dataset = string_of(listed.at(0).at("dataset_id"));
    const auto task_id = string_of(listed.at(0).at("task_id"));
    test_ca ca;
    const auto ca_file = sim.dir.file("receiver-ca.pem");
    ca.write_cert(ca_file);
    receiver_process hook(ca, {});

    const auto gossip_1 = free_port(), gossip_2 = free_port();
    alertmanager_process am1(hook.url("/am"), ca_file, alertmanager_cluster{gossip_1, {gossip_2}});
    alertmanager_process am2(hook.url("/am"), ca_file, alertmanager_cluster{gossip_2, {gossip_1}});
    REQUIRE_MESSAGE(
        wait_until([&] { return am1.cluster_size() == 2 && am2.cluster_size() == 2; }, 30s),
        (am1.proc->stderr_text() + am2.proc->stderr_text()));

    // The same config for both (but for the file's name and the state folder).
    daemon_options o;
    o.extra_top = "webhooks:\n"
                  "  - name: am\n    format: alertmanager\n    urls: [" +
                  am1.url() + ", " + am2.url() +
                  "]\n"
                  "  - name: ops\n    url: " +
                  hook.url("/generic") + "\n    ca_file: " + ca_file +
                  "\n    events: [task.status_changed]\n";

    // The replicas see different histories: the first sees the task go from initializing to
    // running, the second starts after that. An id counting each replica's events would differ.
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status": "initializing"})");
    temp_dir state_a("state"), state_b("state");
    o.config_name = "replica-a.yml";
    daemon_process a(sim, dataset, state_a.str(), o);
    wait_for_discovery(a, listed.size());
    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status": "running"})");
    wait_for_events(
        a.db, [&](const auto& ev) { return count_of(ev, "task.status_changed", task_id) >= 1; });
    o.config_name = "replica-b.yml";
    daemon_process b(sim, dataset, state_b.str(), o);
    wait_for_discovery(b, listed.size());

    sim.control(verb::patch, "/sim/tasks/" + task_id, R"({"status": "failed"})");
    // Both replicas deliver the status change, under one webhook-id.
    std::vector<std::string> ids;
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            ids = status_change_ids(hook, task_id, "failed");
                            return ids.size() >= 2;
                        },
                        20s),
                    (a.proc->stderr_text() + b.proc->stderr_text()));
    CHECK(ids.size() == 2);
    CHECK(ids.at(0) == ids.at(1));

    // Alertmanager: both replicas posted the alert to both members; one notification.
    REQUIRE_MESSAGE(wait_until([&] { return firing(hook, task_id) >= 1; }, 30s),
                    (am1.proc->stderr_text() + am2.proc->stderr_text()));
    for (const auto* db : {&a.db, &b.db}) {
        CHECK(wait_until(
            [&] {
                const auto d = read_deliveries(*db, "am");
                return !d.empty() && std::all_of(d.begin(), d.end(), [](const auto& x) {
                    return x.second == "delivered";
                });
            },
            15s));
    }
    // A second notification would come from the second member once its 3 s turn
    // (--cluster.peer-timeout) after the first has passed; none comes in three times that.
    CHECK_FALSE(wait_until([&] { return firing(hook, task_id) > 1; }, 9s));
    CHECK(firing(hook, task_id) == 1);

    CHECK(a.stop() == 0);
    CHECK(b.stop() == 0);
}
