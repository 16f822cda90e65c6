#include "taskwatch/metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace taskwatch::metrics {
namespace {

std::string slurp(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::optional<unsigned long long> number(std::string_view s) {
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

} // namespace

std::optional<process_stats> parse_process_stat(const std::string& pid_stat,
                                                const std::string& system_stat, long clock_ticks,
                                                long page_size) {
    if (clock_ticks <= 0 || page_size <= 0) return std::nullopt;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last
    // ')'.
    auto close = pid_stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::vector<std::string_view> f; // f[0] is field 3 (state)
    std::string_view rest(pid_stat);
    rest.remove_prefix(close + 1);
    while (!rest.empty()) {
        auto start = rest.find_first_not_of(" \n");
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        auto end = rest.find_first_of(" \n");
        f.push_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end);
    }
    // proc(5) numbers fields from 1: utime 14, stime 15, starttime 22, vsize 23, rss 24.
    auto field = [&](std::size_t n) -> std::optional<unsigned long long> {
        if (n < 3 || n - 3 >= f.size()) return std::nullopt;
        return number(f[n - 3]);
    };
    auto utime = field(14), stime = field(15), start = field(22), vsize = field(23),
         rss = field(24);
    if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;

    std::optional<unsigned long long> btime;
    std::istringstream lines(system_stat);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("btime ")) btime = number(std::string_view(line).substr(6));
    if (!btime) return std::nullopt;

    const auto ticks = static_cast<double>(clock_ticks);
    process_stats s;
    s.cpu_seconds = static_cast<double>(*utime + *stime) / ticks;
    s.start_time_seconds = static_cast<double>(*btime) + static_cast<double>(*start) / ticks;
    s.virtual_memory_bytes = static_cast<double>(*vsize);
    s.resident_memory_bytes = static_cast<double>(*rss) * static_cast<double>(page_size);
    return s;
}

std::optional<process_stats> read_process_stats() {
    auto s = parse_process_stat(slurp("/proc/self/stat"), slurp("/proc/stat"),
                                ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE));
    if (!s) return std::nullopt;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        std::size_t n = 0;
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
        s->open_fds = static_cast<double>(n > 0 ? n - 1 : 0); // minus the one opendir holds
    }
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0)
        s->max_fds = static_cast<double>(lim.rlim_cur); // RLIM_INFINITY shows as 1.8e19
    return s;
}

} // namespace taskwatch::metrics
