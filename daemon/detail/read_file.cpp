#include "taskwatch/detail/read_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace taskwatch::detail {

namespace {

// What a file that is not a regular file is, for "not a regular file (a FIFO)".
const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "neither a file nor a directory";
}

// Closes the descriptor whatever way the read ends.
struct fd_closer {
    int fd;
    ~fd_closer() { ::close(fd); }
};

} // namespace

void wipe(std::string& s) noexcept {
    s.resize(s.capacity());
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i)
        p[i] = 0;
    s.clear();
}

std::string size_text(std::size_t bytes) {
    if (bytes >= (std::size_t{1} << 20) && bytes % (std::size_t{1} << 20) == 0)
        return std::to_string(bytes >> 20) + " MiB";
    if (bytes >= (std::size_t{1} << 10) && bytes % (std::size_t{1} << 10) == 0)
        return std::to_string(bytes >> 10) + " KiB";
    return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

expected<std::string, read_error> read_regular_file(const std::string& path, std::size_t limit,
                                                    file_content content) {
    const bool secret = content == file_content::secret;
    // O_NONBLOCK: opening a FIFO without a writer (or a device that waits for carrier) returns
    // at once; it changes nothing for a regular file.
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        return unexpected(read_error{err, std::strerror(err)});
    }
    fd_closer closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        return unexpected(read_error{err, std::strerror(err)});
    }
    if (!S_ISREG(st.st_mode))
        return unexpected(
            read_error{0, std::string("not a regular file (") + kind_of(st.st_mode) + ")"});

    // One byte beyond the limit tells a file that is too large from one that fits exactly.
    // The reported size is only a hint (/proc files say 0, a file may grow while read); a
    // secret's buffer is never reallocated, so no copy of it is left in freed memory.
    const std::size_t cap = limit + 1;
    const auto hint = static_cast<std::size_t>(std::max<off_t>(st.st_size, 0));
    std::string buf;
    buf.resize(secret ? cap : std::min(cap, std::max<std::size_t>(hint + 1, 4096)));
    std::size_t got = 0;
    for (;;) {
        if (got == buf.size()) {
            if (buf.size() == cap) break;
            buf.resize(std::min(cap, buf.size() * 2));
        }
        auto n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            if (secret) wipe(buf);
            return unexpected(read_error{err, std::strerror(err)});
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got > limit) {
        if (secret) wipe(buf);
        return unexpected(read_error{0, "larger than " + size_text(limit)});
    }
    if (secret) std::fill(buf.begin() + static_cast<std::ptrdiff_t>(got), buf.end(), '\0');
    buf.resize(got);
    return buf;
}

} // namespace taskwatch::detail
