// Fuzzes the task JSON model: any bytes as the body of GET .../tasks/{task_id}. A body either
// parses or gets a parse_error; what parses writes back (to_json) to a task that parses equal.
#include "taskwatch/modelarts/model.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace taskwatch::modelarts;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto parsed = parse_task(body);
    if (!parsed) {
        (void)parsed.error().to_string();
        return 0;
    }
    const auto again = parse_task(to_json(*parsed));
    if (!again) {
        std::fprintf(stderr, "to_json wrote a task that does not parse: %s\n",
                     again.error().to_string().c_str());
        std::abort();
    }
    if (!(*again == *parsed)) {
        std::fprintf(stderr, "to_json then parse_task gave a different task\n");
        std::abort();
    }
    return 0;
}
