// promtool's verdict on a /metrics exposition (Debian's prometheus package).
#pragma once

#include <string>
#include <utility>

namespace taskwatch::test {

/// `promtool check metrics` on `metrics_text`: its exit status and everything it printed.
std::pair<int, std::string> promtool_check(const std::string& metrics_text);

} // namespace taskwatch::test
