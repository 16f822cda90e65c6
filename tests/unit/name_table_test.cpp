// The name tables every enum's names come from: order check, lookups both ways, fallbacks for
// values outside the table (an integer cast to the enum), and the list of names for messages.
#include "taskwatch/detail/name_table.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

using namespace taskwatch::detail;

namespace {

enum class colour { red, green, blue };
constexpr enum_name<colour> colour_names[] = {
    {colour::red, "red"}, {colour::green, "green"}, {colour::blue, "blue"}};

// Values that start below zero, as the API's status codes do.
enum class code : std::int64_t { minus_one = -1, zero = 0, one = 1 };
constexpr enum_name<code> code_names[] = {
    {code::minus_one, "minus_one"}, {code::zero, "zero"}, {code::one, "one"}};

constexpr enum_name<colour> out_of_order[] = {{colour::green, "green"}, {colour::red, "red"}};
constexpr enum_name<colour> with_gap[] = {{colour::red, "red"}, {colour::blue, "blue"}};
constexpr enum_name<colour> unnamed[] = {{colour::red, "red"}, {colour::green, ""}};

} // namespace

TEST_CASE("a table is in order when entry i names the first value + i, each with a name") {
    static_assert(in_enum_order(colour_names));
    static_assert(in_enum_order(code_names));
    static_assert(!in_enum_order(out_of_order));
    static_assert(!in_enum_order(with_gap));
    static_assert(!in_enum_order(unnamed));
}

TEST_CASE("every value's name reads back to it - other text and other values do not") {
    for (const auto& [value, bound_name] : code_names) {
        const std::string_view name = bound_name; // clang 14: no structured binding in CAPTURE
        CAPTURE(name);
        CHECK(name_in(code_names, value) == name);
        CHECK(value_in(code_names, name) == value);
    }
    CHECK_FALSE(value_in(colour_names, "Red").has_value());
    CHECK_FALSE(value_in(colour_names, "").has_value());
    CHECK(name_in(colour_names, static_cast<colour>(3)) == "unknown");
    CHECK(name_in(colour_names, static_cast<colour>(-1), "none") == "none");
    constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
    constexpr auto highest = std::numeric_limits<std::int64_t>::max();
    CHECK(name_in(code_names, static_cast<code>(-2)) == "unknown");
    CHECK(name_in(code_names, static_cast<code>(2)) == "unknown");
    CHECK(name_in(code_names, static_cast<code>(lowest)) == "unknown");
    CHECK(name_in(code_names, static_cast<code>(highest)) == "unknown");
}

TEST_CASE("the names for a message: \"a, b or c\", or joined by commas") {
    CHECK(names_in(colour_names) == "red, green or blue");
    CHECK(names_in(colour_names, ", ") == "red, green, blue");
    constexpr enum_name<colour> one[] = {{colour::red, "red"}};
    CHECK(names_in(one) == "red");
}
