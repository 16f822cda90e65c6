// Logs under systemd: when $JOURNAL_STREAM names the file stderr is (as systemd sets it for a
// service whose output goes to the journal), every line starts with its syslog priority
// (`<6>`, `<4>`, ...) and has no timestamp of its own; otherwise, lines are as on a terminal.
#include "support/daemon.hpp"
#include "support/files.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

using namespace taskwatch::test;
using namespace std::chrono_literals;

namespace {

// taskwatchd with its stderr in a file the test owns, and JOURNAL_STREAM naming that file (or,
// with `matching` false, another one); its lines once it has started and stopped.
std::vector<std::string> daemon_lines(bool matching) {
    sim_process sim({"--static", "--tasks", "2", "--datasets", "1"});
    temp_dir state("state");
    sim.dir.write("ak", sim.account.ak + "\n");
    sim.dir.write("sk", sim.account.sk + "\n");
    // A bad SK would log warnings too: keep this one right; a 429 gives a warning line.
    sim.add_fault(R"({"kind":"429","count":1})");
    const auto config =
        sim.dir.write("watch.yml", daemon_config(sim, first_dataset(sim).id, state.str()));
    const auto log_file = state.file("stderr.log");
    const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    const auto ino = matching ? st.st_ino : st.st_ino + 1;
    const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(ino);
    {
        child_process d(bin_dir() + "/taskwatchd", {"--config", config},
                        {{"JOURNAL_STREAM", stream}}, fd);
        ::close(fd);
        REQUIRE(wait_until(
            [&] { return read_file(log_file).find("taskwatchd started") != std::string::npos; },
            10s));
        REQUIRE(wait_until(
            [&] { return read_file(log_file).find("level=warn") != std::string::npos; }, 10s));
        d.send_signal(SIGTERM);
        CHECK(d.wait(10s) == 0);
    }
    std::vector<std::string> lines;
    std::istringstream in(read_file(log_file));
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

} // namespace

TEST_CASE("with stderr on the journal, each line carries its syslog priority and no timestamp") {
    const auto lines = daemon_lines(true);
    REQUIRE(lines.size() > 3);
    for (const auto& line : lines) {
        CAPTURE(line);
        CHECK(line.find(" ts=") == std::string::npos);
        CHECK(line.find(">ts=") == std::string::npos);
        const bool prefixed =
            (line.starts_with("<6>level=info ") || line.starts_with("<7>level=debug ") ||
             line.starts_with("<4>level=warn ") || line.starts_with("<3>level=error "));
        CHECK(prefixed);
    }
}

TEST_CASE("with JOURNAL_STREAM naming another file, lines are as on a terminal") {
    const auto lines = daemon_lines(false);
    REQUIRE(lines.size() > 3);
    for (const auto& line : lines) {
        CAPTURE(line);
        CHECK(line.starts_with("ts="));
    }
}
