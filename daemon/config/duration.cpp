#include "taskwatch/config/settings.hpp"

#include "taskwatch/detail/bytes.hpp"

#include <cstdint>
#include <limits>

namespace taskwatch::config {

namespace {

struct unit {
    std::string_view name;
    std::int64_t ms;
    bool only_when_exact; ///< printing: "90d" reads better than "12w6d"
};

// Decreasing order, as Prometheus requires them to be written.
constexpr std::int64_t ms_per_day = 24LL * 60 * 60 * 1000;
constexpr unit units[] = {
    {"y", 365 * ms_per_day, true},
    {"w", 7 * ms_per_day, true},
    {"d", ms_per_day, false},
    {"h", 60LL * 60 * 1000, false},
    {"m", 60LL * 1000, false},
    {"s", 1000, false},
    {"ms", 1, false},
};

std::string bad(std::string_view text) {
    std::string shown;
    for (unsigned char c : detail::bytes_of(text.substr(0, 64))) {
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            constexpr char hex[] = "0123456789abcdef";
            shown += "\\x";
            shown += hex[c >> 4];
            shown += hex[c & 0xf];
        } else {
            shown += static_cast<char>(c);
        }
    }
    if (text.size() > 64) shown += "...";
    return "bad duration \"" + shown + "\" (use e.g. 500ms, 15s, 10m, 24h)";
}

} // namespace

expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
    if (text == "0") return std::chrono::milliseconds(0);
    if (text.empty()) return unexpected{bad(text)};
    std::int64_t total = 0;
    std::size_t next_unit = 0; // index into units: each later one must be smaller
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t digits_start = i;
        std::int64_t amount = 0;
        bool overflow = false;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            if (amount > (std::numeric_limits<std::int64_t>::max() - 9) / 10)
                overflow = true;
            else
                amount = amount * 10 + (text[i] - '0');
            ++i;
        }
        if (i == digits_start) return unexpected{bad(text)};
        std::string_view suffix = text.substr(i);
        std::size_t found = std::size(units);
        // "ms" before "m": the longest unit name that matches wins.
        for (std::size_t u = 0; u < std::size(units); ++u) {
            if (suffix.starts_with(units[u].name) &&
                (found == std::size(units) || units[u].name.size() > units[found].name.size()))
                found = u;
        }
        if (found == std::size(units) || found < next_unit) return unexpected{bad(text)};
        const auto& u = units[found];
        if (overflow || amount > (std::numeric_limits<std::int64_t>::max() - total) / u.ms)
            return unexpected{"duration \"" + std::string(text.substr(0, 64)) + "\" is too long"};
        total += amount * u.ms;
        next_unit = found + 1;
        i += u.name.size();
    }
    return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
    std::int64_t ms = d.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        // The most negative value has no positive counterpart; clamp it rather than overflow.
        ms = ms == std::numeric_limits<std::int64_t>::min()
                 ? std::numeric_limits<std::int64_t>::max()
                 : -ms;
    }
    for (const auto& u : units) {
        if (u.only_when_exact && ms % u.ms != 0) continue;
        if (auto v = ms / u.ms; v > 0) {
            out += std::to_string(v);
            out += u.name;
            ms -= v * u.ms;
        }
    }
    return out;
}

} // namespace taskwatch::config
