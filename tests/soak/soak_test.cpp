// Fault soak: the real taskwatchd against the real modelarts-sim on loopback, every fault kind
// injected into a share of the requests for a bounded time. Checks and prints: the daemon stays
// up; its RSS at the end is within a few percent of its RSS after warm-up; every status
// transition the simulator made is in the outbox exactly once (ground truth: GET
// /sim/transitions); every failure is counted in taskwatch_poll_failures_total by reason,
// equal to the simulator's count of injected faults where they map one to one; the log stays
// under a few lines per second.
//
// Sized by the environment (scripts/soak.sh sets it; the defaults are the short version that
// ctest runs under the `soak` label, about 70 s): SOAK_TASKS (300), SOAK_DATASETS (5),
// SOAK_DURATION seconds of faults (50), SOAK_WARMUP seconds of them before the RSS reference
// (15), SOAK_INTERVAL poll interval in seconds (1), SOAK_PHASE the simulator's
// --phase-seconds (10), SOAK_FAULT_RATIO share of requests that fail (0.2), SOAK_RSS_PERCENT
// (5), SOAK_LOG_LINES_PER_SECOND (5), SOAK_MAX_CONNECTIONS (32), SOAK_KEEP=1 keeps the files.
#include "support/daemon.hpp"
#include "support/outbox.hpp"
#include "support/process.hpp"
#include "support/sim.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace taskwatch::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using bverb = boost::beast::http::verb;
using steady = std::chrono::steady_clock;

double env_number(const char* name, double dflt) {
    const char* v = std::getenv(name);
    if (!v || !*v) return dflt;
    char* end = nullptr;
    double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= 0)) {
        std::fprintf(stderr, "soak: %s='%s' is not a number >= 0\n", name, v);
        std::exit(2);
    }
    return d;
}

struct soak_params {
    std::size_t tasks = static_cast<std::size_t>(env_number("SOAK_TASKS", 300));
    std::size_t datasets = static_cast<std::size_t>(env_number("SOAK_DATASETS", 5));
    double duration = env_number("SOAK_DURATION", 50);
    double warmup = env_number("SOAK_WARMUP", 15);
    double interval = env_number("SOAK_INTERVAL", 1);
    double phase = env_number("SOAK_PHASE", 10);
    double fault_ratio = env_number("SOAK_FAULT_RATIO", 0.2);
    double rss_percent = env_number("SOAK_RSS_PERCENT", 5);
    double log_rate = env_number("SOAK_LOG_LINES_PER_SECOND", 5);
    std::size_t max_connections = static_cast<std::size_t>(env_number("SOAK_MAX_CONNECTIONS", 32));
    bool keep = env_number("SOAK_KEEP", 0) != 0;
};

// The fault kinds that decide a request's answer, 429s aside (tls-handshake is per connection).
const std::vector<std::string> request_faults{
    "500", "502", "503", "not-found", "malformed-json", "truncate", "reset", "hang"};

/// --fault flags. The kinds above share `ratio` of the requests equally: the simulator tries
/// rules in order and the first that fires decides, so rule i fires with share / (1 - i *
/// share) of what reaches it; tls-handshake fails `share` of the connections; latency (100 ms)
/// delays `ratio` of the requests on top. A 429 pauses the whole endpoint (that is the point
/// of it), so at a share of every request the daemon would spend the soak paused: 429 and
/// 429-retry-after come first at `throttle_ratio` each, about 0.1 per second.
std::vector<std::string> fault_flags(double ratio, double throttle_ratio) {
    std::vector<std::string> out;
    const double share = ratio / static_cast<double>(request_faults.size());
    char buf[160];
    std::snprintf(buf, sizeof buf, "latency:%.6f:delay=100ms", ratio);
    out.insert(out.end(), {"--fault", buf});
    std::snprintf(buf, sizeof buf, "429:%.8f", throttle_ratio);
    out.insert(out.end(), {"--fault", buf});
    std::snprintf(buf, sizeof buf, "429-retry-after:%.8f:retry_after=1", throttle_ratio);
    out.insert(out.end(), {"--fault", buf});
    for (std::size_t i = 0; i < request_faults.size(); ++i) {
        const double p = share / (1.0 - static_cast<double>(i) * share);
        std::snprintf(buf, sizeof buf, "%s:%.6f", request_faults[i].c_str(), p);
        out.insert(out.end(), {"--fault", buf});
    }
    std::snprintf(buf, sizeof buf, "tls-handshake:%.6f", share);
    out.insert(out.end(), {"--fault", buf});
    return out;
}

