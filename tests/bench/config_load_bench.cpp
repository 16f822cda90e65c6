// Prints how long load_settings takes for a config listing many task ids (the duplicate check
// must stay about linear), how big that file is, and the process's peak resident set.
// Usage: config_load_bench [IDS] (default 1000000; ids are 19 characters like ModelArts').
#include "support/environment.hpp"
#include "support/files.hpp"
#include "taskwatch/config/settings.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

using namespace taskwatch;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const long ids = argc > 1 ? std::atol(argv[1]) : 1'000'000;
    const test::temp_dir scratch("config-load-bench");
    const auto& dir = scratch.path();
    const auto path = (dir / "config.yml").string();
    {
        std::ofstream out(path, std::ios::binary);
        out << "state_dir: " << (dir / "state").string() << "\n"
            << "modelarts:\n"
               "  endpoint: https://modelarts.cn-north-4.myhuaweicloud.com\n"
               "  project_id: 0123456789abcdef\n"
               "targets:\n"
               "  - dataset_id: WxCREuCkBSAlQr9xrde\n"
               "    task_ids:\n";
        char id[32];
        for (long i = 0; i < ids; ++i) {
            std::snprintf(id, sizeof id, "jMZGm2SBp%010ld", i); // 19 characters
            out << "      - " << id << "\n";
        }
    }
    const auto bytes = std::filesystem::file_size(path);
    const auto env =
        test::fake_env({{"HUAWEICLOUD_SDK_AK", "AKBENCH"}, {"HUAWEICLOUD_SDK_SK", "SKBENCH"}});
    const auto t0 = clock_type::now();
    auto s = config::load_settings(path, env);
    const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    std::printf("config_load_bench: %ld task ids, file %.1f MB, load_settings %.2f s, "
                "peak RSS %.0f MB (%zu ids loaded)\n",
                ids, static_cast<double>(bytes) / 1e6, secs,
                static_cast<double>(ru.ru_maxrss) / 1024, s.targets.at(0).task_ids->size());
    std::filesystem::remove_all(dir);
    return 0;
}
