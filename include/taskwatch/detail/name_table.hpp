// An enum's names written once: a table of {value, name} in the enum's order, from which its
// to_string, its parser, the list of all its values and the "a, b or c" of messages all come.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::detail {

template <class Enum> struct enum_name {
    Enum value;
    std::string_view name;
};

/// True when the entries name consecutive values from the first entry's (entry i names the
/// first value + i), each with a name, so that name_in is an index: every table has a
/// static_assert of this beside it.
template <class Enum, std::size_t N>
constexpr bool in_enum_order(const enum_name<Enum> (&table)[N]) {
    for (std::size_t i = 0; i < N; ++i)
        if (static_cast<long long>(table[i].value) !=
                static_cast<long long>(table[0].value) + static_cast<long long>(i) ||
            table[i].name.empty())
            return false;
    return true;
}

/// The name of `value`; `fallback` for a value the table lacks (a cast from another integer).
template <class Enum, std::size_t N>
constexpr std::string_view name_in(const enum_name<Enum> (&table)[N], Enum value,
                                   std::string_view fallback = "unknown") {
    const auto v = static_cast<long long>(value);
    const auto first = static_cast<long long>(table[0].value);
    if (v < first) return fallback;
    // Unsigned: v - first cannot overflow.
    const auto i = static_cast<unsigned long long>(v) - static_cast<unsigned long long>(first);
    return i < N ? table[i].name : fallback;
}

/// The value named `name` exactly; nullopt for any other text.
template <class Enum, std::size_t N>
constexpr std::optional<Enum> value_in(const enum_name<Enum> (&table)[N], std::string_view name) {
    for (const auto& e : table)
        if (e.name == name) return e.value;
    return std::nullopt;
}

/// "a, b or c" (`last` = " or "), or "a, b, c" (`last` = ", "): the names for a message.
template <class Enum, std::size_t N>
std::string names_in(const enum_name<Enum> (&table)[N], std::string_view last = " or ") {
    std::string out;
    for (std::size_t i = 0; i < N; ++i) {
        if (i > 0) out += i + 1 == N ? last : std::string_view(", ");
        out += table[i].name;
    }
    return out;
}

} // namespace taskwatch::detail
