// The estimator driven by recorded progress sequences (steady, coarse steps, bursty, stalled,
// restarted). Every expected value below is worked out from the sequence by hand, following
// the rules written in estimate.hpp.
#include "taskwatch/task/estimate.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

using namespace taskwatch::task;
using taskwatch::modelarts::task_status;
using namespace std::chrono_literals;

namespace {

using time_point = progress_estimator::time_point;
const time_point t0 = std::chrono::sys_days{std::chrono::year{2026} / 12 / 6};

time_point at_s(double seconds) {
    return t0 + std::chrono::milliseconds(std::llround(seconds * 1000));
}

// Relative closeness for rates of 1e-5..1e-3 (doctest's Approx adds an absolute 1e-5 margin).
bool near(std::optional<double> got, double want) {
    return got && std::fabs(*got - want) <= 1e-9 * std::fabs(want);
}
// An ETA within a millisecond of t0 + `seconds` (times are kept in milliseconds).
bool eta_near(const rate_estimate& e, double seconds) {
    return e.eta && std::chrono::abs(*e.eta - at_s(seconds)) <= 1ms;
}

void run(progress_estimator& est, double seconds, double progress,
         std::optional<std::int64_t> annotated = std::nullopt,
         task_status status = task_status::running) {
    est.observe(at_s(seconds), status, progress, annotated);
}

// Progress in steps of 1% held as whole percents, as the API sends them.
double pct(int n) {
    return n / 100.0;
}

} // namespace

TEST_CASE("estimate: steady progress gives its exact rate, an ETA after two intervals") {
    progress_estimator est;
    est.observe(at_s(-30), task_status::queuing, 0.0, 0);
    run(est, 0, 0.0, 0); // the switch to running: the first change point
    CHECK_FALSE(est.current().progress_per_second);

    run(est, 30, pct(1), 5); // one interval: 1% and 5 samples in 30 s
    auto e = est.current();
    CHECK(near(e.progress_per_second, 0.01 / 30));
    CHECK(near(e.samples_per_second, 5.0 / 30));
    CHECK_FALSE(e.eta); // one interval is not enough

    run(est, 60, pct(2), 10);
    // Two intervals: 98% left at 1% per 30 s from t=60 -> 60 + 2940 s.
    CHECK(eta_near(est.current(), 3000));

    for (int i = 3; i <= 20; ++i)
        run(est, 30.0 * i, pct(i), 5 * i);
    e = est.current();
    CHECK(near(e.progress_per_second, 0.01 / 30));
    CHECK(near(e.samples_per_second, 5.0 / 30));
    CHECK(eta_near(e, 3000)); // steady: the same ETA at every poll
}

TEST_CASE("estimate: coarse steps between polls keep the ETA still between the steps") {
    // Polled every 60 s; the API moves 10% every 600 s. First seen already running at 20%:
    // that poll is in the middle of a step, so the first change point is the first step.
    progress_estimator est;
    run(est, 0, 0.2);
    for (int s = 60; s < 600; s += 60)
        run(est, s, 0.2);
    run(est, 600, 0.3);
    CHECK_FALSE(est.current().progress_per_second); // no interval measured yet

    for (int s = 660; s < 1200; s += 60)
        run(est, s, 0.3);
    run(est, 1200, 0.4);
    CHECK(near(est.current().progress_per_second, 0.1 / 600));
    CHECK_FALSE(est.current().eta);

    for (int s = 1260; s < 1800; s += 60)
        run(est, s, 0.4);
    run(est, 1800, 0.5);
    // 50% left at 10% per 600 s from the step at 1800 s: 1800 + 3000.
    CHECK(eta_near(est.current(), 4800));
    // Polls without a step, no longer than the steps' interval apart: nothing moves.
    for (int s = 1860; s <= 2400; s += 60) {
        run(est, s, 0.5);
        CAPTURE(s);
        CHECK(near(est.current().progress_per_second, 0.1 / 600));
        CHECK(eta_near(est.current(), 4800));
    }
    // No samples were ever sent: no samples rate, the progress rate stands alone.
    CHECK_FALSE(est.current().samples_per_second);
}

TEST_CASE("estimate: bursts are averaged over time with the half-life's decay") {
    // Per 600 s: +4% in the first 60 s, then +2% over the next 540 s, polled every 60 s.
    progress_estimator est;
    est.observe(at_s(-60), task_status::initializing, 0.0, std::nullopt);
    run(est, 0, 0.0);
    int p = 0;
    const double w540 = std::exp2(-540.0 / 600); // an interval's weight 540 s later
    // At the end of each 540 s interval the sums are c * (A * w540 + B) for some c (each
    // period multiplies what came before by w60 * w540 = 1/2), so the rate is the same there.
    const double at_period_end = (0.04 * w540 + 0.02) / (60 * w540 + 540); // 7.24e-5
    // The highest it gets: after the second period's burst (the first period's sums times
    // w60, plus the burst): 1.32e-4. A per-poll rate would swing from 0 to 6.7e-4.
    const double w60 = std::exp2(-60.0 / 600);
    const double after_second_burst =
        ((0.04 * w540 + 0.02) * w60 + 0.04) / ((60 * w540 + 540) * w60 + 60);
    for (int period = 0; period < 6; ++period) {
        const int start = 600 * period;
        p += 4;
        run(est, start + 60, pct(p));
        for (int s = start + 120; s < start + 600; s += 60) {
            run(est, s, pct(p));
            if (period == 0) continue;
            // Waiting no longer than the pauses before: the rate stays around the mean 1e-4.
            CAPTURE(s);
            const auto rate = est.current().progress_per_second;
            REQUIRE(rate);
            CHECK(*rate >= at_period_end);
            CHECK(*rate <= after_second_burst * (1 + 1e-9));
            if (period == 1) CHECK(near(rate, after_second_burst));
        }
        p += 2;
        run(est, start + 600, pct(p));
        CAPTURE(period);
        CHECK(near(est.current().progress_per_second, at_period_end));
    }
    // 6 periods: 36% done, 64% left at the rate just checked, from t = 3600.
    CHECK(eta_near(est.current(), 3600 + 0.64 / at_period_end));
}

