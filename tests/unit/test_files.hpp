// Temporary folders and fake environments for the config and credentials tests.
#pragma once

#include "taskwatch/auth/credentials.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace taskwatch::test {

/// A fresh folder under $TMPDIR, removed with everything in it at scope exit.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "taskwatch-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    std::string operator/(std::string_view name) const { return (path_ / name).string(); }

    /// Writes `content` to `name` (folders created), returns the full path.
    std::string write(std::string_view name, std::string_view content) const {
        auto p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << content;
        REQUIRE(out.good());
        return p.string();
    }

private:
    std::filesystem::path path_;
};

/// An environment holding exactly `vars`.
inline auth::environment fake_env(std::map<std::string, std::string> vars = {}) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

} // namespace taskwatch::test
