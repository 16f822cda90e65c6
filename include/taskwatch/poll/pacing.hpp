// How fast to poll: the global request budget, the endpoint's reaction to throttling and to
// rejected credentials, the per-task back-off after failures, and jittered intervals. Pure:
// the caller passes `now`.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
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

/// May a signed request go to this endpoint now? The gateway locks a key after 5 bad
/// signatures, so while the credentials are not proven (at start, after new credentials, after
/// a 401) at most ONE request is in flight: the probe. A 401 pauses the endpoint for
/// `min_pause` doubling to `max_pause`, and never lets more than `max_failures` rejected
/// requests happen within any `window`: the next probe waits until `window` after the first
/// of the last `max_failures` failures. One success (or an answer only a valid signature gets,
/// such as 404) proves the credentials: then requests go freely. Answers to requests sent
/// before the latest 401 or reset (older tickets) change nothing: they are neither new
/// failures nor proof.
class credential_gate {
public:
    struct settings {
        milliseconds min_pause{30'000};
        milliseconds max_pause{600'000};
        milliseconds window{300'000};
        unsigned max_failures = 3;
    };
    /// Handed out with each allowed request; reported back with its answer.
    struct ticket {
        std::uint64_t epoch = 0;
        bool probe = false;
    };

    explicit credential_gate(settings s);
    credential_gate()
        : credential_gate(settings{}) {}

    /// Takes the right to send one request at `now`; nothing while paused or while the probe
    /// is in flight.
    std::optional<ticket> try_send(clock::time_point now);
    /// When try_send() may succeed: `now` once proven, the pause's end, or time_point::max()
    /// while the probe is in flight (wait for its answer).
    clock::time_point next_send(clock::time_point now) const noexcept;

    /// The request was accepted. True when this ends a spell of rejections, even across a
    /// reset (log it).
    bool on_success(ticket t);
    /// The request was rejected (401). True when this is a new failure that began a pause
    /// (log it); false for answers to requests sent before the latest failure or reset.
    bool on_rejected(ticket t, clock::time_point now);
    /// No verdict on the credentials (timeout, 5xx, throttled, request dropped unsent): the
    /// probe's place is free again.
    void on_no_verdict(ticket t) noexcept;
    /// New credentials: a new key, nothing known about it; a probe may go at once (after the
    /// current probe's answer, if one is in flight).
    void reset(clock::time_point now);

    /// False once a 401 or a reset came after the ticket was handed out: a request not yet
    /// sent must not go with it (release it with on_no_verdict()).
    bool current(ticket t) const noexcept { return t.epoch == epoch_; }
    bool proven() const noexcept { return proven_; }
    /// End of the current pause (meaningful while not proven).
    clock::time_point paused_until() const noexcept { return paused_until_; }
    /// Rejections within `window` before `now` (at most max_failures remembered).
    unsigned failures_within_window(clock::time_point now) const noexcept;
    const settings& limits() const noexcept { return s_; }

private:
    settings s_;
    std::uint64_t epoch_ = 0;
    bool proven_ = false;
    bool probe_out_ = false;
    unsigned streak_ = 0;
    bool rejected_since_proof_ = false; ///< a 401 since the last success (resets keep it)
    clock::time_point paused_until_{};
    std::deque<clock::time_point> failures_; ///< the latest, at most max_failures
};

/// Delay before a task that failed `failures` times in a row (>= 1) is polled again:
/// base * 2^(failures-1), capped at `max`, with +-25% jitter from `rng`.
milliseconds failure_backoff(unsigned failures, milliseconds base, milliseconds max,
                             std::mt19937_64& rng);

/// `interval` spread by +-jitter (0..1): uniform in [interval*(1-jitter), interval*(1+jitter)].
milliseconds jittered(milliseconds interval, double jitter, std::mt19937_64& rng);

} // namespace taskwatch::poll
