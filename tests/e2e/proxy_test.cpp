// Through a real HTTP CONNECT proxy (Debian's tinyproxy, basic auth): polls and webhook
// deliveries tunnel through it, a wrong proxy password fails as the proxy's fault without a
// request reaching ModelArts, and $HTTPS_PROXY / $NO_PROXY are honoured.
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/outbox.hpp"
#include "support/pki.hpp"
#include "support/receiver.hpp"
#include "support/sim.hpp"
#include "support/tinyproxy.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace taskwatch::test;
using namespace std::chrono_literals;

namespace {

const std::string proxy_user = "proxyuser";
const std::string proxy_password = "Pr0xy-pass-7d1e";

bool all_delivered(const std::map<std::string, std::string>& deliveries, std::size_t at_least) {
    return deliveries.size() >= at_least &&
           std::all_of(deliveries.begin(), deliveries.end(),
                       [](const auto& d) { return d.second == "delivered"; });
}

// tinyproxy with the test's credentials, a static simulator with `tasks` tasks in one dataset,
// and a state folder for the daemon.
struct proxied_sim {
    tinyproxy_process proxy{proxy_user, proxy_password};
    sim_process sim;
    std::string dataset;
    temp_dir state{"state"};

    explicit proxied_sim(int tasks)
        : sim({"--static", "--tasks", std::to_string(tasks), "--datasets", "1"})
        , dataset(first_dataset(sim).id) {}
};

} // namespace

TEST_CASE("polls and webhook deliveries tunnel through a real CONNECT proxy with basic auth, "
          "and its password reaches no log, metric or API") {
    proxied_sim w(3);
    auto& proxy = w.proxy;
    auto& sim = w.sim;
    const auto& dataset = w.dataset;
    const auto& state = w.state;
    test_ca ca;
    const auto ca_file = sim.dir.file("receiver-ca.pem");
    ca.write_cert(ca_file);
    receiver_process hook(ca, {});
    daemon_options o;
    const auto via = proxy.url(proxy_user, proxy_password);
    o.extra_modelarts = "  proxy: " + via + "\n";
    o.extra_top = "webhooks:\n  - name: a\n    url: " + hook.url() + "\n    ca_file: " + ca_file +
                  "\n    proxy: " + via + "\n";
    served_daemon d(sim, dataset, state.str(), o);
    const auto listed = listed_tasks(sim).size();
    wait_for_discovery(d.d, listed);
    REQUIRE_MESSAGE(
        wait_until([&] { return all_delivered(read_deliveries(d.d.db, "a"), listed); }, 20s),
        d.d.proc->stderr_text());

    // Both went through the proxy: it was asked for tunnels to the simulator and the receiver.
    CHECK(proxy.connects_to(sim.address.port) >= 1);
    CHECK(proxy.connects_to(hook.port()) >= 1);
    CHECK(hook.accepted_ids().size() == listed);
    CHECK(d.metric_or_fail("taskwatch_polls_total") >= static_cast<double>(listed));
    const auto metrics = d.metrics();
    CHECK(metrics.find(R"(taskwatch_poll_failures_total{reason="proxy"} 0)") != std::string::npos);
    CHECK(metrics.find("taskwatch_discovery_up{project_id=\"" + sim.account.project +
                       "\",dataset_id=\"" + dataset + "\"} 1") != std::string::npos);
    CHECK(d.metric_or_fail("taskwatch_listings_total") >= 3); // one per task type
    CHECK(metrics.find(proxy_password) == std::string::npos);
    CHECK(d.get("/api/v1/tasks").body.find(proxy_password) == std::string::npos);
    CHECK(d.get("/api/v1/deliveries").body.find(proxy_password) == std::string::npos);
    CHECK(d.d.stop() == 0);
    CHECK(d.d.proc->stderr_text().find(proxy_password) == std::string::npos);
}

