// detail::inline_string, the task id of a task key: texts of up to 30 bytes inside its 32,
// longer ones on the heap, NUL-terminated either way, read and compared as a string_view,
// copied deeply and moved without a copy.
#include "taskwatch/detail/inline_string.hpp"

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

using taskwatch::detail::inline_string;

namespace {
// True when the text lies inside the object (no heap block).
bool inside(const inline_string& s) {
    const auto* p = reinterpret_cast<const char*>(&s);
    return s.data() >= p && s.data() < p + sizeof s;
}
} // namespace

TEST_CASE("an inline string keeps up to 30 bytes inside and longer texts on the heap") {
    static_assert(sizeof(inline_string) == 32);
    const std::string thirty(30, 'a'), thirty_one(31, 'b'), long_id(200, 'c');
    const inline_string a(thirty), b(thirty_one), c(long_id), empty;
    CHECK(inside(a));
    CHECK_FALSE(inside(b));
    CHECK_FALSE(inside(c));
    CHECK(inside(empty));
    CHECK(a.view() == thirty);
    CHECK(b.view() == thirty_one);
    CHECK(c.view() == long_id);
    CHECK(empty.empty());
    for (const auto* s : {&a, &b, &c, &empty})
        CHECK(s->c_str()[s->size()] == '\0');
    CHECK(std::string(a.c_str()) == thirty);
}

TEST_CASE("inline strings copy deeply, move without copying, and reassign across sizes") {
    inline_string heap(std::string(40, 'x')), small("jMZGm2SBp4Ymr2wrhAK");
    inline_string copy = heap;
    CHECK(copy == heap);
    CHECK(copy.data() != heap.data());
    const char* block = heap.data();
    inline_string moved = std::move(heap);
    CHECK(moved.data() == block); // the heap text changed hands
    CHECK(heap.empty());          // NOLINT(bugprone-use-after-move): moved-from is empty
    moved = small;                // heap -> inline
    CHECK(moved == "jMZGm2SBp4Ymr2wrhAK");
    CHECK(inside(moved));
    small = std::string(64, 'y'); // inline -> heap
    CHECK(small.size() == 64);
    small = std::move(copy);
    CHECK(small == std::string(40, 'x'));
    small = small; // self-assignment keeps the text
    CHECK(small == std::string(40, 'x'));
    small = small.view().substr(8); // a view of its own heap text: copied before it goes
    CHECK(small == std::string(32, 'x'));
    small.clear();
    CHECK(small.empty());
}

TEST_CASE("inline strings compare, order and join as their texts") {
    const inline_string a("k2Lq0PmmS8sd0aZx1ce"), b("jMZGm2SBp4Ymr2wrhAK");
    CHECK(b < a);
    CHECK(a == std::string("k2Lq0PmmS8sd0aZx1ce"));
    CHECK(a == std::string_view("k2Lq0PmmS8sd0aZx1ce"));
    CHECK(a == "k2Lq0PmmS8sd0aZx1ce");
    CHECK(a != b);
    CHECK(std::string("tasks/") + a == "tasks/k2Lq0PmmS8sd0aZx1ce");
    CHECK(a + "/x" == "k2Lq0PmmS8sd0aZx1ce/x");
    CHECK("id " + b == "id jMZGm2SBp4Ymr2wrhAK");
    std::ostringstream os;
    os << a;
    CHECK(os.str() == "k2Lq0PmmS8sd0aZx1ce");
    const std::map<inline_string, int> ordered{{a, 1}, {b, 2}};
    CHECK(ordered.begin()->first == b);
}
