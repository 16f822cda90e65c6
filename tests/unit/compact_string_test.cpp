// detail::compact_string, the one-pointer text of a watched task's last observation: empty
// without an allocation, read as a string_view, compared and ordered as one, copied deeply.
#include "taskwatch/detail/compact_string.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using taskwatch::detail::compact_string;

TEST_CASE("a compact string is one pointer, empty by default and after clear") {
    static_assert(sizeof(compact_string) == sizeof(void*));
    compact_string s;
    CHECK(s.empty());
    CHECK(s.size() == 0);
    CHECK(s.view().empty());
    REQUIRE(s.data() != nullptr); // as std::string's: an empty text is not a null one
    CHECK(*s.data() == '\0');
    s = std::string("The task is queuing.");
    CHECK_FALSE(s.empty());
    CHECK(s.size() == 20);
    s.clear();
    CHECK(s.empty());
    s = compact_string("");
    CHECK(s.empty());
}

TEST_CASE("a compact string reads back what it was given, embedded NULs included") {
    const std::string text("ModelArts.4902\0x", 16);
    const compact_string s(text);
    CHECK(s.view() == text);
    CHECK(s.str() == text);
    CHECK(std::string_view(s).size() == 16);
    CHECK(std::string(s.data(), s.size()) == text);
}

TEST_CASE("compact strings compare with each other, std::string, string_view and literals") {
    const compact_string a("fast"), b("fast"), c("accurate");
    CHECK(a == b);
    CHECK_FALSE(a == c);
    CHECK(a == std::string("fast"));
    CHECK(a == std::string_view("fast"));
    CHECK(a == "fast");
    CHECK(std::string("fast") == a);
    CHECK(c < a);
    CHECK(compact_string() < c);
    CHECK(compact_string() == "");
}

TEST_CASE("a copied compact string is its own: replacing one leaves the other alone") {
    compact_string a("auto-label-0001");
    compact_string b = a;
    a = std::string("pre-label-0002");
    CHECK(b == "auto-label-0001");
    compact_string c;
    c = b;
    b.clear();
    CHECK(c == "auto-label-0001");
    compact_string d = std::move(c);
    CHECK(d == "auto-label-0001");
}