TEST_CASE("estimate: a stall lowers the rate by longest interval / wait, the ETA moves later") {
    progress_estimator est;
    est.observe(at_s(-10), task_status::queuing, 0.0, 0);
    run(est, 0, 0.0, 0);
    for (int i = 1; i <= 10; ++i)
        run(est, 60.0 * i, pct(i), 10 * i); // 1% and 10 samples per minute, to 10% at 600 s
    CHECK(eta_near(est.current(), 600 + 0.9 / (0.01 / 60))); // 6000 s

    for (int s = 660; s <= 1200; s += 60)
        run(est, s, pct(10), 100); // stalled for 600 s: ten times the longest interval (60 s)
    const auto e = est.current();
    CHECK(near(e.progress_per_second, 0.01 / 60 / 10));
    CHECK(near(e.samples_per_second, 10.0 / 60 / 10));
    // From the last step at 600 s, 90% left at a tenth of the rate: 600 + 54,000 s.
    CHECK(eta_near(e, 54600));

    run(est, 1260, pct(11), 110); // moving again: the 660 s wait is one interval among ten
    const auto after = est.current();
    REQUIRE(after.progress_per_second);
    CHECK(*after.progress_per_second < 0.01 / 60);
    CHECK(*after.progress_per_second > 0.01 / 60 / 10);
}

TEST_CASE("estimate: progress going back or a new run starts afresh") {
    progress_estimator est;
    est.observe(at_s(-10), task_status::queuing, 0.0, 0);
    for (int i = 0; i <= 50; ++i)
        run(est, 60.0 * i, pct(i), 10 * i);
    REQUIRE(est.current().eta);

    SUBCASE("progress goes back: that poll is the new run's first change point") {
        run(est, 3060, 0.0, 0);
        CHECK_FALSE(est.current().progress_per_second);
        CHECK_FALSE(est.current().eta);
        run(est, 3120, pct(2), 40); // 2% per 60 s now
        CHECK(near(est.current().progress_per_second, 0.02 / 60));
        CHECK_FALSE(est.current().eta);
        run(est, 3180, pct(4), 80);
        // 96% left at 2% per minute from 3180 s.
        CHECK(eta_near(est.current(), 3180 + 0.96 / (0.02 / 60)));
    }
    SUBCASE("the annotated count goes back at the same progress") {
        run(est, 3060, pct(50), 3);
        CHECK_FALSE(est.current().progress_per_second);
    }
    SUBCASE("finished, then queued and run again") {
        run(est, 3060, 1.0, 1000, task_status::succeeded);
        CHECK_FALSE(est.current().progress_per_second);
        CHECK_FALSE(est.current().eta);
        run(est, 3600, 0.0, 0, task_status::queuing);
        run(est, 3660, 0.0, 0); // running again: a change point at once
        run(est, 3720, pct(3), 30);
        CHECK(near(est.current().progress_per_second, 0.03 / 60));
        CHECK(near(est.current().samples_per_second, 30.0 / 60));
    }
}

TEST_CASE("estimate: what it does not use") {
    progress_estimator est;
    SUBCASE("a running task without progress has no rate") {
        est.observe(at_s(0), task_status::queuing, std::nullopt, std::nullopt);
        for (int i = 0; i < 5; ++i)
            est.observe(at_s(60 * i), task_status::running, std::nullopt, 10 * i);
        CHECK(est.current() == rate_estimate{});
    }
    SUBCASE("an observation older than the last is ignored") {
        est.observe(at_s(-1), task_status::initializing, 0.0, 0);
        run(est, 0, 0.0, 0);
        run(est, 60, pct(1), 10);
        const auto before = est;
        run(est, 30, pct(5), 50);
        CHECK(est == before);
    }
    SUBCASE("done while still running: the ETA is the last poll") {
        est.observe(at_s(-1), task_status::initializing, 0.0, 0);
        run(est, 0, 0.0);
        run(est, 60, 0.5);
        run(est, 120, 1.0);
        CHECK(eta_near(est.current(), 120));
    }
}

TEST_CASE("estimate: a pointer and a flag per task, its numbers only while it runs") {
    // 10,000 tasks are watched at once: the estimator is part of each one's published state.
    CHECK(sizeof(progress_estimator) <= 16);
}

TEST_CASE("estimate: a copy taken mid-run goes on without the original") {
    progress_estimator est;
    est.observe(at_s(-1), task_status::initializing, 0.0, 0);
    run(est, 0, 0.0);
    run(est, 60, 0.1);
    const auto before = est;
    auto copy = est;
    run(copy, 120, 0.2);
    CHECK(copy.current().eta);
    CHECK(est == before);
    CHECK_FALSE(est.current().eta); // one interval: not enough for an ETA
    CHECK(near(est.current().progress_per_second, 0.1 / 60));
}
