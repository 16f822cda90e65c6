// Tests and benchmarks that build poll::tracked_task values by hand: a tracked task reads its
// labels through its target, so the target must outlive it.
#pragma once

#include "taskwatch/config/settings.hpp"

#include <deque>
#include <map>
#include <string>

namespace taskwatch::test {

/// A target with these labels that lives as long as the program.
inline const config::target* target_with(std::map<std::string, std::string> labels) {
    static std::deque<config::target> targets;
    auto& t = targets.emplace_back();
    t.labels = std::move(labels);
    return &t;
}

} // namespace taskwatch::test
