// How fast to poll: the global request budget, the endpoint's reaction to throttling, the
// per-task back-off after failures, and jittered intervals. Pure: the caller passes `now`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace taskwatch::poll {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// `max_requests_per_second` as a token bucket. reserve() hands out send times in order, so
/// callers sleep until their slot instead of spinning: the rate holds over any window.
class token_bucket {
public:
    /// `burst` tokens may be spent at once after a quiet spell (at least 1).
    token_bucket(double rate_per_second, double burst, clock::time_point now);

    /// Takes one token; returns when the request may go (now, or later when over budget).
    clock::time_point reserve(clock::time_point now);
    /// Changes the rate. The burst follows it (one second's worth, at least 1), so a slowed
    /// bucket cannot release a saved-up burst at the old rate.
    /// `burst` overrides that (at least 1): a throttled endpoint gets requests one at a time.
    void set_rate(double rate_per_second, clock::time_point now, std::optional<double> burst = {});
    double rate() const noexcept { return rate_; }

private:
    void refill(clock::time_point now);
    double rate_;
    double burst_;
    double tokens_;
    clock::time_point updated_;
};

/// An endpoint's answer to throttling (429, APIGW.0308, ModelArts.2799/4206/6101): pause the
/// whole endpoint for Retry-After, or for an exponential back-off with jitter when none is
/// given; halve the allowed rate at each throttle; then recover gradually, doubling the rate
/// for every `recovery_every` without a throttle (and adding `recovery_step` of the maximum,
/// so that recovery from the floor does not crawl). Answers that arrive while a pause is on
/// were sent before it: they may lengthen the pause (Retry-After) but count as one throttle.
class endpoint_throttle {
public:
    struct settings {
        milliseconds first_backoff{1000};
        milliseconds max_backoff{60'000};
        double min_factor = 1.0 / 64;
        double recovery_step = 0.05;
        milliseconds recovery_every{2'000};
    };

    explicit endpoint_throttle(settings s, std::uint64_t seed = 1);
    endpoint_throttle()
        : endpoint_throttle(settings{}) {}

    /// A throttling answer arrived at `now`.
    void on_throttled(clock::time_point now, std::optional<milliseconds> retry_after);
    /// A request succeeded at `now`.
    void on_success(clock::time_point now);

    /// No request to this endpoint before this time.
    clock::time_point paused_until() const noexcept { return paused_until_; }
    /// Share of the configured rate allowed now, in [min_factor, 1].
    double rate_factor(clock::time_point now) const noexcept;
    unsigned consecutive_throttles() const noexcept { return streak_; }

private:
    settings s_;
    std::mt19937_64 rng_;
    clock::time_point paused_until_{};
    clock::time_point last_throttle_{};
    double factor_at_throttle_ = 1.0;
    unsigned streak_ = 0;
};

/// Delay before a task that failed `failures` times in a row (>= 1) is polled again:
/// base * 2^(failures-1), capped at `max`, with +-25% jitter from `rng`.
milliseconds failure_backoff(unsigned failures, milliseconds base, milliseconds max,
                             std::mt19937_64& rng);

/// `interval` spread by +-jitter (0..1): uniform in [interval*(1-jitter), interval*(1+jitter)].
milliseconds jittered(milliseconds interval, double jitter, std::mt19937_64& rng);

} // namespace taskwatch::poll
