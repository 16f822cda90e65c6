// A storage failure under a running taskwatchd (real daemon, real simulator over TLS): a full
// disk (a small tmpfs mounted for the test, skipped where mount is not permitted), a state
// directory deleted, a database file replaced by a directory. Each must show at /-/ready, in
// /metrics and on the status page, keep pending writes bounded, lose no event, and recover.
#include "support/daemon.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

namespace {

using namespace taskwatch;
using namespace taskwatch::test;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;
namespace fs = std::filesystem;

/// A tmpfs of `size` mounted on a fresh directory, unmounted at scope exit. mounted() is false
/// where mount is not permitted (not root, no CAP_SYS_ADMIN): the caller skips its test.
class small_tmpfs {
public:
    explicit small_tmpfs(const std::string& size) {
        if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                    ("size=" + size).c_str()) == 0)
            mounted_ = true;
        else
            error_ = std::strerror(errno);
    }
    ~small_tmpfs() {
        if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
    }
    small_tmpfs(const small_tmpfs&) = delete;
    small_tmpfs& operator=(const small_tmpfs&) = delete;

    bool mounted() const noexcept { return mounted_; }
    const std::string& error() const noexcept { return error_; }
    std::string path(const std::string& name) const { return dir_.file(name); }

    /// Fills the file system with `filler` until a write fails with ENOSPC.
    void fill() {
        std::FILE* f = std::fopen(path("filler").c_str(), "ab");
        REQUIRE(f != nullptr);
        std::setvbuf(f, nullptr, _IONBF, 0);
        std::vector<char> block(4096, 'x');
        while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
        }
        const int e = errno;
        std::fclose(f);
        REQUIRE_MESSAGE(e == ENOSPC, std::strerror(e));
    }
    void free_space() { fs::remove(path("filler")); }

private:
    temp_dir dir_{"tmpfs"};
    bool mounted_ = false;
    std::string error_;
};

/// Changes a task's progress in the simulator and waits until the daemon has polled every task
/// at least once more (so that the change was seen).
void change_progress(sim_process& sim, const std::string& task_id, double progress,
                     std::size_t tasks) {
    const auto before = sim.requests_of_kind("get_task");
    sim.control(verb::patch, "/sim/tasks/" + task_id,
                R"({"progress":)" + std::to_string(progress) + "}");
    REQUIRE(
        wait_until([&] { return sim.requests_of_kind("get_task") >= before + 2 * tasks; }, 10s));
}

} // namespace

TEST_CASE("a full disk makes /-/ready 503 with the reason, shows in /metrics and on the status "
          "page, keeps pending writes bounded, loses no event and recovers when space returns") {
    small_tmpfs disk("16m");
    if (!disk.mounted()) {
        MESSAGE("skipped: cannot mount a tmpfs here (" << disk.error()
                                                       << "); this test needs root");
        return;
    }
    sim_process sim({"--static", "--tasks", "8", "--datasets", "1"});
    auto tasks = sim.tasks();
    const auto dataset = string_of(tasks.at(0).at("dataset_id"));
    std::vector<std::string> ids;
    for (const auto& t : tasks)
        if (string_of(t.at("dataset_id")) == dataset) ids.push_back(string_of(t.at("task_id")));
    const auto state_dir = disk.path("state");
    served_daemon w(sim, dataset, state_dir);
    wait_for_discovery(w.d, ids.size());
    REQUIRE(wait_until([&] { return w.get("/-/ready").status == 200; }, 15s));
    // Both series exist from the start, at 0.
    CHECK(w.metric("taskwatch_state_write_failures_total") == 0);
    REQUIRE(wait_until([&] { return w.metric("taskwatch_state_pending_writes") == 0; }, 5s));

    disk.fill();
    // Writes: one task's progress changes many times, one task appears, one disappears.
    const auto& busy = ids.front();
    change_progress(sim, busy, 1, ids.size());
    REQUIRE_MESSAGE(wait_until([&] { return w.get("/-/ready").status == 503; }, 10s),
                    w.d.proc->stderr_text());
    auto ready = w.get("/-/ready");
    INFO(ready.body);
    CHECK(ready.body.find("cannot write the state database") != std::string::npos);
    CHECK(ready.body.find("disk is full") != std::string::npos);
    CHECK(std::count(ready.body.begin(), ready.body.end(), '\n') == 1);
    auto page = w.get("/");
    CHECK(page.body.find("id=\"store-problem\"") != std::string::npos);
    CHECK(page.body.find("disk is full") != std::string::npos);
    CHECK(w.metric_or_fail("taskwatch_state_write_failures_total") > 0);

    const std::string added = "NEWTASK0000000000001";
    sim.control(verb::post, "/sim/tasks",
                R"({"dataset_id":")" + dataset + R"(","project_id":")" + sim.account.project +
                    R"(","task_id":")" + added +
                    R"(","type":"auto-label","status":"running","progress":12.5})");
    const auto& deleted = ids.back();
    sim.control(verb::delete_, "/sim/tasks/" + deleted);
    for (int i = 2; i <= 30; ++i)
        change_progress(sim, busy, i, ids.size());
    REQUIRE_MESSAGE(
        wait_until(
            [&] {
                return w.metric_or_fail("taskwatch_events_total{type=\"task.gone\"}") >= 1 &&
                       w.metric_or_fail("taskwatch_events_total{type=\"task.discovered\"}") >=
                           static_cast<double>(ids.size() + 1);
            },
            10s),
        w.d.proc->stderr_text());
    // 30 changed polls of one task, a new task, a gone one: at most one state per task known
    // (the 8 listed and the new one) plus the two events.
    const auto pending = w.metric_or_fail("taskwatch_state_pending_writes");
    CHECK(pending >= 2);
    CHECK(pending <= static_cast<double>(ids.size() + 1 + 2));
    CHECK(w.get("/-/ready").status == 503);

    disk.free_space();
    REQUIRE_MESSAGE(wait_until([&] { return w.get("/-/ready").status == 200; }, 10s),
                    w.d.proc->stderr_text());
    CHECK(w.metric("taskwatch_state_pending_writes") == 0);
    CHECK(w.get("/").body.find("id=\"store-problem\"") == std::string::npos);
    auto events = read_events(w.d.db);
    CHECK(count_of(events, "task.discovered", added) == 1);
    CHECK(count_of(events, "task.gone", deleted) == 1);
    std::map<std::string, int> per_id;
    for (const auto& e : events)
        ++per_id[string_of(e.payload.at("id"))];
    for (const auto& [id, n] : per_id)
        CHECK_MESSAGE(n == 1, id);
    CHECK(read_task_statuses(w.d.db).count(added) == 1);

    // Full again at shutdown: what cannot be written is named, loudly.
    disk.fill();
    change_progress(sim, busy, 77, ids.size());
    REQUIRE(wait_until([&] { return w.metric_or_fail("taskwatch_state_pending_writes") > 0; }, 5s));
    CHECK(w.d.stop() == 0);
    const auto err = w.d.proc->stderr_text();
    INFO(err);
    CHECK(err.find("level=error") != std::string::npos);
    CHECK(std::regex_search(err, std::regex(R"(lost \d+ task states and \d+ events)")));
}