TEST_CASE("a wrong proxy password fails polls as the proxy's fault: no request reaches ModelArts, "
          "no auth failure counts against the key") {
    proxied_sim w(2);
    auto& proxy = w.proxy;
    auto& sim = w.sim;
    const auto& dataset = w.dataset;
    const auto& state = w.state;
    const auto task = string_of(listed_tasks(sim).at(0).at("task_id"));
    daemon_options o;
    o.extra_modelarts = "  proxy: " + proxy.url(proxy_user, "wrong-password-5c2a") + "\n";
    o.extra_target = "    task_ids: [" + task + "]\n"; // polled from the start, not listed
    served_daemon d(sim, dataset, state.str(), o);
    // tinyproxy refuses the tunnel (it answers 401, not 407): a proxy failure, said in the log.
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            return d.metrics().find(
                                       R"(taskwatch_poll_failures_total{reason="proxy"} 0)") ==
                                   std::string::npos;
                        },
                        20s),
                    d.d.proc->stderr_text());
    const auto metrics = d.metrics();
    CHECK(metrics.find(R"(taskwatch_poll_failures_total{reason="auth"} 0)") != std::string::npos);
    CHECK(proxy.connects_to(sim.address.port) >= 1);
    // Nothing got through: ModelArts saw no request, so no bad signature either.
    CHECK(sim.requests_of_kind("get_task") == 0);
    CHECK(sim.requests_of_kind("list_tasks") == 0);
    CHECK(d.d.stop() == 0);
    const auto log = d.d.proc->stderr_text();
    CHECK_MESSAGE(log.find("refused CONNECT") != std::string::npos, log);
    CHECK(log.find("wrong-password-5c2a") == std::string::npos);
}

TEST_CASE("a target whose listing the proxy refuses is down in taskwatch_discovery_up, its "
          "listing failures counted by reason") {
    proxied_sim w(2);
    auto& proxy = w.proxy;
    auto& sim = w.sim;
    const auto& dataset = w.dataset;
    const auto& state = w.state;
    daemon_options o;
    o.extra_modelarts = "  proxy: " + proxy.url(proxy_user, "wrong-password-5c2a") + "\n";
    served_daemon d(sim, dataset, state.str(), o);
    const auto down = "taskwatch_discovery_up{project_id=\"" + sim.account.project +
                      "\",dataset_id=\"" + dataset + "\"} 0";
    REQUIRE_MESSAGE(wait_until([&] { return d.metrics().find(down) != std::string::npos; }, 20s),
                    d.d.proc->stderr_text());
    const auto metrics = d.metrics();
    CHECK(metrics.find(R"(taskwatch_listing_failures_total{reason="proxy"} 0)") ==
          std::string::npos);
    CHECK(metrics.find(R"(taskwatch_listing_failures_total{reason="auth"} 0)") !=
          std::string::npos);
    CHECK(d.metric_or_fail("taskwatch_tasks") == 0);
    CHECK(sim.requests_of_kind("list_tasks") == 0);
    // The status page says why it shows no task.
    const auto page = d.get("/").body;
    CHECK_MESSAGE(page.find("Cannot list the tasks of dataset " + dataset + " (project " +
                            sim.account.project + "): proxy: ") != std::string::npos,
                  page);
    CHECK(page.find("wrong-password-5c2a") == std::string::npos);
    CHECK(d.d.stop() == 0);
}

TEST_CASE("taskwatchd get goes through $HTTPS_PROXY, and straight to the endpoint when $NO_PROXY "
          "names its host") {
    proxied_sim w(1);
    auto& proxy = w.proxy;
    auto& sim = w.sim;
    const auto& dataset = w.dataset;
    const auto& state = w.state;
    const auto task = string_of(listed_tasks(sim).at(0).at("task_id"));
    sim.dir.write("ak", sim.account.ak + "\n");
    sim.dir.write("sk", sim.account.sk + "\n");
    const auto config = sim.dir.write("get.yml", daemon_config(sim, dataset, state.str()));
    const std::vector<std::string> args{"get",   "--config", config, "--dataset",
                                        dataset, "--task",   task};
    const auto via = proxy.url(proxy_user, proxy_password);

    auto r = run_command(
        bin_dir() + "/taskwatchd", args,
        {{"HTTPS_PROXY", via}, {"https_proxy", ""}, {"NO_PROXY", ""}, {"no_proxy", ""}});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.find(task) != std::string::npos);
    CHECK(proxy.connects_to(sim.address.port) == 1);

    r = run_command(
        bin_dir() + "/taskwatchd", args,
        {{"HTTPS_PROXY", via}, {"https_proxy", ""}, {"NO_PROXY", "127.0.0.1"}, {"no_proxy", ""}});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.find(task) != std::string::npos);
    CHECK(proxy.connects_to(sim.address.port) == 1); // not asked again
}
