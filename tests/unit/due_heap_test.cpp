// poll::due_heap, the scheduler's due times: items come out in due order, a moved item comes
// out at its new time, an erased one never, and every item's heap_index says where it is.
#include "taskwatch/poll/due_heap.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace {

struct item {
    int id = 0;
    std::uint32_t heap_index = taskwatch::poll::not_in_heap;
};
using heap = taskwatch::poll::due_heap<item, long>;

} // namespace

TEST_CASE("items come out in due order, and leave the heap as they do") {
    std::vector<item> items(5);
    const long due[] = {50, 10, 40, 20, 30};
    heap h;
    for (int i = 0; i < 5; ++i) {
        items[i].id = i;
        h.set(items[i], due[i]);
    }
    CHECK(h.size() == 5);
    std::vector<int> order;
    while (!h.empty()) {
        const auto top = h.top().due;
        auto* it = h.pop();
        CHECK(top == due[it->id]);
        CHECK_FALSE(heap::contains(*it));
        order.push_back(it->id);
    }
    CHECK(order == std::vector<int>{1, 3, 4, 2, 0});
}

TEST_CASE("setting an item again moves its one entry, and erasing takes it out") {
    std::vector<item> items(3);
    heap h;
    h.set(items[0], 10);
    h.set(items[1], 20);
    h.set(items[2], 30);
    h.set(items[2], 5); // sooner: now first
    CHECK(h.size() == 3);
    CHECK(h.top().item == &items[2]);
    h.set(items[2], 40); // later: now last
    CHECK(h.top().item == &items[0]);
    h.erase(items[0]);
    h.erase(items[0]); // not in it any more: nothing happens
    CHECK(h.size() == 2);
    CHECK_FALSE(heap::contains(items[0]));
    CHECK(h.pop() == &items[1]);
    CHECK(h.pop() == &items[2]);
    CHECK(h.empty());
}

TEST_CASE("random sets, erases and pops agree with an ordered reference") {
    std::mt19937 rng(7);
    std::vector<item> items(300);
    for (int i = 0; i < 300; ++i)
        items[i].id = i;
    heap h;
    std::map<int, long> due; // the reference: item id -> its due time, for items in the heap
    for (int step = 0; step < 20000; ++step) {
        auto& it = items[rng() % items.size()];
        switch (rng() % 4) {
        case 0:
        case 1: {
            const long when = static_cast<long>(rng() % 1000);
            h.set(it, when);
            due[it.id] = when;
            break;
        }
        case 2:
            h.erase(it);
            due.erase(it.id);
            break;
        default:
            if (h.empty()) break;
            long least = due.begin()->second;
            for (const auto& [id, when] : due)
                least = std::min(least, when);
            const long top = h.top().due;
            REQUIRE(top == least);
            auto* out = h.pop();
            REQUIRE(due.at(out->id) == top);
            due.erase(out->id);
        }
        REQUIRE(h.size() == due.size());
        for (const auto& i : items)
            REQUIRE(heap::contains(i) == (due.count(i.id) == 1));
    }
}
