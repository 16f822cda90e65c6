#include "taskwatch/poll/stats.hpp"

#include <doctest/doctest.h>

using taskwatch::poll::latency_histogram;

TEST_CASE("latency histogram puts a value on a bucket's upper bound into that bucket") {
    latency_histogram h;
    h.observe(0.005);  // le=0.005
    h.observe(0.0051); // le=0.01
    h.observe(10.0);   // le=10
    h.observe(31.0);   // +Inf
    CHECK(h.counts[0] == 1);
    CHECK(h.counts[1] == 1);
    CHECK(h.counts[10] == 1);
    CHECK(h.counts[latency_histogram::bounds.size()] == 1);
    CHECK(h.count == 4);
    CHECK(h.sum == doctest::Approx(41.0101));
}
