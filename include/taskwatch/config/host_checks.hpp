// What --check-config asks the config loader to check on this machine besides the file: that
// start-up could listen on `listen` and open `state_dir`. Problems are blamed on the key's line.
#pragma once

#include "taskwatch/config/settings.hpp"

#include <functional>
#include <optional>
#include <string>

namespace taskwatch::config {

/// Each check returns the problem start-up would have, or nullopt. An unset check is skipped.
struct host_checks {
    /// `listen` as written (its syntax and address already checked by the loader).
    std::function<std::optional<std::string>(const std::string& listen)> listen;
    /// `state_dir`, absolute.
    std::function<std::optional<std::string>(const std::string& state_dir)> state_dir;
};

/// load_settings, then `checks` on the loaded values: a problem is a config_error
/// "FILE:LINE: listen: problem" (without a line when the key is absent and its default fails).
settings load_settings(const std::string& path, const environment& env, const host_checks& checks);

} // namespace taskwatch::config
