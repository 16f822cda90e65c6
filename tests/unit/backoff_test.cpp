// notify/backoff: the retry schedule (exponential, full jitter, capped), Retry-After, and what
// each HTTP status means for an event.
#include "taskwatch/notify/backoff.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace taskwatch::notify;
using namespace std::chrono_literals;

TEST_CASE("the ceiling doubles from 2 s per retry and stops at an hour") {
    const backoff_policy p;
    CHECK(backoff_ceiling(p, 1) == 2s);
    CHECK(backoff_ceiling(p, 2) == 4s);
    CHECK(backoff_ceiling(p, 3) == 8s);
    CHECK(backoff_ceiling(p, 11) == 2048s);
    CHECK(backoff_ceiling(p, 12) == 3600s);
    CHECK(backoff_ceiling(p, 1000) == 3600s); // no overflow at max_attempts
}

TEST_CASE("each delay is drawn from the whole range [0, ceiling] (full jitter)") {
    const backoff_policy p;
    std::mt19937_64 rng(42);
    for (std::uint32_t attempt : {1u, 4u, 20u}) {
        CAPTURE(attempt);
        milliseconds lo = milliseconds::max(), hi{0};
        for (int i = 0; i < 2000; ++i) {
            auto d = next_delay(p, attempt, std::nullopt, rng);
            CHECK(d >= 0ms);
            CHECK(d <= backoff_ceiling(p, attempt));
            lo = std::min(lo, d);
            hi = std::max(hi, d);
        }
        // Spread over the range, not bunched at its top (as "ceiling + small jitter" would be).
        CHECK(lo < backoff_ceiling(p, attempt) / 10);
        CHECK(hi > backoff_ceiling(p, attempt) * 9 / 10);
    }
}

TEST_CASE("Retry-After is honoured as a floor, up to an hour") {
    const backoff_policy p;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 100; ++i)
        CHECK(next_delay(p, 1, 30s, rng) == 30s); // above the first ceiling of 2 s
    CHECK(next_delay(p, 1, 100h, rng) == 1h);
    CHECK(parse_retry_after("120", 0) == 120s);
    CHECK(parse_retry_after(" 0 ", 0) == 0s);
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470) == 10s);
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490) == 0s); // past
    CHECK_FALSE(parse_retry_after("soon", 0));
    CHECK_FALSE(parse_retry_after("", 0));
    CHECK_FALSE(parse_retry_after("-5", 0));
    CHECK(*parse_retry_after("99999999999999999999999", 0) >= 1h); // capped by the caller
}

TEST_CASE("2xx is accepted - 408, 425, 429 and 5xx are retried - 410 stops - other 4xx are final") {
    CHECK(classify_status(200) == answer_kind::accepted);
    CHECK(classify_status(204) == answer_kind::accepted);
    for (unsigned s : {408u, 425u, 429u, 500u, 502u, 503u, 504u})
        CHECK(classify_status(s) == answer_kind::retry);
    CHECK(classify_status(410) == answer_kind::gone);
    for (unsigned s : {400u, 401u, 403u, 404u, 413u, 301u, 100u})
        CHECK(classify_status(s) == answer_kind::permanent);
}
