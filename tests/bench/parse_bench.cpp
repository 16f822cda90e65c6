// Cost of turning one GET answer into what the engine keeps: modelarts::parse_task of a body
// as the simulator serves it, then task::observe moving its texts. Prints ns per answer.
#include "taskwatch/modelarts/model.hpp"
#include "taskwatch/sim/json.hpp"
#include "taskwatch/sim/model.hpp"
#include "taskwatch/task/types.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main() {
    using namespace taskwatch;
    sim::world_options opts;
    opts.tasks = 256;
    sim::world w(opts, std::chrono::system_clock::now());
    std::vector<std::string> bodies;
    std::size_t bytes = 0;
    for (auto* t : w.all()) {
        bodies.push_back(sim::task_body(*t));
        bytes += bodies.back().size();
    }
    const std::size_t rounds = 2000;
    std::size_t seen = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < rounds; ++r)
        for (const auto& b : bodies) {
            auto t = modelarts::parse_task(std::string_view(b));
            if (!t) return 1;
            if (auto o = task::observe(std::move(*t))) seen += o->status.has_value();
        }
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    std::printf("parse_task + observe: %.0f ns per answer (%zu bytes on average, %zu seen)\n",
                took.count() / double(rounds * bodies.size()), bytes / bodies.size(), seen);
}
