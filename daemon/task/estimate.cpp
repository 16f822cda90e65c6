// Rates and ETA from change points (see estimate.hpp).
#include "taskwatch/task/estimate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace taskwatch::task {

namespace {

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

} // namespace

void progress_estimator::run::anchor_at(std::int64_t ms, double progress,
                                        std::optional<std::int64_t> annotated) {
    anchor_ms = ms;
    anchor_progress = progress;
    anchor_samples = annotated.value_or(-1);
}

void progress_estimator::observe(time_point t, std::optional<modelarts::task_status> status,
                                 std::optional<double> progress,
                                 std::optional<std::int64_t> annotated) {
    const auto ms = to_ms(t);
    if (run_) {
        if (ms < run_->last_ms) return;
        run_->last_ms = ms;
    }
    if (status != modelarts::task_status::running || !progress) {
        if (status != modelarts::task_status::running) {
            run_.reset();
            // Queuing or initializing now: its switch to running will be a change point.
            seen_before_running_ = status == modelarts::task_status::queuing ||
                                   status == modelarts::task_status::initializing;
        }
        return;
    }
    const double p = *progress;
    // A run starts: anchored at once if the task was seen before it ran.
    const auto start = [&](bool anchored) {
        run_ = run{};
        run_->anchored = anchored;
        run_->last_ms = ms;
        run_->anchor_at(ms, p, annotated);
    };
    if (!run_) {
        start(seen_before_running_);
        seen_before_running_ = false;
        return;
    }
    auto& r = *run_;
    const bool samples_back = annotated && r.anchor_samples >= 0 && *annotated < r.anchor_samples;
    if (p < r.anchor_progress || samples_back) {
        // Went back: a new run. This poll is its first change point.
        start(true);
        return;
    }
    const bool samples_moved = annotated && (r.anchor_samples < 0 || *annotated > r.anchor_samples);
    if (p == r.anchor_progress && !samples_moved) return; // no change point
    if (!r.anchored) {
        r.anchored = true;
        r.anchor_at(ms, p, annotated);
        return;
    }
    const double seconds = static_cast<double>(ms - r.anchor_ms) / 1000.0;
    if (seconds <= 0) {
        r.anchor_at(ms, p, annotated);
        return;
    }
    const double weight = std::exp2(-seconds / static_cast<double>(half_life.count()));
    const bool samples_measured = annotated && r.anchor_samples >= 0;
    r.samples_known = r.samples_known && samples_measured;
    r.progress_sum = r.progress_sum * weight + (p - r.anchor_progress);
    r.samples_sum = r.samples_sum * weight +
                    (samples_measured ? static_cast<double>(*annotated - r.anchor_samples) : 0.0);
    r.seconds_sum = r.seconds_sum * weight + seconds;
    r.longest_gap = std::max(r.longest_gap * weight, seconds);
    if (r.intervals < std::numeric_limits<std::uint16_t>::max()) ++r.intervals;
    r.anchor_at(ms, p, annotated);
}

rate_estimate progress_estimator::current() const {
    rate_estimate out;
    if (!run_ || !run_->anchored || run_->intervals == 0 || run_->seconds_sum <= 0) return out;
    const auto& r = *run_;
    // A wait longer than the longest recent interval between change points lowers the rate.
    const double gap = static_cast<double>(r.last_ms - r.anchor_ms) / 1000.0;
    const double factor = gap > r.longest_gap ? r.longest_gap / gap : 1.0;
    const double progress_rate = r.progress_sum / r.seconds_sum * factor;
    out.progress_per_second = progress_rate;
    if (r.samples_known) out.samples_per_second = r.samples_sum / r.seconds_sum * factor;
    if (r.intervals >= min_intervals && progress_rate > 0) {
        const double remaining = std::max(0.0, 1.0 - r.anchor_progress);
        const double eta_ms = static_cast<double>(r.anchor_ms) + remaining / progress_rate * 1000.0;
        // Beyond what a time_point holds: no estimate rather than an overflow.
        if (eta_ms < 1e15) {
            const auto eta = std::max(static_cast<std::int64_t>(std::llround(eta_ms)), r.last_ms);
            out.eta = time_point(std::chrono::milliseconds(eta));
        }
    }
    return out;
}

} // namespace taskwatch::task
