#include "taskwatch/detail/percent.hpp"

#include <array>

namespace taskwatch::detail {
namespace {

constexpr char hex_upper[] = "0123456789ABCDEF";

constexpr bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

constexpr auto unreserved_table = [] {
    std::array<bool, 256> t{};
    for (unsigned c = 0; c < t.size(); ++c)
        t[c] = is_unreserved(static_cast<unsigned char>(c));
    return t;
}();

} // namespace

void append_percent_encoded(std::string& out, std::string_view s) {
    // Ids and paths are nearly all unreserved: append runs of them whole, not a byte at a time
    // (every poll encodes its task's path twice, for the target and for the signature).
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t run = i;
        while (run < s.size() && unreserved_table[static_cast<unsigned char>(s[run])])
            ++run;
        out.append(s.data() + i, run - i);
        if (run == s.size()) break;
        const auto c = static_cast<unsigned char>(s[run]);
        const char escaped[3] = {'%', hex_upper[c >> 4], hex_upper[c & 0xf]};
        out.append(escaped, sizeof escaped);
        i = run + 1;
    }
}

std::string percent_encode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    append_percent_encoded(out, s);
    return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = nibble(s[i + 1]), lo = nibble(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

} // namespace taskwatch::detail
