// Child processes for tests (posix_spawn): stdout read line by line, stderr kept in a file,
// killed and reaped on destruction; and where the build put the programs under test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace taskwatch::test {

using env_list = std::vector<std::pair<std::string, std::string>>;

/// A running child. Its stdout is a pipe read line by line; its stderr goes to a file, or to
/// `stderr_fd` when one is given. The destructor kills (SIGKILL) and reaps it if it still runs.
class child_process {
public:
    /// Starts `program` (a path, or a name looked up in PATH) with `args` and the current
    /// environment plus `env` (NAME=value entries override). Throws std::runtime_error.
    child_process(const std::string& program, const std::vector<std::string>& args,
                  const env_list& env = {}, int stderr_fd = -1);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }

    /// The next stdout line (without '\n'), or nullopt at EOF or when `timeout` passes.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    /// Reads lines until one matches `re`; the line, or nullopt on EOF/timeout. Search the
    /// returned string again for the captures.
    std::optional<std::string> wait_for_line(const std::regex& re,
                                             std::chrono::milliseconds timeout);
    /// Every stdout line read so far.
    const std::vector<std::string>& lines() const noexcept { return lines_; }
    /// What the child wrote to stderr so far.
    std::string stderr_text() const;
    /// Waits until stderr contains `needle`; false when `timeout` passes first.
    bool wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) const;

    void send_signal(int sig);
    /// Waits for the child to exit: its exit status, 128 + signal if killed, nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    bool running();

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    int pidfd_ = -1;
    std::string stderr_path_;
    std::string pending_;
    std::vector<std::string> lines_;
    std::optional<int> exit_code_;
};

/// How a command that ran to its end ended.
struct command_result {
    int status = -1; ///< exit status, 128 + signal, -1 when it did not end in time
    std::string out; ///< stdout
    std::string err; ///< stderr
};

/// Runs a command to completion within `timeout` (then kills it) and collects its output.
command_result run_command(const std::string& program, const std::vector<std::string>& args,
                           const env_list& env = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Where the build put the executables (build/bin). $TASKWATCH_TEST_BIN_DIR wins: CI points it
/// at the sanitizer build's, so that these tests drive a sanitized taskwatchd and modelarts-sim.
std::string bin_dir();

} // namespace taskwatch::test
