// The standard process_* metrics of Prometheus client libraries, read from /proc/self
// (prometheus-cpp core has no process collector).
#pragma once

#include <optional>
#include <string>

namespace taskwatch::metrics {

struct process_stats {
    double cpu_seconds = 0; ///< user + system
    double resident_memory_bytes = 0;
    double virtual_memory_bytes = 0;
    double start_time_seconds = 0; ///< since the Unix epoch
    double open_fds = 0;
    double max_fds = 0; ///< soft RLIMIT_NOFILE
};

/// This process's figures; nullopt when /proc is not mounted or unreadable.
std::optional<process_stats> read_process_stats();

/// The figures from the text of /proc/<pid>/stat and /proc/stat (pure, for tests).
/// `clock_ticks` is sysconf(_SC_CLK_TCK), `page_size` sysconf(_SC_PAGESIZE).
std::optional<process_stats> parse_process_stat(const std::string& pid_stat,
                                                const std::string& system_stat, long clock_ticks,
                                                long page_size);

} // namespace taskwatch::metrics
