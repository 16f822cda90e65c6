#include "taskwatch/poll/pacing.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace taskwatch::poll {
namespace {

clock::duration seconds_to_duration(double s) {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
}

} // namespace

token_bucket::token_bucket(double rate_per_second, double burst, clock::time_point now)
    : rate_(std::max(rate_per_second, 1e-6))
    , burst_(std::max(burst, 1.0))
    , tokens_(burst_)
    , updated_(now) {}

void token_bucket::refill(clock::time_point now) {
    if (now <= updated_) return;
    const double earned = std::chrono::duration<double>(now - updated_).count() * rate_;
    tokens_ = std::min(burst_, tokens_ + earned);
    updated_ = now;
}

clock::time_point token_bucket::reserve(clock::time_point now) {
    refill(now);
    // Tokens may go negative: each reservation queues behind the previous ones.
    tokens_ -= 1.0;
    if (tokens_ >= 0) return std::max(now, updated_);
    return updated_ + seconds_to_duration(-tokens_ / rate_);
}

void token_bucket::set_rate(double rate_per_second, clock::time_point now,
                            std::optional<double> burst) {
    refill(now);
    rate_ = std::max(rate_per_second, 1e-6);
    burst_ = std::max(1.0, burst ? *burst : rate_);
    tokens_ = std::min(tokens_, burst_);
}

endpoint_throttle::endpoint_throttle(settings s, std::uint64_t seed)
    : s_(s)
    , rng_(seed) {}

void endpoint_throttle::on_throttled(clock::time_point now,
                                     std::optional<milliseconds> retry_after) {
    if (now < paused_until_) {
        // Sent before the pause began: one throttle, however many answers say so.
        if (retry_after) paused_until_ = std::max(paused_until_, now + *retry_after);
        return;
    }
    factor_at_throttle_ = std::max(s_.min_factor, rate_factor(now) / 2);
    last_throttle_ = now;
    ++streak_;
    milliseconds pause;
    if (retry_after) {
        pause = *retry_after;
    } else {
        // Exponential with full jitter between half and all of the step.
        const auto exp = std::min<unsigned>(streak_ - 1, 16);
        const auto step =
            std::min<std::int64_t>(s_.max_backoff.count(), s_.first_backoff.count() << exp);
        std::uniform_int_distribution<std::int64_t> d(step / 2, step);
        pause = milliseconds(d(rng_));
    }
    paused_until_ = std::max(paused_until_, now + pause);
}

void endpoint_throttle::on_success(clock::time_point now) {
    // A success after the pause ends the streak; the rate recovers with time (rate_factor).
    if (now >= paused_until_) streak_ = 0;
}

double endpoint_throttle::rate_factor(clock::time_point now) const noexcept {
    if (last_throttle_ == clock::time_point{}) return 1.0;
    const auto start = std::max(last_throttle_, paused_until_);
    if (now <= start) return factor_at_throttle_;
    const double steps = std::floor(std::chrono::duration<double>(now - start).count() /
                                    std::chrono::duration<double>(s_.recovery_every).count());
    if (steps >= 64) return 1.0;
    return std::min(1.0, factor_at_throttle_ * std::exp2(steps) + steps * s_.recovery_step);
}

credential_gate::credential_gate(settings s)
    : s_(s) {
    if (s_.max_failures == 0) s_.max_failures = 1;
}

std::optional<credential_gate::ticket> credential_gate::try_send(clock::time_point now) {
    if (proven_) return ticket{epoch_, false};
    if (probe_out_ || now < paused_until_) return std::nullopt;
    probe_out_ = true;
    return ticket{epoch_, true};
}

clock::time_point credential_gate::next_send(clock::time_point now) const noexcept {
    if (proven_) return now;
    if (probe_out_) return clock::time_point::max();
    return std::max(now, paused_until_);
}

bool credential_gate::on_success(ticket t) {
    if (t.probe) probe_out_ = false;
    if (t.epoch != epoch_ || proven_) return false; // signed before the latest 401 or reset
    proven_ = true;
    streak_ = 0;
    return std::exchange(rejected_since_proof_, false);
}

bool credential_gate::on_rejected(ticket t, clock::time_point now) {
    if (t.probe) probe_out_ = false;
    if (t.epoch != epoch_) return false; // in flight when the pause began: the same failure
    ++epoch_;
    proven_ = false;
    rejected_since_proof_ = true;
    ++streak_;
    failures_.push_back(now);
    while (failures_.size() > s_.max_failures)
        failures_.pop_front();
    const auto exp = std::min<unsigned>(streak_ - 1, 20);
    const auto pause = std::min<std::int64_t>(
        s_.max_pause.count(), std::max<std::int64_t>(s_.min_pause.count(), 1) << exp);
    paused_until_ = now + milliseconds(std::max(pause, s_.min_pause.count()));
    // The next rejection, if it comes, must leave the oldest of the last max_failures out of
    // its window.
    if (failures_.size() == s_.max_failures)
        paused_until_ = std::max(paused_until_, failures_.front() + s_.window);
    return true;
}

void credential_gate::on_no_verdict(ticket t) noexcept {
    if (t.probe) probe_out_ = false;
}

void credential_gate::reset(clock::time_point now) {
    ++epoch_;
    proven_ = false;
    streak_ = 0;
    failures_.clear();
    paused_until_ = now;
}

unsigned credential_gate::failures_within_window(clock::time_point now) const noexcept {
    unsigned n = 0;
    for (auto f : failures_)
        if (f <= now && now - f < s_.window) ++n;
    return n;
}

milliseconds failure_backoff(unsigned failures, milliseconds base, milliseconds max,
                             std::mt19937_64& rng) {
    const auto exp = std::min<unsigned>(failures == 0 ? 0 : failures - 1, 20);
    const auto raw = std::min<std::int64_t>(max.count(), base.count() << exp);
    std::uniform_real_distribution<double> d(0.75, 1.25);
    return milliseconds(static_cast<std::int64_t>(static_cast<double>(raw) * d(rng)));
}

milliseconds jittered(milliseconds interval, double jitter, std::mt19937_64& rng) {
    jitter = std::clamp(jitter, 0.0, 1.0);
    if (jitter == 0) return interval;
    std::uniform_real_distribution<double> d(1.0 - jitter, 1.0 + jitter);
    return milliseconds(static_cast<std::int64_t>(static_cast<double>(interval.count()) * d(rng)));
}

} // namespace taskwatch::poll
