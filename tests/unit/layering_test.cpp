// The layers of docs/layers.txt hold: no `#include "taskwatch/<module>/..."` in include/ or
// daemon/ points up or sideways. Also checks that the check itself finds a planted one.
#include "support/files.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

using table = std::map<std::string, std::set<std::string>>;

table read_table(const fs::path& file) {
    std::ifstream in(file);
    REQUIRE_MESSAGE(in, "cannot read " << file);
    table t;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto colon = line.find(':');
        REQUIRE_MESSAGE(colon != std::string::npos, file << ": no ':' in \"" << line << "\"");
        std::istringstream deps(line.substr(colon + 1));
        auto& allowed = t[line.substr(0, colon)];
        for (std::string d; deps >> d;)
            allowed.insert(d);
    }
    return t;
}

// The module a source file belongs to: its folder under include/taskwatch/ or daemon/; the
// files directly in daemon/ are `main`.
std::string module_of(const fs::path& root, const fs::path& file) {
    auto rel = fs::relative(file, root);
    auto it = rel.begin();
    std::string top = (it++)->string();
    if (top == "include") {
        ++it; // taskwatch
        return it->string();
    }
    std::string second = (it++)->string();
    return it == rel.end() ? "main" : second;
}

// Every include that the table does not allow, as "file:line: a includes b (a may include: ...)".
std::vector<std::string> violations(const fs::path& root, const table& t) {
    static const std::regex include_re(R"re(^\s*#\s*include\s*"taskwatch/([a-z_]+)/)re");
    std::vector<std::string> out;
    for (const char* dir : {"include/taskwatch", "daemon"}) {
        for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
            if (!e.is_regular_file()) continue;
            auto ext = e.path().extension();
            if (ext != ".hpp" && ext != ".cpp") continue;
            const auto from = module_of(root, e.path());
            auto row = t.find(from);
            std::ifstream in(e.path());
            std::string line;
            for (int n = 1; std::getline(in, line); ++n) {
                std::smatch m;
                if (!std::regex_search(line, m, include_re)) continue;
                const auto to = m[1].str();
                if (to == from) continue;
                if (row != t.end() && row->second.contains(to)) continue;
                std::string allowed;
                if (row == t.end()) {
                    allowed = "not in docs/layers.txt";
                } else {
                    for (const auto& a : row->second)
                        allowed += (allowed.empty() ? "" : " ") + a;
                    allowed = from + " may include: " + (allowed.empty() ? "nothing" : allowed);
                }
                out.push_back(fs::relative(e.path(), root).string() + ":" + std::to_string(n) +
                              ": " + from + " includes " + to + " (" + allowed + ")");
            }
        }
    }
    return out;
}

const fs::path source_root = TASKWATCH_SOURCE_DIR;

} // namespace

TEST_CASE("every include points down the layers of docs/layers.txt") {
    const auto t = read_table(source_root / "docs/layers.txt");
    auto bad = violations(source_root, t);
    std::string all;
    for (const auto& v : bad)
        all += "\n  " + v;
    CHECK_MESSAGE(bad.empty(), "includes against docs/layers.txt:" << all);
}

TEST_CASE("every module folder is in docs/layers.txt") {
    const auto t = read_table(source_root / "docs/layers.txt");
    for (const char* dir : {"include/taskwatch", "daemon"})
        for (const auto& e : fs::directory_iterator(source_root / dir))
            if (e.is_directory())
                CHECK_MESSAGE(t.contains(e.path().filename().string()),
                              e.path() << " is not in docs/layers.txt");
}

TEST_CASE("the layering check finds an include that points up") {
    // A copy of the tree's shape with one planted upward include: http including poll.
    const taskwatch::test::temp_dir tree("layering-test");
    const auto& dir = tree.path();
    fs::create_directories(dir / "include/taskwatch/http");
    fs::create_directories(dir / "include/taskwatch/poll");
    fs::create_directories(dir / "daemon/http");
    std::ofstream(dir / "include/taskwatch/http/client.hpp")
        << "#include \"taskwatch/detail/x.hpp\"\n";
    std::ofstream(dir / "include/taskwatch/poll/watcher.hpp")
        << "#include \"taskwatch/http/client.hpp\"\n";
    std::ofstream(dir / "daemon/http/client.cpp")
        << "#include \"taskwatch/http/client.hpp\"\n\n#include \"taskwatch/poll/watcher.hpp\"\n";
    const auto t = read_table(source_root / "docs/layers.txt");
    auto bad = violations(dir, t);
    REQUIRE(bad.size() == 1);
    CHECK(bad[0] == "daemon/http/client.cpp:3: http includes poll (http may include: detail log)");
}
