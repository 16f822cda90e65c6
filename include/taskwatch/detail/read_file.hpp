// The one way the daemon reads a file it is given (config, web config, secrets, certificates,
// keys, CAs): regular files only, opened without blocking, never more than a limit.
#pragma once

#include "taskwatch/detail/expected.hpp"

#include <cstddef>
#include <string>

namespace taskwatch::detail {

/// Size limits by kind of file. A config with 1,000,000 task ids of 19 characters in block
/// style is about 26 MB; the web config holds a few users and paths.
inline constexpr std::size_t config_file_limit = std::size_t{64} << 20;
inline constexpr std::size_t web_config_file_limit = std::size_t{4} << 20;
inline constexpr std::size_t certificate_file_limit = std::size_t{4} << 20; ///< certs, keys, CAs
inline constexpr std::size_t secret_file_limit = std::size_t{64} << 10;

/// Why a file could not be read.
struct read_error {
    int os_error = 0;    ///< errno when the OS refused (ENOENT, EACCES, ...), else 0
    std::string message; ///< "No such file or directory", "not a regular file (a FIFO)",
                         ///< "larger than 64 KiB"; never the file's bytes
};

/// Whether the bytes read are secret: then the buffer is allocated once (limit + 1 bytes, no
/// copy left behind by a reallocation) and zeroed on failure; the caller wipes what it gets.
enum class file_content { plain, secret };

/// The bytes of the regular file `path`, at most `limit` of them. Opened with O_NONBLOCK (a
/// FIFO or a device never blocks the caller), O_CLOEXEC and O_NOCTTY; the type is checked
/// with fstat on the opened descriptor, so a file swapped between a check and the open cannot
/// slip through. Directories, FIFOs, devices and sockets are refused without reading a byte;
/// a file that holds more than `limit` bytes (whatever its reported size) is refused after
/// reading limit + 1 bytes.
expected<std::string, read_error> read_regular_file(const std::string& path, std::size_t limit,
                                                    file_content content = file_content::plain);

/// "64 MiB", "64 KiB" or "1000 bytes": a limit as messages print it.
std::string size_text(std::size_t bytes);

/// Zeroes every byte of a buffer that held secret bytes, the unused capacity included, and
/// empties it.
void wipe(std::string& s) noexcept;

} // namespace taskwatch::detail
