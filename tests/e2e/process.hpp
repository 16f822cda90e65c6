// Test support: child processes (posix_spawn) whose stdout is read line by line, and
// temporary directories. Header-only: every tests/e2e/*.cpp goes into one binary.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace taskwatch::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class temp_dir {
public:
    explicit temp_dir(const std::string& prefix = "taskwatch-test") {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data()))
            throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
        path_ = buf.data();
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const noexcept { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    /// Writes `content` to path()/name (mode 0600) and returns the full path.
    std::string write(const std::string& name, const std::string& content) const {
        auto p = file(name);
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << content;
        out.close();
        std::filesystem::permissions(p, std::filesystem::perms::owner_read |
                                            std::filesystem::perms::owner_write);
        return p;
    }

private:
    std::string path_;
};

/// The whole content of a file ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// A running child. Its stdout is a pipe read line by line; its stderr goes to a file, or to
/// `stderr_fd` when one is given. The destructor kills (SIGKILL) and reaps it if it still runs.
class child_process {
public:
    /// Starts `program` (a path, or a name looked up in PATH) with `args` and the current
    /// environment plus `env` (NAME=value entries override). Throws std::runtime_error.
    child_process(const std::string& program, const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env = {},
                  int stderr_fd = -1) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
        out_fd_ = fds[0];
        char tmpl[] = "/tmp/taskwatch-child-stderr-XXXXXX";
        int err_fd = ::mkstemp(tmpl);
        if (err_fd < 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
        }
        stderr_path_ = tmpl;

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        posix_spawn_file_actions_adddup2(&actions, stderr_fd >= 0 ? stderr_fd : err_fd, 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        // The child starts with default signal dispositions and an empty mask.
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

        std::vector<std::string> argv_s{program};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s)
            argv.push_back(a.data());
        argv.push_back(nullptr);

        std::vector<std::string> env_s;
        for (char** e = environ; *e; ++e) {
            std::string entry(*e);
            auto name = entry.substr(0, entry.find('='));
            bool overridden = false;
            for (const auto& [k, v] : env)
                overridden = overridden || k == name;
            if (!overridden) env_s.push_back(std::move(entry));
        }
        for (const auto& [k, v] : env)
            env_s.push_back(k + "=" + v);
        std::vector<char*> envp;
        for (auto& e : env_s)
            envp.push_back(e.data());
        envp.push_back(nullptr);

        const bool search = program.find('/') == std::string::npos;
        int rc =
            search
                ? ::posix_spawnp(&pid_, program.c_str(), &actions, &attr, argv.data(), envp.data())
                : ::posix_spawn(&pid_, program.c_str(), &actions, &attr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        ::close(fds[1]);
        ::close(err_fd);
        if (rc != 0) {
            ::close(out_fd_);
            out_fd_ = -1;
            pid_ = -1;
            throw std::runtime_error("posix_spawn " + program + ": " + std::strerror(rc));
        }
        pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    }

    ~child_process() {
        if (pid_ > 0 && !exit_code_) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        if (out_fd_ >= 0) ::close(out_fd_);
        if (pidfd_ >= 0) ::close(pidfd_);
        if (!stderr_path_.empty()) ::unlink(stderr_path_.c_str());
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }

    /// The next stdout line (without '\n'), or nullopt at EOF or when `timeout` passes.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto nl = pending_.find('\n'); nl != std::string::npos) {
                std::string line = pending_.substr(0, nl);
                pending_.erase(0, nl + 1);
                lines_.push_back(line);
                return line;
            }
            if (out_fd_ < 0) return std::nullopt;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{out_fd_, POLLIN, 0};
            int n = ::poll(&p, 1, static_cast<int>(left.count()));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            char buf[4096];
            auto got = ::read(out_fd_, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                ::close(out_fd_);
                out_fd_ = -1;
                if (!pending_.empty()) {
                    lines_.push_back(pending_);
                    return std::exchange(pending_, {});
                }
                return std::nullopt;
            }
            pending_.append(buf, static_cast<std::size_t>(got));
        }
    }

    /// Reads lines until one matches `re`; the line, or nullopt on EOF/timeout. Search the
    /// returned string again for the captures.
    std::optional<std::string> wait_for_line(const std::regex& re,
                                             std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto line = read_line(std::max(left, std::chrono::milliseconds(0)));
            if (!line) return std::nullopt;
            if (std::regex_search(*line, re)) return line;
        }
    }

    /// Every stdout line read so far.
    const std::vector<std::string>& lines() const noexcept { return lines_; }
    /// What the child wrote to stderr so far.
    std::string stderr_text() const { return read_file(stderr_path_); }

    void send_signal(int sig) {
        if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
    }

    /// Waits for the child to exit: its exit status, 128 + signal if killed, nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        if (exit_code_) return exit_code_;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int status = 0;
            pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                return exit_code_;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            if (pidfd_ >= 0) {
                pollfd p{pidfd_, POLLIN, 0}; // readable when the child exits
                ::poll(&p, 1, static_cast<int>(left.count()));
            } else {
                std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
            }
        }
    }

    bool running() {
        if (exit_code_) return false;
        return !wait(std::chrono::milliseconds(0)).has_value();
    }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    int pidfd_ = -1;
    std::string stderr_path_;
    std::string pending_;
    std::vector<std::string> lines_;
    std::optional<int> exit_code_;
};

/// Runs a command to completion; returns {exit code, stdout}. Kills it after `timeout`.
inline std::pair<int, std::string>
run_command(const std::string& program, const std::vector<std::string>& args,
            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    child_process p(program, args);
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (auto line = p.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now()))) {
        out += *line;
        out += '\n';
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto code = p.wait(std::max(left, std::chrono::milliseconds(0)));
    return {code.value_or(-1), out};
}

/// Where the build put the executables (build/bin). $TASKWATCH_TEST_BIN_DIR wins: CI points it
/// at the sanitizer build's, so that these tests drive a sanitized taskwatchd and modelarts-sim.
inline std::string bin_dir() {
    if (const char* dir = std::getenv("TASKWATCH_TEST_BIN_DIR"); dir != nullptr && *dir != '\0')
        return dir;
#ifdef TASKWATCH_BIN_DIR
    return TASKWATCH_BIN_DIR;
#else
    char buf[4096];
    auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string self(buf, static_cast<std::size_t>(n));
    return self.substr(0, self.rfind('/'));
#endif
}

} // namespace taskwatch::test
