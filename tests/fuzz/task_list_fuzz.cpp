// Fuzzes the list response (GET .../datasets/{dataset_id}/tasks): the typed parse_task_list and
// discovery's lighter parse_task_ids read the same bytes. A page the typed parser accepts must be
// accepted by parse_task_ids with the same item count, total_count and (non-empty) task ids,
// and write back (to_json) to an equal list.
#include "taskwatch/modelarts/model.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "%s\n", what);
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace taskwatch::modelarts;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto ids = parse_task_ids(body);
    if (!ids) (void)ids.error().to_string();
    const auto list = parse_task_list(body);
    if (!list) {
        (void)list.error().to_string();
        return 0;
    }
    if (!ids) {
        std::fprintf(stderr, "parse_task_ids: %s\n", ids.error().to_string().c_str());
        fail("parse_task_list accepts a page that parse_task_ids rejects");
    }
    if (ids->items != list->tasks.size()) fail("parse_task_ids counts other items");
    if (ids->total_count != list->total_count) fail("parse_task_ids reads another total_count");
    std::vector<std::string> expected_ids;
    for (const auto& t : list->tasks) // an empty id is no id for discovery
        if (t.task_id && !t.task_id->empty()) expected_ids.push_back(*t.task_id);
    if (ids->task_ids != expected_ids) fail("parse_task_ids reads other task ids");
    const auto again = parse_task_list(to_json(*list));
    if (!again || !(*again == *list)) fail("to_json then parse_task_list gave another list");
    return 0;
}