long rss_kib(pid_t pid) {
    auto status = read_file("/proc/" + std::to_string(pid) + "/status");
    auto at = status.find("VmRSS:");
    return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 6, nullptr, 10);
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// sample name with labels -> value, from the Prometheus text format.
std::map<std::string, double> parse_metrics(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto sp = line.rfind(' ');
        if (sp == std::string::npos) continue;
        out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
    }
    return out;
}

// --- the transition check ------------------------------------------------------------------

struct sim_transition {
    std::string from, to;
    std::int64_t at_ms = 0;
    bool served = false;
};

/// What the daemon reported of one task, from the outbox in commit order.
struct daemon_view {
    std::string first_status; ///< of the first task.discovered
    struct step {
        std::string from, to;
        bool after_gone = false; ///< a rediscovery in another status, not a status_changed
    };
    std::vector<step> steps;
    std::size_t gone = 0, rediscovered = 0;
    std::vector<std::string> problems; ///< inconsistencies within the outbox itself
};

struct check_result {
    std::size_t checked = 0; ///< simulator transitions compared
    std::size_t as_status_changed = 0;
    std::size_t across_gone = 0;  ///< reached through a gone + rediscovery
    std::size_t never_shown = 0;  ///< skipped states no intact answer ever showed
    std::size_t after_cutoff = 0; ///< made after the faults stopped and not reported yet
    std::size_t gone_events = 0, rediscoveries = 0;
    std::vector<std::string> mismatches;
};

std::map<std::string, daemon_view> read_outbox(const std::string& db) {
    std::map<std::string, daemon_view> out;
    auto rows = query(db, "SELECT task_id, type, "
                          "json_extract(payload, '$.previous.status'), "
                          "json_extract(payload, '$.current.status') FROM events "
                          "WHERE type IN ('task.discovered', 'task.status_changed', 'task.gone') "
                          "ORDER BY rowid");
    std::map<std::string, std::string> last;
    for (auto& r : rows) {
        auto& v = out[r[0]];
        const auto& type = r[1];
        if (type == "task.discovered") {
            if (v.first_status.empty() && v.steps.empty() && v.gone == 0) {
                v.first_status = r[3];
            } else {
                ++v.rediscovered;
                if (r[3] != last[r[0]]) v.steps.push_back({last[r[0]], r[3], true});
            }
            last[r[0]] = r[3];
        } else if (type == "task.status_changed") {
            if (r[2] != last[r[0]])
                v.problems.push_back("status_changed " + r[2] + "->" + r[3] +
                                     " after the daemon last reported " + last[r[0]]);
            v.steps.push_back({r[2], r[3], false});
            last[r[0]] = r[3];
        } else {
            ++v.gone;
        }
    }
    return out;
}

