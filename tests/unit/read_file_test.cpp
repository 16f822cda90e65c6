// detail::read_regular_file: only regular files, never blocking, never more than the limit.
// Every read runs in a child process that an alarm kills after 10 s and whose address space
// is capped at 1 GiB, so a reader that blocks on a FIFO or reads /dev/zero forever fails the
// test instead of hanging it or exhausting the machine.
#include "taskwatch/detail/read_file.hpp"

#include "support/files.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using taskwatch::detail::file_content;
using taskwatch::detail::read_regular_file;
using taskwatch::test::temp_dir;

namespace {

// "ok <size>" or "error <os_error> <message>" from a child that ran the read, else how the
// child ended ("killed by signal 14" for the alarm, i.e. the read blocked).
std::string outcome_in_child(const std::string& path, std::size_t limit,
                             file_content content = file_content::plain) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        ::alarm(10);
        rlimit as{rlim_t{1} << 30, rlim_t{1} << 30};
        ::setrlimit(RLIMIT_AS, &as);
        std::string out;
        try {
            auto r = read_regular_file(path, limit, content);
            out = r ? "ok " + std::to_string(r->size())
                    : "error " + std::to_string(r.error().os_error) + " " + r.error().message;
        } catch (const std::exception& e) {
            out = std::string("exception ") + e.what();
        }
        auto n = ::write(fds[1], out.data(), out.size());
        ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 3);
    }
    ::close(fds[1]);
    std::string got;
    char buf[512];
    for (;;) {
        auto n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return got;
}

} // namespace

TEST_CASE("read_regular_file reads a regular file whole") {
    temp_dir d;
    auto f = d.write("a.yml", "listen: :9817\n");
    auto r = read_regular_file(f, 1024);
    REQUIRE(r);
    CHECK(*r == "listen: :9817\n");
    auto empty = read_regular_file(d.write("empty", ""), 1024);
    REQUIRE(empty);
    CHECK(empty->empty());
    auto secret = read_regular_file(d.write("sk", "s3cret\n"), 64, file_content::secret);
    REQUIRE(secret);
    CHECK(*secret == "s3cret\n");
}

TEST_CASE("read_regular_file: a file of exactly the limit is read, one byte more is refused") {
    temp_dir d;
    auto at = d.write("at", std::string(4096, 'x'));
    auto over = d.write("over", std::string(4097, 'x'));
    CHECK(outcome_in_child(at, 4096) == "ok 4096");
    CHECK(outcome_in_child(over, 4096) == "error 0 larger than 4 KiB");
    CHECK(outcome_in_child(over, 4096, file_content::secret) == "error 0 larger than 4 KiB");
    CHECK(outcome_in_child(d.write("odd", std::string(1001, 'x')), 1000) ==
          "error 0 larger than 1000 bytes");
}

TEST_CASE("read_regular_file: a FIFO is refused at once, without waiting for a writer") {
    temp_dir d;
    auto fifo = d.file("config.fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(outcome_in_child(fifo, 1 << 20) == "error 0 not a regular file (a FIFO)");
}

TEST_CASE("read_regular_file: a symlink to a FIFO is refused like the FIFO") {
    temp_dir d;
    auto fifo = d.file("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::filesystem::create_symlink(fifo, d.file("config.yml"));
    CHECK(outcome_in_child(d.file("config.yml"), 1 << 20) == "error 0 not a regular file (a FIFO)");
}

TEST_CASE("read_regular_file: /dev/zero is refused without reading it") {
    CHECK(outcome_in_child("/dev/zero", 1 << 20) ==
          "error 0 not a regular file (a character device)");
    temp_dir d;
    std::filesystem::create_symlink("/dev/zero", d.file("config.yml"));
    CHECK(outcome_in_child(d.file("config.yml"), 1 << 20, file_content::secret) ==
          "error 0 not a regular file (a character device)");
}

TEST_CASE("read_regular_file: a directory and a missing file say what they are") {
    temp_dir d;
    CHECK(outcome_in_child(d.str(), 1 << 20) == "error 0 not a regular file (a directory)");
    CHECK(outcome_in_child(d.file("absent"), 1 << 20) ==
          "error " + std::to_string(ENOENT) + " No such file or directory");
    auto file = d.write("file", "x");
    CHECK(outcome_in_child(file + "/below", 1 << 20) ==
          "error " + std::to_string(ENOTDIR) + " Not a directory");
}

TEST_CASE("read_regular_file: a /proc file that reports size 0 is read to its end") {
    auto r = read_regular_file("/proc/self/status", 1 << 20);
    REQUIRE(r);
    CHECK(r->find("Name:") == 0);
}

TEST_CASE("size_text prints limits the way messages do") {
    using taskwatch::detail::size_text;
    CHECK(size_text(64u << 20) == "64 MiB");
    CHECK(size_text(64u << 10) == "64 KiB");
    CHECK(size_text(1000) == "1000 bytes");
    CHECK(size_text(1) == "1 byte");
}
