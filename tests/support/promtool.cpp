#include "support/promtool.hpp"

#include "support/files.hpp"
#include "support/process.hpp"

namespace taskwatch::test {

std::pair<int, std::string> promtool_check(const std::string& metrics_text) {
    temp_dir scratch("promtool");
    const auto file = scratch.write("metrics.txt", metrics_text);
    auto r = run_command("/bin/sh", {"-c", "exec /usr/bin/promtool check metrics < '" + file + "'"},
                         {}, std::chrono::seconds(30));
    return {r.status, r.out + r.err};
}

} // namespace taskwatch::test