/// For every task: the daemon's reported transitions must be the simulator's, from the status
/// it was discovered in on, each once, in order. A state the daemon did not report is allowed
/// only if no intact answer ever showed it (served=false); transitions made after `cutoff_ms`
/// may still be missing at the end.
check_result compare(const std::map<std::string, std::vector<sim_transition>>& sim,
                     const std::set<std::string>& sim_tasks,
                     const std::map<std::string, daemon_view>& outbox, std::int64_t cutoff_ms) {
    check_result res;
    auto mismatch = [&](const std::string& task, const std::string& what) {
        if (res.mismatches.size() < 1000)
            res.mismatches.push_back(task + ": " + what);
        else
            res.mismatches.back() = "... and more";
    };
    for (const auto& [task, view] : outbox) {
        res.gone_events += view.gone;
        res.rediscoveries += view.rediscovered;
        if (!sim_tasks.count(task)) mismatch(task, "in the outbox, unknown to the simulator");
        for (const auto& p : view.problems)
            mismatch(task, p);
    }
    static const std::vector<sim_transition> none;
    for (const auto& task : sim_tasks) {
        auto it = sim.find(task);
        const auto& all = it == sim.end() ? none : it->second;
        auto ov = outbox.find(task);
        if (ov == outbox.end() || ov->second.first_status.empty()) {
            bool moved = std::any_of(all.begin(), all.end(),
                                     [&](const sim_transition& t) { return t.at_ms <= cutoff_ms; });
            mismatch(task, moved ? "never discovered, and it changed status before the cutoff"
                                 : "never discovered");
            continue;
        }
        const auto& view = ov->second;
        // The simulator's transitions from the status the daemon first saw on.
        std::size_t i = 0;
        for (std::size_t k = 0; k < all.size(); ++k)
            if (all[k].to == view.first_status) i = k + 1;
        if (i == 0 && !all.empty() && all.front().from != view.first_status) {
            mismatch(task, "discovered as " + view.first_status +
                               ", a status the simulator never gave it");
            continue;
        }
        for (const auto& step : view.steps) {
            std::size_t k = i;
            while (k < all.size() && all[k].to != step.to)
                ++k;
            if (k == all.size() || (i < all.size() && all[i].from != step.from)) {
                mismatch(task, "the daemon reported " + step.from + "->" + step.to +
                                   (step.after_gone ? " (across a gone)" : "") +
                                   ", the simulator's next transition is " +
                                   (i < all.size() ? all[i].from + "->" + all[i].to
                                                   : std::string("none")));
                i = all.size();
                break;
            }
            // Skipped states: allowed only if nobody was ever shown them.
            for (std::size_t m = i; m < k; ++m) {
                ++res.checked;
                if (all[m].served)
                    mismatch(task, "state " + all[m].to + " (" + all[m].from + "->" + all[m].to +
                                       ") was served intact but never reported");
                else
                    ++res.never_shown;
            }
            ++res.checked;
            if (step.after_gone)
                ++res.across_gone;
            else
                ++res.as_status_changed;
            i = k + 1;
        }
        for (; i < all.size(); ++i) {
            if (all[i].at_ms > cutoff_ms) {
                ++res.after_cutoff;
                continue;
            }
            ++res.checked;
            mismatch(task, "missing " + all[i].from + "->" + all[i].to + " made at " +
                               std::to_string(all[i].at_ms) + " ms, before the cutoff" +
                               (all[i].served ? " (served intact)" : ""));
        }
    }
    return res;
}

/// Max lines in any 1-second window among lines with ts >= from_ms, per class.
struct log_rates {
    std::size_t lines = 0, max_all = 0, max_non_event = 0, max_warn = 0, warn_lines = 0,
                suppressed_lines = 0;
};

std::int64_t parse_ts_ms(const std::string& line) {
    // ts=YYYY-MM-DDTHH:MM:SS.mmmZ
    if (line.rfind("ts=", 0) != 0 || line.size() < 27) return -1;
    std::tm tm{};
    if (std::sscanf(line.c_str() + 3, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const auto secs = timegm(&tm);
    return static_cast<std::int64_t>(secs) * 1000 + std::atoi(line.c_str() + 23);
}

std::size_t max_per_second(const std::vector<std::int64_t>& ts) {
    std::size_t best = 0, lo = 0;
    for (std::size_t hi = 0; hi < ts.size(); ++hi) {
        while (ts[hi] - ts[lo] >= 1000)
            ++lo;
        best = std::max(best, hi - lo + 1);
    }
    return best;
}

log_rates measure_log(const std::string& text, std::int64_t from_ms, std::int64_t to_ms) {
    log_rates r;
    std::vector<std::int64_t> all, non_event, warn;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto ts = parse_ts_ms(line);
        if (ts < from_ms || ts > to_ms) continue;
        ++r.lines;
        all.push_back(ts);
        if (line.find(" msg=event ") == std::string::npos) non_event.push_back(ts);
        if (line.find("level=warn") != std::string::npos ||
            line.find("level=error") != std::string::npos) {
            warn.push_back(ts);
            ++r.warn_lines;
        }
        if (line.find("similar lines suppressed") != std::string::npos) ++r.suppressed_lines;
    }
    for (auto* v : {&all, &non_event, &warn})
        std::sort(v->begin(), v->end());
    r.max_all = max_per_second(all);
    r.max_non_event = max_per_second(non_event);
    r.max_warn = max_per_second(warn);
    return r;
}

} // namespace

