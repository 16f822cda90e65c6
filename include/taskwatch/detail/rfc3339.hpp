// Times as RFC 3339 text in UTC: the API's answers, webhook bodies and Alertmanager alerts
// spell them alike.
#pragma once

#include <chrono>
#include <string>

namespace taskwatch::detail {

enum class time_precision {
    seconds,      ///< "2026-11-30T04:00:00Z" (the fraction dropped, not rounded)
    milliseconds, ///< "2026-11-30T04:00:00.250Z"
};

/// `t` in UTC; before 1970 the fraction still counts forward from the whole second before.
std::string format_rfc3339(std::chrono::system_clock::time_point t,
                           time_precision precision = time_precision::milliseconds);

} // namespace taskwatch::detail
