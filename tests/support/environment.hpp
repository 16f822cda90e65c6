// A fake process environment for code that reads variables through auth::environment.
#pragma once

#include "taskwatch/auth/credentials.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace taskwatch::test {

/// An environment holding exactly `vars`.
inline auth::environment fake_env(std::map<std::string, std::string> vars = {}) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

} // namespace taskwatch::test
