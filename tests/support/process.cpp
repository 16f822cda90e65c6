#include "support/process.hpp"

#include "support/files.hpp"
#include "support/wait.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace taskwatch::test {

namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

milliseconds left_until(steady::time_point deadline) {
    return std::max(std::chrono::duration_cast<milliseconds>(deadline - steady::now()),
                    milliseconds(0));
}

} // namespace

child_process::child_process(const std::string& program, const std::vector<std::string>& args,
                             const env_list& env, int stderr_fd) {
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
    int rc = search
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
        ::unlink(stderr_path_.c_str());
        throw std::runtime_error("posix_spawn " + program + ": " + std::strerror(rc));
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

child_process::~child_process() {
    if (pid_ > 0 && !exit_code_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (pidfd_ >= 0) ::close(pidfd_);
    if (!stderr_path_.empty()) ::unlink(stderr_path_.c_str());
}

std::optional<std::string> child_process::read_line(milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
        if (auto nl = pending_.find('\n'); nl != std::string::npos) {
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            lines_.push_back(line);
            return line;
        }
        if (out_fd_ < 0) return std::nullopt;
        auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
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

std::optional<std::string> child_process::wait_for_line(const std::regex& re,
                                                        milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
        auto line = read_line(left_until(deadline));
        if (!line) return std::nullopt;
        if (std::regex_search(*line, re)) return line;
    }
}

std::string child_process::stderr_text() const {
    return read_file(stderr_path_);
}

bool child_process::wait_for_stderr(const std::string& needle, milliseconds timeout) const {
    // Another process writes the file: look again every 20 ms.
    return wait_until([&] { return stderr_text().find(needle) != std::string::npos; }, timeout,
                      milliseconds(20));
}

void child_process::send_signal(int sig) {
    if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> child_process::wait(milliseconds timeout) {
    if (exit_code_) return exit_code_;
    const auto deadline = steady::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return exit_code_;
        }
        auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
        if (left.count() <= 0) return std::nullopt;
        if (pidfd_ >= 0) {
            pollfd p{pidfd_, POLLIN, 0}; // readable when the child exits
            ::poll(&p, 1, static_cast<int>(left.count()));
        } else {
            std::this_thread::sleep_for(std::min(left, milliseconds(10)));
        }
    }
}

bool child_process::running() {
    if (exit_code_) return false;
    return !wait(milliseconds(0)).has_value();
}

command_result run_command(const std::string& program, const std::vector<std::string>& args,
                           const env_list& env, milliseconds timeout) {
    child_process p(program, args, env);
    command_result r;
    const auto deadline = steady::now() + timeout;
    while (auto line = p.read_line(left_until(deadline))) {
        r.out += *line;
        r.out += '\n';
    }
    // Its stdout is closed (or the time is up): a child that closed it is about to exit.
    r.status = p.wait(std::max(left_until(deadline), milliseconds(5000))).value_or(-1);
    r.err = p.stderr_text();
    return r;
}

std::string bin_dir() {
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
