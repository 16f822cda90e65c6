// Structured log lines (logfmt) to stderr, which journald keeps.
// `ts=... level=info msg="..." key=value ...`; values with spaces or quotes are quoted.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace taskwatch::log {

enum class level { debug, info, warn, error };

/// Parses "debug", "info", "warn"/"warning", "error"; nullopt-like false on anything else.
bool parse_level(std::string_view s, level& out);
std::string_view to_string(level l);

void set_level(level l);
level current_level();
bool enabled(level l);
/// Tests and `get` turn timestamps off for stable output; the daemon keeps them.
void set_timestamps(bool on);

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

} // namespace taskwatch::log
