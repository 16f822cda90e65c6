#include "taskwatch/task/shard.hpp"

#include "taskwatch/detail/crypto.hpp"

#include <charconv>
#include <optional>

namespace taskwatch::task {

std::uint64_t hashmod(std::string_view text, std::uint64_t modulus) {
    const auto digest = detail::md5(text);
    std::uint64_t tail = 0;
    for (std::size_t i = 8; i < digest.size(); ++i)
        tail = tail << 8 | digest[i];
    return tail % modulus;
}

std::string shard_key(const task_key& key) {
    std::string out;
    out.reserve(key.project_id.size() + key.dataset_id.size() + key.task_id.size() + 2);
    out += key.project_id;
    out += '/';
    out += key.dataset_id;
    out += '/';
    out += key.task_id;
    return out;
}

bool shard::owns(const task_key& key) const {
    return count <= 1 || hashmod(shard_key(key), count) == index;
}

std::string to_string(const shard& s) {
    return std::to_string(s.index) + "/" + std::to_string(s.count);
}

namespace {

// A decimal number without sign, spaces or leading '+'.
std::optional<std::uint64_t> decimal(std::string_view text) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

} // namespace

expected<shard, std::string> parse_shard(std::string_view text) {
    const std::string quoted = "'" + std::string(text) + "'";
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return unexpected(quoted + " is not I/N (such as 0/3)");
    const auto index = decimal(text.substr(0, slash));
    const auto count = decimal(text.substr(slash + 1));
    if (!index || !count)
        return unexpected(quoted + " is not I/N with whole numbers (such as 0/3)");
    if (*count < 1) return unexpected(quoted + ": the count N must be at least 1");
    if (*index >= *count)
        return unexpected(quoted + ": the index I must be below the count N (0 to " +
                          std::to_string(*count - 1) + ")");
    return shard{*index, *count};
}

} // namespace taskwatch::task
