// What opening a state folder at start-up (state::store) would fail on, found without creating,
// locking or writing anything: for --check-config, which may run beside a running daemon.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace taskwatch::state {

/// The problem, worded as state::store words it ("DIR: cannot create the state directory: Not
/// a directory", "DIR/taskwatch.db is not a SQLite database (...)"), or nullopt. Checked: the
/// folder or the nearest existing one above it is a directory this process may write in;
/// taskwatch.db, if present, is a regular file it may open for writing whose header is
/// SQLite's, with no other application's id and no newer schema. Corruption deeper in the file
/// is only found at start-up.
std::optional<std::string> check_state_dir(const std::filesystem::path& state_dir);

} // namespace taskwatch::state
