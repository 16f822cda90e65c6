// When a failed webhook delivery is tried again: exponential backoff with full jitter, capped,
// and the receiver's Retry-After honoured; and which answers are worth trying again at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace taskwatch::notify {

using std::chrono::milliseconds;

/// The schedule: attempt n (1 = the first retry) waits a uniform random time in
/// [0, min(cap, base * 2^(n-1))] ("full jitter"): retries of many events spread out instead
/// of arriving together.
struct backoff_policy {
    milliseconds base{2'000};    ///< the first retry comes within 2 s
    milliseconds cap{3'600'000}; ///< never more than an hour apart
    /// The longest Retry-After honoured; a larger one is cut to this.
    milliseconds max_retry_after{3'600'000};
};

/// The upper bound of the wait before retry `attempt` (1-based).
milliseconds backoff_ceiling(const backoff_policy& p, std::uint32_t attempt);
/// A wait before retry `attempt`, drawn from [0, backoff_ceiling()] with `rng`; at least
/// `retry_after` when the receiver said when to come back (429, 503), up to max_retry_after.
milliseconds next_delay(const backoff_policy& p, std::uint32_t attempt,
                        std::optional<milliseconds> retry_after, std::mt19937_64& rng);

/// A Retry-After value: delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00
/// GMT", read against `now_unix_s`); nullopt when it is neither. A date in the past is 0.
std::optional<milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s);

/// What a receiver's HTTP status means for the event.
enum class answer_kind {
    accepted,  ///< 2xx
    retry,     ///< 408, 425, 429, 5xx and every transport failure: try again later
    permanent, ///< other 4xx (and 1xx/3xx): this event will never be accepted: dead letter
    gone,      ///< 410: the receiver says stop; the webhook is disabled until the next reload
};
answer_kind classify_status(unsigned status);

} // namespace taskwatch::notify
