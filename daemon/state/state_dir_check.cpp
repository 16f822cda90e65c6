#include "taskwatch/state/state_dir_check.hpp"

#include "taskwatch/state/store.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace taskwatch::state {

namespace {

// As store.cpp prints application ids.
std::string hex32(std::int64_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08" PRIx32, static_cast<std::uint32_t>(v));
    return buf;
}

} // namespace

std::optional<std::string> check_state_dir(const std::filesystem::path& state_dir) {
    const std::string dir = state_dir.string();
    auto cannot_create = [&](int err) {
        return dir + ": cannot create the state directory: " + std::strerror(err);
    };
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) return cannot_create(errno); // ENOTDIR: a file on the way
        // create_directories will make it: the nearest existing folder above must take it.
        auto above = state_dir.lexically_normal();
        for (;;) {
            if (!above.has_relative_path()) return std::nullopt; // "/" exists
            above = above.parent_path();
            if (::stat(above.c_str(), &st) == 0) break;
            if (errno != ENOENT) return cannot_create(errno);
        }
        if (!S_ISDIR(st.st_mode)) return cannot_create(ENOTDIR);
        if (::access(above.c_str(), W_OK | X_OK) != 0) return cannot_create(errno);
        return std::nullopt;
    }
    if (!S_ISDIR(st.st_mode)) return cannot_create(ENOTDIR);
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        return dir + ": cannot write in the state directory: " + std::strerror(errno);

    // The database: opened for reading and writing as SQLite will, but only its header read.
    const std::string db = (state_dir / store::file_name).string();
    int fd = ::open(db.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt; // created at start-up
        return db + ": cannot open: " + std::strerror(errno);
    }
    std::array<unsigned char, 100> header{};
    std::size_t got = 0;
    bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    while (regular && got < header.size()) {
        auto n = ::read(fd, header.data() + got, header.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (!regular) return db + ": cannot open: not a regular file";
    if (got == 0) return std::nullopt; // an empty file is an empty database
    constexpr std::string_view magic("SQLite format 3\0", 16);
    if (got < header.size() ||
        !std::equal(magic.begin(), magic.end(), header.begin(),
                    [](char m, unsigned char h) { return static_cast<unsigned char>(m) == h; }))
        return db + " is not a SQLite database (not a taskwatch state database)";
    auto be32 = [&](std::size_t at) {
        return static_cast<std::int32_t>((std::uint32_t{header[at]} << 24) |
                                         (std::uint32_t{header[at + 1]} << 16) |
                                         (std::uint32_t{header[at + 2]} << 8) | header[at + 3]);
    };
    // In WAL mode the header may lag behind the last commits: 0 means "not known yet".
    const auto version = be32(60), app = be32(68);
    if (app != 0 && app != store::application_id)
        return db + " is not a taskwatch state database (application_id " + hex32(app) +
               ", expected " + hex32(store::application_id) + "); it was left untouched";
    if (version > store::schema_version)
        return db + " has schema version " + std::to_string(version) +
               ", newer than this taskwatch understands (" + std::to_string(store::schema_version) +
               "); it was left untouched: run a newer taskwatch";
    return std::nullopt;
}

} // namespace taskwatch::state