TEST_CASE("a deleted state directory is noticed, created again and filled with every task's "
          "state - a database file replaced by a directory makes /-/ready 503 until removed") {
    sim_process sim({"--static", "--tasks", "6", "--datasets", "1"});
    const auto first = first_dataset(sim);
    const auto& dataset = first.id;
    const auto listed = first.tasks;
    temp_dir state("state");
    const auto state_dir = state.file("state");
    served_daemon w(sim, dataset, state_dir);
    wait_for_discovery(w.d, listed);
    REQUIRE(wait_until([&] { return read_task_statuses(w.d.db).size() == listed; }, 10s));

    // Gone at once (a rename), then deleted: the daemon never sees half a directory.
    fs::rename(state_dir, state_dir + ".deleted");
    fs::remove_all(state_dir + ".deleted");
    // Quiet tasks write nothing: the daemon must notice by itself, and write everything again.
    REQUIRE_MESSAGE(wait_until([&] { return read_task_statuses(w.d.db).size() == listed; }, 10s),
                    w.d.proc->stderr_text());
    CHECK(w.d.proc->stderr_text().find("vanished") != std::string::npos);
    CHECK(w.get("/-/ready").status == 200);

    // A new task after the recreation is discovered once, into the new file.
    const std::string added = "NEWTASK0000000000002";
    sim.control(verb::post, "/sim/tasks",
                R"({"dataset_id":")" + dataset + R"(","project_id":")" + sim.account.project +
                    R"(","task_id":")" + added +
                    R"(","type":"auto-label","status":"running","progress":12.5})");
    auto events = wait_for_events(
        w.d.db, [&](const auto& ev) { return count_of(ev, "task.discovered", added) >= 1; });
    CHECK(count_of(events, "task.discovered", added) == 1);

    // The file replaced by a directory: nothing can be written there.
    REQUIRE(wait_until([&] { return w.metric("taskwatch_state_pending_writes") == 0; }, 5s));
    // Swapped in at once (renameat2 RENAME_EXCHANGE): a state directory whose taskwatch.db is
    // a directory.
    const auto swapped = state.file("swapped");
    fs::create_directories(swapped + "/taskwatch.db");
    REQUIRE_MESSAGE(
        ::renameat2(AT_FDCWD, swapped.c_str(), AT_FDCWD, state_dir.c_str(), RENAME_EXCHANGE) == 0,
        std::strerror(errno));
    REQUIRE_MESSAGE(wait_until([&] { return w.get("/-/ready").status == 503; }, 10s),
                    w.d.proc->stderr_text());
    auto ready = w.get("/-/ready");
    CHECK(ready.body.find(w.d.db) != std::string::npos);
    CHECK(w.metric_or_fail("taskwatch_state_write_failures_total") > 0);
    fs::remove(w.d.db);
    REQUIRE_MESSAGE(wait_until([&] { return w.get("/-/ready").status == 200; }, 10s),
                    w.d.proc->stderr_text());
    REQUIRE(wait_until([&] { return read_task_statuses(w.d.db).size() == listed + 1; }, 10s));
    CHECK(w.d.stop() == 0);
}
