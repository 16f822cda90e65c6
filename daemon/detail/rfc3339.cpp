#include "taskwatch/detail/rfc3339.hpp"

#include <cstdio>
#include <ctime>

namespace taskwatch::detail {

std::string format_rfc3339(std::chrono::system_clock::time_point t, time_precision precision) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto secs = static_cast<std::time_t>(ms / 1000);
    auto frac = ms % 1000;
    if (frac < 0) { // before 1970: floor, so the fraction stays positive
        frac += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[80]; // 25 bytes in practice; room for any int the format could see
    if (precision == time_precision::seconds)
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<int>(frac));
    return buf;
}

} // namespace taskwatch::detail
