#include "taskwatch/log/log.hpp"

#include "taskwatch/detail/escape.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace taskwatch::log {
namespace {
level g_level = level::info;
bool g_timestamps = true;
std::optional<bool> g_journal; ///< nullopt: not yet detected
std::mutex g_limiter_mutex;
rate_limiter g_limiter;

void write_line(level l, std::string_view msg, std::initializer_list<field> fields);
} // namespace

rate_limiter::verdict rate_limiter::admit(std::string_view key, time_point now) {
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= s_.max_keys) return {true, 0};
        it =
            buckets_.emplace(std::string(key), bucket{static_cast<double>(s_.burst), now, 0}).first;
    }
    auto& b = it->second;
    if (now > b.last && s_.refill.count() > 0) {
        const double earned = std::chrono::duration<double>(now - b.last).count() /
                              std::chrono::duration<double>(s_.refill).count();
        b.tokens = std::min(static_cast<double>(s_.burst), b.tokens + earned);
        b.last = now;
    }
    if (b.tokens < 1.0) {
        ++b.suppressed;
        return {false, 0};
    }
    b.tokens -= 1.0;
    verdict v{true, b.suppressed};
    b.suppressed = 0;
    return v;
}

std::vector<std::pair<std::string, std::uint64_t>> rate_limiter::take_suppressed() {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (auto& [key, b] : buckets_)
        if (b.suppressed) {
            out.emplace_back(key, b.suppressed);
            b.suppressed = 0;
        }
    return out;
}

std::optional<level> parse_level(std::string_view s) {
    return detail::value_in(level_names, s);
}

std::string_view to_string(level l) {
    return detail::name_in(level_names, l, "info");
}

void set_level(level l) {
    g_level = l;
}
level current_level() {
    return g_level;
}
bool enabled(level l) {
    return static_cast<int>(l) >= static_cast<int>(g_level);
}
void set_timestamps(bool on) {
    g_timestamps = on;
}

std::string quote(std::string_view v) {
    bool plain = !v.empty();
    for (char ch : v)
        if (auto c = static_cast<unsigned char>(ch);
            c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            plain = false;
    if (plain) return std::string(v);
    std::string out;
    out.reserve(v.size() + 2);
    detail::append_quoted(out, v, detail::escape_style::logfmt);
    return out;
}

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
    if (!enabled(l)) return;
    if (l >= level::warn && !enabled(level::debug)) {
        rate_limiter::verdict v;
        try {
            std::lock_guard lock(g_limiter_mutex);
            v = g_limiter.admit(msg, std::chrono::steady_clock::now());
        } catch (...) {
            v.write = true; // no memory for the key: write the line rather than lose it
        }
        if (!v.write) return;
        if (v.suppressed > 0) {
            const auto count = std::to_string(v.suppressed);
            write_line(l, "similar lines suppressed", {{"repeated", msg}, {"count", count}});
        }
    }
    write_line(l, msg, fields);
}

void flush_suppressed() {
    try {
        std::vector<std::pair<std::string, std::uint64_t>> held;
        {
            std::lock_guard lock(g_limiter_mutex);
            held = g_limiter.take_suppressed();
        }
        for (const auto& [key, count] : held) {
            const auto n = std::to_string(count);
            write_line(level::warn, "similar lines suppressed", {{"repeated", key}, {"count", n}});
        }
    } catch (...) {
    }
}

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

void set_journal(bool on) {
    g_journal = on;
}

bool journal() {
    if (!g_journal) g_journal = stderr_is_journal();
    return *g_journal;
}

namespace {
// sd-daemon's priority prefixes: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG.
const char* priority_prefix(level l) {
    switch (l) {
    case level::error:
        return "<3>";
    case level::warn:
        return "<4>";
    case level::info:
        return "<6>";
    case level::debug:
        return "<7>";
    }
    return "<6>";
}

void write_line(level l, std::string_view msg, std::initializer_list<field> fields) {
    try {
        std::string line;
        line.reserve(128);
        const bool to_journal = journal();
        if (to_journal) line += priority_prefix(l); // journald stamps the time itself
        if (g_timestamps && !to_journal) {
            auto now = std::chrono::system_clock::now();
            auto secs = std::chrono::system_clock::to_time_t(now);
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch())
                          .count() %
                      1000;
            std::tm tm{};
            gmtime_r(&secs, &tm);
            char buf[80]; // room for any int the compiler imagines, so no truncation warning
            std::snprintf(buf, sizeof buf, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, static_cast<int>(ms));
            line += buf;
        }
        line += "level=";
        line += to_string(l);
        line += " msg=";
        line += quote(msg);
        for (const auto& [k, v] : fields) {
            line.push_back(' ');
            line += k;
            line.push_back('=');
            line += quote(v);
        }
        line.push_back('\n');
        // One write(2) per line so concurrent processes' lines do not interleave. A line that
        // cannot be written is dropped: EPIPE (nobody reads stderr any more; main() ignores
        // SIGPIPE so this is an error, not death), EAGAIN (a non-blocking stderr that is full)
        // or any other error. Only a signal's interruption is retried.
        std::size_t off = 0;
        while (off < line.size()) {
            auto n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
    } catch (...) {
    }
}

} // namespace

void exception_ended(const std::exception_ptr& e, const char* in) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        error("coroutine ended by an exception", {{"in", in}, {"error", ex.what()}});
    } catch (...) {
        error("coroutine ended by an exception", {{"in", in}});
    }
}

} // namespace taskwatch::log
