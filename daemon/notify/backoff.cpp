#include "taskwatch/notify/backoff.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string>

namespace taskwatch::notify {

milliseconds backoff_ceiling(const backoff_policy& p, std::uint32_t attempt) {
    if (attempt == 0) return milliseconds(0);
    auto ceiling = p.base;
    for (std::uint32_t i = 1; i < attempt && ceiling < p.cap; ++i)
        ceiling *= 2;
    return std::min(ceiling, p.cap);
}

milliseconds next_delay(const backoff_policy& p, std::uint32_t attempt,
                        std::optional<milliseconds> retry_after, std::mt19937_64& rng) {
    std::uniform_int_distribution<std::int64_t> pick(0, backoff_ceiling(p, attempt).count());
    auto delay = milliseconds(pick(rng));
    if (retry_after) delay = std::max(delay, std::min(*retry_after, p.max_retry_after));
    return delay;
}

std::optional<milliseconds> parse_retry_after(std::string_view v, std::int64_t now_unix_s) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::int64_t seconds = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
        if (ec != std::errc() || end != v.data() + v.size())
            return milliseconds(std::int64_t{1} << 40); // absurdly large: capped by the caller
        return milliseconds(seconds * 1000);
    }
    // IMF-fixdate, the only form HTTP/1.1 senders may generate.
    std::tm tm{};
    const std::string text(v);
    const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    const std::int64_t at = ::timegm(&tm);
    return milliseconds(std::max<std::int64_t>(0, at - now_unix_s) * 1000);
}

answer_kind classify_status(unsigned status) {
    if (status >= 200 && status < 300) return answer_kind::accepted;
    if (status == 410) return answer_kind::gone;
    if (status == 408 || status == 425 || status == 429 || status >= 500) return answer_kind::retry;
    return answer_kind::permanent;
}

} // namespace taskwatch::notify
