// Scratch files for tests: a temporary folder removed at scope exit, and whole-file reads and
// atomic replacements of files the code under test watches.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace taskwatch::test {

/// A fresh folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
/// Throws std::runtime_error when it cannot be made or a file cannot be written.
class temp_dir {
public:
    explicit temp_dir(std::string_view prefix = "taskwatch-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    std::string str() const { return path_.string(); }
    /// The full path of `name` inside the folder (which need not exist).
    std::string file(std::string_view name) const { return (path_ / name).string(); }
    /// Writes `content` to `name` (its folders created, mode 0600: secrets are written here
    /// too); returns the full path.
    std::string write(std::string_view name, std::string_view content) const;

private:
    std::filesystem::path path_;
};

/// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::filesystem::path& path);

/// Replaces a file at once, as an editor or a deployment tool would: writes `path`.new, then
/// renames it over `path`. A watcher never sees it half-written.
void replace_file(const std::filesystem::path& path, std::string_view content);

} // namespace taskwatch::test
