// detail::boxed, the heap-held optional of rarely-set members: empty by default, deep copies,
// comparison by value, and assignment that reuses the box it has.
#include "taskwatch/detail/boxed.hpp"

#include <doctest/doctest.h>

#include <string>

using taskwatch::detail::boxed;

TEST_CASE("a box is empty until a value is assigned, and empty again after reset or nullopt") {
    boxed<std::string> b;
    CHECK_FALSE(b);
    b = std::string("timeout");
    REQUIRE(b.has_value());
    CHECK(*b == "timeout");
    CHECK(b->size() == 7);
    b.reset();
    CHECK_FALSE(b.has_value());
    b = std::string("auth");
    b = std::nullopt;
    CHECK_FALSE(b);
}

TEST_CASE("a copied box holds its own value: changing one leaves the other alone") {
    boxed<std::string> a = std::string("throttled");
    boxed<std::string> b = a;
    *b = "auth";
    CHECK(*a == "throttled");
    boxed<std::string> c;
    c = a;
    a = std::string("timeout");
    CHECK(*c == "throttled");
    c = boxed<std::string>();
    CHECK_FALSE(c);
}

TEST_CASE("two boxes are equal when both are empty or both hold equal values") {
    CHECK(boxed<std::string>() == boxed<std::string>());
    CHECK(boxed<std::string>("a") == boxed<std::string>("a"));
    CHECK_FALSE(boxed<std::string>("a") == boxed<std::string>("b"));
    CHECK_FALSE(boxed<std::string>("a") == boxed<std::string>());
    CHECK_FALSE(boxed<std::string>() == boxed<std::string>("a"));
}

TEST_CASE("assigning a value to a full box reuses its allocation") {
    boxed<std::string> b = std::string("first");
    const std::string* held = &*b;
    b = std::string("second");
    CHECK(&*b == held);
    CHECK(*b == "second");
}

TEST_CASE("a moved-from box is empty and the target holds the value") {
    boxed<std::string> a = std::string("gone");
    boxed<std::string> b = std::move(a);
    CHECK_FALSE(a); // NOLINT(bugprone-use-after-move): the documented moved-from state
    CHECK(*b == "gone");
}
