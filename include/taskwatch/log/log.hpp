// Structured log lines (logfmt) to stderr, which journald keeps.
// `ts=... level=info msg="..." key=value ...`; values with spaces or quotes are quoted. When
// stderr is the journal, `<6>level=info msg=...`: the syslog priority first, no timestamp.
// Repeated warnings and errors are rate-limited per message (see rate_limiter) unless the
// level is debug, so a failure that repeats for thousands of tasks cannot flood the journal.
#pragma once

#include "taskwatch/detail/name_table.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::log {

enum class level { debug, info, warn, error };
/// The levels' names: the config's `log_level` values and each line's `level=`.
inline constexpr detail::enum_name<level> level_names[] = {
    {level::debug, "debug"}, {level::info, "info"}, {level::warn, "warn"}, {level::error, "error"}};
static_assert(detail::in_enum_order(level_names));

/// The level named exactly as in level_names; nullopt on anything else.
std::optional<level> parse_level(std::string_view s);
std::string_view to_string(level l);

void set_level(level l);
level current_level();
bool enabled(level l);
/// Tests and `get` turn timestamps off for stable output; the daemon keeps them.
void set_timestamps(bool on);

/// Whether stderr is the journal: $JOURNAL_STREAM ("DEV:INODE", set by systemd) names the
/// file stderr is. Then every line starts with its syslog priority as sd-daemon defines it
/// (`<3>` error, `<4>` warn, `<6>` info, `<7>` debug), so `journalctl -p warning` works,
/// and carries no `ts=` (journald stamps each line). Found at the first line written.
bool stderr_is_journal();
bool journal();
/// Overrides the detection (tests).
void set_journal(bool on);

using field = std::pair<std::string_view, std::string_view>;

/// Writes one line. Never throws. Callers must not pass secrets: no field here is redacted.
void write(level l, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view m, std::initializer_list<field> f = {}) {
    if (enabled(level::debug)) write(level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<field> f = {}) {
    write(level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<field> f = {}) {
    write(level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<field> f = {}) {
    write(level::error, m, f);
}

/// logfmt quoting of one value.
std::string quote(std::string_view v);

/// Per-key token bucket for repeated lines: `burst` lines at once, then one more every `refill`;
/// lines over that are counted, and the next line let through reports how many were left out
/// (the caller writes one summary line before it). Pure: the caller passes the time. At most
/// `max_keys` keys are tracked; a new key beyond that is never limited.
class rate_limiter {
public:
    using time_point = std::chrono::steady_clock::time_point;
    struct settings {
        unsigned burst = 3;
        std::chrono::milliseconds refill{10'000};
        std::size_t max_keys = 256;
    };
    struct verdict {
        bool write = false;
        std::uint64_t suppressed = 0; ///< lines of this key left out since the last one written
    };

    rate_limiter()
        : rate_limiter(settings{}) {}
    explicit rate_limiter(settings s)
        : s_(s) {}

    verdict admit(std::string_view key, time_point now);
    /// Keys with lines left out since their last written line, with the counts; resets them.
    std::vector<std::pair<std::string, std::uint64_t>> take_suppressed();

private:
    struct bucket {
        double tokens = 0;
        time_point last;
        std::uint64_t suppressed = 0;
    };
    settings s_;
    std::map<std::string, bucket, std::less<>> buckets_;
};

/// Writes one "similar lines suppressed" line for every warning or error still held back
/// (at shutdown, so that no count is lost).
void flush_suppressed();

/// The completion of a spawned coroutine: an exception that ended it (`e`, null when none) is
/// logged as an error "coroutine ended by an exception" naming `in`, so none is ever lost.
void exception_ended(const std::exception_ptr& e, const char* in);

} // namespace taskwatch::log