TEST_SUITE("soak") {

    TEST_CASE("fault soak: the daemon stays up, keeps its memory, reports every transition once, "
              "counts every failure by reason and keeps its log quiet") {
        std::setvbuf(stdout, nullptr, _IOLBF, 0); // figures as they come, also through a pipe
        const soak_params P;
        const auto t_start = steady::now();
        std::printf("soak: %zu tasks over %zu datasets, faults %.0f%% of requests (every kind) for "
                    "%.0f s (warm-up %.0f s), poll interval %.1f s, phase %.0f s, loopback\n",
                    P.tasks, P.datasets, 100 * P.fault_ratio, P.duration, P.warmup, P.interval,
                    P.phase);

        char phase_text[32], interval_text[32];
        std::snprintf(phase_text, sizeof phase_text, "%g", P.phase);
        std::snprintf(interval_text, sizeof interval_text, "%lldms",
                      static_cast<long long>(std::llround(P.interval * 1000)));
        std::vector<std::string> sim_args{"--tasks",          std::to_string(P.tasks),
                                          "--datasets",       std::to_string(P.datasets),
                                          "--phase-seconds",  phase_text,
                                          "--transition-log", std::to_string(P.tasks * 40 + 10000)};
        if (P.fault_ratio > 0)
            for (auto& f : fault_flags(P.fault_ratio,
                                       0.1 * P.interval /
                                           static_cast<double>(std::max<std::size_t>(1, P.tasks))))
                sim_args.push_back(f);
        sim_process sim(sim_args);
        // Control requests with room for big answers (every task, every transition).
        // tls-handshake faults hit any new connection, the control API's too: retry those.
        auto ctl = [&](bverb method, const std::string& target) {
            auto r = http_request(sim.address, method, target, {}, {}, 60s);
            for (int attempt = 1; r.status == 0 && attempt < 10; ++attempt)
                r = http_request(sim.address, method, target, {}, {}, 60s);
            REQUIRE_MESSAGE(r.status / 100 == 2,
                            target << " -> " << r.status << " " << r.error.message());
            return r.body.empty() ? json::value(nullptr) : json::parse(r.body);
        };
        auto sim_task_list = [&] { return ctl(bverb::get, "/sim/tasks").at("tasks").as_array(); };

        // One discovery target per dataset: every task is found with the list API.
        std::set<std::string> datasets;
        for (const auto& t : sim_task_list())
            datasets.insert(std::string(t.at("dataset_id").as_string()));
        sim.dir.write("ak", sim.account.ak + "\n");
        sim.dir.write("sk", sim.account.sk + "\n");
        const auto state_dir = sim.dir.file("state");
        std::string cfg =
            "listen: 127.0.0.1:0\nstate_dir: " + state_dir +
            "\nlog_level: info\nmodelarts:\n  endpoint: " + sim.url() +
            "\n  project_id: " + sim.account.project + "\n  ca_file: " + sim.ca_file() +
            "\n  auth: {type: aksk, ak_file: ak, sk_file: sk}\n  timeout: 2s\n"
            "  max_connections: " +
            std::to_string(P.max_connections) +
            "\n  max_requests_per_second: 100000\npoll:\n  interval: " + interval_text +
            "\n  finished_interval: " + interval_text + "\ntargets:\n";
        for (const auto& d : datasets)
            cfg += "  - dataset_id: " + d + "\n";
        const auto config = sim.dir.write("soak.yml", cfg);
        const auto db = state_dir + "/taskwatch.db";
        child_process daemon(bin_dir() + "/taskwatchd", {"--config", config});

        // The web server's address, from the daemon's log.
        const server_address web = http_address_of(daemon);

        // Warm-up: every task discovered, then faults for a while, then the RSS reference.
        const auto all_tasks = sim_task_list();
        std::size_t discovered = 0;
        wait_until(
            [&] {
                REQUIRE_MESSAGE(daemon.running(), "taskwatchd died during discovery");
                auto rows = query(
                    db, "SELECT COUNT(DISTINCT task_id) FROM events WHERE type='task.discovered'");
                discovered = rows.empty() ? 0 : std::stoul(rows[0][0]);
                return discovered >= all_tasks.size();
            },
            std::chrono::seconds(60 + static_cast<long>(P.tasks / 50)), 500ms);
        if (discovered < all_tasks.size()) {
            // Which ones, and what the daemon said about the first of them.
            std::set<std::string> seen;
            for (auto& r : query(db, "SELECT DISTINCT task_id FROM events WHERE "
                                     "type='task.discovered'"))
                seen.insert(r[0]);
            const auto log = daemon.stderr_text();
            for (const auto& t : all_tasks) {
                const auto id = std::string(t.at("task_id").as_string());
                if (seen.count(id)) continue;
                std::printf("soak: not discovered: %s\n",
                            json::serialize(t).substr(0, 300).c_str());
                std::istringstream in(log);
                std::string line;
                while (std::getline(in, line))
                    if (line.find(id) != std::string::npos) std::printf("  %s\n", line.c_str());
                break;
            }
        }
        REQUIRE_MESSAGE(discovered >= all_tasks.size(),
                        "only " << discovered << " of " << all_tasks.size() << " tasks discovered");
        const auto faults_from = steady::now();
        std::printf("soak: all %zu tasks discovered after %.1f s\n", all_tasks.size(),
                    std::chrono::duration<double>(faults_from - t_start).count());
        std::this_thread::sleep_for(std::chrono::duration<double>(P.warmup)); // a time window
        REQUIRE_MESSAGE(daemon.running(), "taskwatchd died during warm-up");
        const long rss_warm = rss_kib(daemon.pid());
        const auto log_from_ms = wall_ms();

        const auto faults_until = faults_from + std::chrono::duration_cast<steady::duration>(
                                                    std::chrono::duration<double>(P.duration));
        long rss_peak = rss_warm;
        while (steady::now() < faults_until) {
            REQUIRE_MESSAGE(daemon.running(), "taskwatchd died under faults: "
                                                  << daemon.stderr_text().substr(0, 4000));
            rss_peak = std::max(rss_peak, rss_kib(daemon.pid()));
            std::this_thread::sleep_for(1s); // sampling, not synchronisation
        }
        const long rss_end = rss_kib(daemon.pid());
        const auto log_to_ms = wall_ms();

        // Stop the faults; the cutoff: what the simulator made before it must be reported.
        ctl(bverb::delete_, "/sim/faults");
        const auto cutoff_ms = wall_ms();
        const auto stats = ctl(bverb::get, "/sim/stats").as_object();

        // Catch-up: re-read both sides until they agree, within a deadline (the daemon polls
        // on its own schedule).
        check_result res;
        std::map<std::string, std::vector<sim_transition>> transitions;
        std::set<std::string> sim_tasks;
        json::object tr_json;
        wait_until(
            [&] {
                // /sim/tasks first: it brings every task up to now, so every step due is logged.
                sim_tasks.clear();
                for (const auto& t : sim_task_list())
                    sim_tasks.insert(std::string(t.at("task_id").as_string()));
                tr_json = ctl(bverb::get, "/sim/transitions").as_object();
                transitions.clear();
                for (const auto& v : tr_json.at("transitions").as_array()) {
                    const auto& o = v.as_object();
                    transitions[std::string(o.at("task_id").as_string())].push_back(
                        {std::string(o.at("from").as_string()), std::string(o.at("to").as_string()),
                         o.at("at_ms").to_number<std::int64_t>(), o.at("served").as_bool()});
                }
                res = compare(transitions, sim_tasks, read_outbox(db), cutoff_ms);
                return res.mismatches.empty();
            },
            std::chrono::seconds(30 + static_cast<long>(4 * P.interval)), 500ms);
        const auto caught_up_after =
            std::chrono::duration<double>(steady::now() - faults_until).count();
        const bool up_at_end = daemon.running();

        // Failures by reason against the faults the simulator injected into task GETs. A hang
        // fired just before the faults stopped is counted when its 2 s timeout passes: re-read
        // /metrics until the one-to-one reasons agree, within a deadline.
        std::map<std::string, double> metrics;
        auto failures = [&](const std::string& reason) {
            auto it = metrics.find("taskwatch_poll_failures_total{reason=\"" + reason + "\"}");
            return it == metrics.end() ? 0.0 : it->second;
        };
        const json::object empty;
        const auto* by_req = stats.if_contains("faults_by_request_kind");
        const auto* get_faults_v = by_req ? by_req->as_object().if_contains("get_task") : nullptr;
        const auto& get_faults = get_faults_v ? get_faults_v->as_object() : empty;
        auto injected = [&](const std::vector<std::string>& kinds) {
            double n = 0;
            for (const auto& k : kinds)
                if (auto* v = get_faults.if_contains(k)) n += v->to_number<double>();
            return n;
        };
        struct reason_row {
            std::string reason;
            std::vector<std::string> kinds;
            bool one_to_one;
        };
        const std::vector<reason_row> reasons{
            {"throttled", {"429", "429-retry-after"}, true},
            {"server_error", {"500", "502", "503"}, true},
            {"not_found", {"not-found"}, true},
            {"malformed", {"malformed-json"}, true},
            {"timeout", {"hang"}, true},
            {"io", {"reset", "truncate"}, false},
        };
        // Re-read until they agree, within a deadline: the daemon's request timeouts run out.
        wait_until(
            [&] {
                auto reply = http_request(web, bverb::get, "/metrics", {}, {}, 30s);
                REQUIRE_MESSAGE(reply.status == 200, "GET /metrics: " << reply.status);
                metrics = parse_metrics(reply.body);
                return std::all_of(reasons.begin(), reasons.end(), [&](const auto& r) {
                    return !r.one_to_one || failures(r.reason) == injected(r.kinds);
                });
            },
            15s, 500ms);
        std::vector<std::string> failed_checks;
        std::printf("soak: failures by reason (daemon taskwatch_poll_failures_total vs faults the "
                    "simulator injected into task GETs):\n");
        for (const auto& r : reasons) {
            const double d = failures(r.reason), s = injected(r.kinds);
            std::string kinds;
            for (const auto& k : r.kinds)
                kinds += (kinds.empty() ? "" : "+") + k;
            std::printf("  %-13s %8.0f   %-20s %8.0f%s\n", r.reason.c_str(), d, kinds.c_str(), s,
                        r.one_to_one ? (d == s ? "   equal" : "   DIFFER") : "");
            if (P.fault_ratio > 0 && d == 0)
                failed_checks.push_back("no failure counted for reason " + r.reason);
            if (P.fault_ratio > 0 && r.one_to_one && d != s)
                failed_checks.push_back("reason " + r.reason + ": the daemon counted " +
                                        std::to_string(static_cast<long long>(d)) +
                                        ", the simulator injected " +
                                        std::to_string(static_cast<long long>(s)));
        }
        const double other = failures("tls") + failures("protocol") + failures("connect");
        const auto handshakes = stats.if_contains("handshakes_failed")
                                    ? stats.at("handshakes_failed").to_number<double>()
                                    : 0.0;
        std::printf(
            "  tls+protocol+connect %.0f (tls %.0f, protocol %.0f, connect %.0f); handshakes "
            "the simulator failed: %.0f (tls-handshake, on any request's connection)\n",
            other, failures("tls"), failures("protocol"), failures("connect"), handshakes);
        if (P.fault_ratio > 0 && failures("tls") + failures("connect") == 0)
            failed_checks.push_back("no failure counted for tls-handshake faults (tls/connect)");

        const auto rates = measure_log(daemon.stderr_text(), log_from_ms, log_to_ms);
        const double rss_change = 100.0 * static_cast<double>(rss_end - rss_warm) /
                                  static_cast<double>(std::max(1L, rss_warm));

        std::printf("soak: daemon up at the end: %s\n", up_at_end ? "yes" : "NO");
        std::printf("soak: RSS after warm-up %.1f MiB, at the end %.1f MiB (%+.2f%%, limit "
                    "+-%.0f%%), peak sampled %.1f MiB\n",
                    static_cast<double>(rss_warm) / 1024, static_cast<double>(rss_end) / 1024,
                    rss_change, P.rss_percent, static_cast<double>(rss_peak) / 1024);
        std::printf(
            "soak: transitions: %zu checked (%zu as task.status_changed, %zu across a "
            "gone+rediscovery, %zu states never served intact so never seen), %zu made "
            "after the cutoff not yet reported, %zu mismatches; simulator recorded %s, "
            "dropped %s; %zu task.gone, %zu rediscoveries; caught up %.1f s after the faults "
            "stopped\n",
            res.checked, res.as_status_changed, res.across_gone, res.never_shown, res.after_cutoff,
            res.mismatches.size(), json::serialize(tr_json.at("recorded")).c_str(),
            json::serialize(tr_json.at("dropped")).c_str(), res.gone_events, res.rediscoveries,
            caught_up_after);
        for (std::size_t i = 0; i < res.mismatches.size() && i < 20; ++i)
            std::printf("  mismatch: %s\n", res.mismatches[i].c_str());
        std::printf("soak: log after warm-up: %zu lines (%zu warn/error, %zu 'similar lines "
                    "suppressed'); max in any 1 s: %zu lines other than task events (limit %.0f), "
                    "%zu warn/error, %zu counting event lines\n",
                    rates.lines, rates.warn_lines, rates.suppressed_lines, rates.max_non_event,
                    P.log_rate, rates.max_warn, rates.max_all);
        std::printf("soak: simulator: %s requests, faults injected %s\n",
                    json::serialize(stats.at("requests_total")).c_str(),
                    json::serialize(stats.at("faults_injected")).c_str());

        if (!up_at_end) failed_checks.push_back("the daemon is not running at the end");
        if (std::abs(rss_change) > P.rss_percent)
            failed_checks.push_back("RSS changed by " + std::to_string(rss_change) + "% (limit " +
                                    std::to_string(P.rss_percent) + "%)");
        if (!res.mismatches.empty())
            failed_checks.push_back(std::to_string(res.mismatches.size()) +
                                    " transition mismatches, first: " + res.mismatches.front());
        if (tr_json.at("dropped").to_number<std::uint64_t>() != 0)
            failed_checks.push_back("the simulator's transition log overflowed");
        if (res.checked == 0) failed_checks.push_back("no transition was checked");
        if (static_cast<double>(rates.max_non_event) > P.log_rate)
            failed_checks.push_back("the log reached " + std::to_string(rates.max_non_event) +
                                    " lines in one second (limit " +
                                    std::to_string(static_cast<int>(P.log_rate)) + ")");
        for (const auto& f : failed_checks)
            std::printf("soak: FAILED: %s\n", f.c_str());
        std::fflush(stdout);
        CHECK_MESSAGE(failed_checks.empty(), (failed_checks.empty() ? "" : failed_checks.front()));

        daemon.send_signal(SIGTERM);
        CHECK(daemon.wait(15s).value_or(-1) == 0);
        if (P.keep) {
            // Keep the files: copy the daemon's log beside them before the temp dir goes.
            std::string kept = "/tmp/taskwatch-soak-kept";
            std::filesystem::remove_all(kept);
            std::filesystem::copy(sim.dir.path(), kept, std::filesystem::copy_options::recursive);
            std::ofstream(kept + "/taskwatchd.log") << daemon.stderr_text();
            std::printf("soak: files copied to %s\n", kept.c_str());
        }
    }

} // TEST_SUITE
