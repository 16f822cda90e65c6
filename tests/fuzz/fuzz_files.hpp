// A folder for the whole fuzzing process, holding the files that configurations name, so that
// relative paths in fuzzed text lead somewhere real. Removed at exit.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace taskwatch::fuzz {

class fuzz_dir {
public:
    fuzz_dir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "taskwatch-fuzz-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~fuzz_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    fuzz_dir(const fuzz_dir&) = delete;
    fuzz_dir& operator=(const fuzz_dir&) = delete;

    std::string operator/(std::string_view name) const { return (path_ / name).string(); }

    /// Writes `content` to `name` (folders created), returns the full path.
    std::string write(std::string_view name, std::string_view content) const {
        auto p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out) throw std::runtime_error("cannot write " + p.string());
        return p.string();
    }

private:
    std::filesystem::path path_;
};

} // namespace taskwatch::fuzz
