// Whole small files (configs, certificates, keys) read with plain POSIX calls.
#pragma once

#include "taskwatch/detail/expected.hpp"

#include <string>

namespace taskwatch::detail {

/// The file's bytes, or what the OS said about it ("No such file or directory"; a directory
/// is "Is a directory"). Opened without following it as a controlling terminal, closed on exec.
expected<std::string, std::string> read_whole_file(const std::string& path);

} // namespace taskwatch::detail
