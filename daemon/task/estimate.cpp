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

void progress_estimator::reset() noexcept {
    progress_sum_ = samples_sum_ = seconds_sum_ = longest_gap_ = 0;
    anchor_progress_ = 0;
    anchor_samples_ = -1;
    anchor_ms_ = 0;
    intervals_ = 0;
    phase_ = phase::idle;
    samples_known_ = true;
}

void progress_estimator::anchor_at(std::int64_t ms, double progress,
                                   std::optional<std::int64_t> annotated) {
    anchor_ms_ = ms;
    anchor_progress_ = progress;
    anchor_samples_ = annotated.value_or(-1);
}

void progress_estimator::observe(time_point t, std::optional<modelarts::task_status> status,
                                 std::optional<double> progress,
                                 std::optional<std::int64_t> annotated) {
    const auto ms = to_ms(t);
    if (phase_ != phase::idle && ms < last_ms_) return;
    last_ms_ = ms;
    if (status != modelarts::task_status::running || !progress) {
        if (status != modelarts::task_status::running) {
            reset();
            // Queuing or initializing now: its switch to running will be a change point.
            seen_before_running_ = status == modelarts::task_status::queuing ||
                                   status == modelarts::task_status::initializing;
        }
        return;
    }
    const double p = *progress;
    switch (phase_) {
    case phase::idle:
        reset();
        if (seen_before_running_) {
            phase_ = phase::anchored;
        } else {
            phase_ = phase::baseline;
        }
        seen_before_running_ = false;
        anchor_at(ms, p, annotated);
        return;
    case phase::baseline:
    case phase::anchored:
        break;
    }
    const bool samples_back = annotated && anchor_samples_ >= 0 && *annotated < anchor_samples_;
    if (p < anchor_progress_ || samples_back) {
        // Went back: a new run. This poll is its first change point.
        reset();
        phase_ = phase::anchored;
        anchor_at(ms, p, annotated);
        return;
    }
    const bool samples_moved = annotated && (anchor_samples_ < 0 || *annotated > anchor_samples_);
    if (p == anchor_progress_ && !samples_moved) return; // no change point
    if (phase_ == phase::baseline) {
        phase_ = phase::anchored;
        anchor_at(ms, p, annotated);
        return;
    }
    const double seconds = static_cast<double>(ms - anchor_ms_) / 1000.0;
    if (seconds <= 0) {
        anchor_at(ms, p, annotated);
        return;
    }
    const double weight = std::exp2(-seconds / static_cast<double>(half_life.count()));
    const bool samples_measured = annotated && anchor_samples_ >= 0;
    samples_known_ = samples_known_ && samples_measured;
    progress_sum_ = progress_sum_ * weight + (p - anchor_progress_);
    samples_sum_ = samples_sum_ * weight +
                   (samples_measured ? static_cast<double>(*annotated - anchor_samples_) : 0.0);
    seconds_sum_ = seconds_sum_ * weight + seconds;
    longest_gap_ = std::max(longest_gap_ * weight, seconds);
    if (intervals_ < std::numeric_limits<std::uint16_t>::max()) ++intervals_;
    anchor_at(ms, p, annotated);
}

rate_estimate progress_estimator::current() const {
    rate_estimate out;
    if (phase_ != phase::anchored || intervals_ == 0 || seconds_sum_ <= 0) return out;
    // A wait longer than the longest recent interval between change points lowers the rate.
    const double gap = static_cast<double>(last_ms_ - anchor_ms_) / 1000.0;
    const double factor = gap > longest_gap_ ? longest_gap_ / gap : 1.0;
    const double progress_rate = progress_sum_ / seconds_sum_ * factor;
    out.progress_per_second = progress_rate;
    if (samples_known_) out.samples_per_second = samples_sum_ / seconds_sum_ * factor;
    if (intervals_ >= min_intervals && progress_rate > 0) {
        const double remaining = std::max(0.0, 1.0 - anchor_progress_);
        const double eta_ms = static_cast<double>(anchor_ms_) + remaining / progress_rate * 1000.0;
        // Beyond what a time_point holds: no estimate rather than an overflow.
        if (eta_ms < 1e15) {
            const auto ms = std::max(static_cast<std::int64_t>(std::llround(eta_ms)), last_ms_);
            out.eta = time_point(std::chrono::milliseconds(ms));
        }
    }
    return out;
}

} // namespace taskwatch::task
