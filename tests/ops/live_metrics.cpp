// Prints the /metrics of a real taskwatchd after its first poll round: watching a modelarts-sim
// dataset, with a target label and two webhooks, so that every family the daemon can export
// without a fault has its samples. tests/ops/dashboard_metrics.sh checks the dashboard's and the
// alert rules' metric names against it.
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

int main() {
    using namespace taskwatch::test;
    using namespace std::chrono_literals;
    try {
        sim_process sim({"--static", "--tasks", "4", "--datasets", "1"});
        const auto tasks = sim.tasks();
        const std::string dataset(tasks.at(0).at("dataset_id").as_string());
        temp_dir state("ops-metrics");
        daemon_options o;
        o.extra_target = "    labels: {team: vision}\n";
        // Delivery goes nowhere; the webhook series exist per configured webhook regardless.
        o.extra_top = "webhooks:\n"
                      "  - name: ops\n"
                      "    url: http://127.0.0.1:9/hook\n"
                      "  - name: chat\n"
                      "    url: http://127.0.0.1:9/chat\n"
                      "    format: slack\n";
        served_daemon w(sim, dataset, state.str(), o);
        if (!wait_until([&] { return w.get("/-/ready").status == 200; }, 30s)) {
            std::fprintf(stderr, "taskwatchd never became ready; its log:\n%s\n",
                         w.d.proc->stderr_text().c_str());
            return 1;
        }
        const auto text = w.metrics();
        std::fwrite(text.data(), 1, text.size(), stdout);
        return w.d.stop() == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "live_metrics: %s\n", e.what());
        return 1;
    }
}
