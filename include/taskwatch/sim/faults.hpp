// Fault injection rules: per request with a probability, or forced for the next N
// requests (N connections for tls-handshake), optionally only where the path contains
// a substring.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/sim/model.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::sim {

enum class fault_kind {
    latency,        ///< delay the answer by `delay`, or uniformly `delay`..`delay_max` (combines)
    throttle,       ///< 429 APIGW.0308 without Retry-After
    throttle_retry, ///< 429 APIGW.0308 with Retry-After: retry_after
    internal_error, ///< 500 ModelArts.0010
    bad_gateway,    ///< 502 APIGW.0202
    unavailable,    ///< 503 ModelArts.2951
    not_found,      ///< 400 ModelArts.4338 as if the task did not exist
    malformed_json, ///< 200 whose body is cut JSON
    truncate,       ///< the real response, cut in the body, then the connection closes
    reset,          ///< TCP reset instead of an answer
    hang,           ///< never answer
    tls_handshake,  ///< per connection: close during the TLS handshake
};
inline constexpr std::size_t fault_kind_count = 12;

/// "latency", "429", "429-retry-after", "500", "502", "503", "not-found", "malformed-json",
/// "truncate", "reset", "hang", "tls-handshake".
std::string_view to_string(fault_kind k) noexcept;
std::optional<fault_kind> parse_fault_kind(std::string_view s) noexcept;

struct fault_rule {
    fault_kind kind = fault_kind::latency;
    double ratio = 0;            ///< probability per request (per connection for tls-handshake)
    std::uint64_t remaining = 0; ///< > 0: forced for the next N, then the rule is dropped
    std::string path;            ///< only requests whose path contains this; empty = all
    std::chrono::milliseconds delay{1000}; ///< latency
    /// latency: when above `delay`, each request waits a uniform random time in delay..delay_max
    /// (what a real endpoint does; a fixed delay would answer in lockstep).
    std::chrono::milliseconds delay_max{0};
    unsigned retry_after = 1; ///< seconds, 429-retry-after
    std::uint64_t fired = 0;
};

/// Parses the command-line form KIND:WHEN[:OPTIONS], WHEN a ratio ("0.1") or "xN" (next N),
/// OPTIONS comma-separated path=SUBSTRING, delay=DURATION or delay=MIN..MAX (uniform per
/// request), retry_after=SECONDS.
expected<fault_rule, std::string> parse_fault_spec(std::string_view spec);
/// Parses {"kind":"429","ratio":0.1} / {"kind":"hang","count":2,"path":"/tasks/x"} /
/// {"kind":"latency","ratio":1,"delay_ms":250} / {"kind":"latency","ratio":1,"delay":"30ms..100ms"}
/// /
/// {"kind":"latency","ratio":1,"delay_ms":30,"delay_max_ms":100} /
/// {"kind":"429-retry-after","count":1,"retry_after":3}.
expected<fault_rule, std::string> parse_fault_json(const boost::json::value& v);
boost::json::object to_json(const fault_rule& r);

/// What to do to one request.
struct fault_decision {
    std::chrono::milliseconds delay{0};
    std::optional<fault_kind> kind;
    unsigned retry_after = 0;
};

class fault_plan {
public:
    explicit fault_plan(std::uint64_t seed)
        : rng_(seed) {}

    void add(fault_rule r) { rules_.push_back(std::move(r)); }
    void clear() { rules_.clear(); }
    const std::vector<fault_rule>& rules() const noexcept { return rules_; }

    /// Rules in order: latency rules add up; the first other rule that fires decides.
    fault_decision pick(std::string_view path);
    /// Whether the next accepted connection should fail its TLS handshake.
    bool pick_handshake_failure();

    /// Faults injected so far, by kind.
    const std::array<std::uint64_t, fault_kind_count>& injected() const noexcept {
        return injected_;
    }

private:
    bool fires(fault_rule& r);
    std::vector<fault_rule> rules_;
    std::array<std::uint64_t, fault_kind_count> injected_{};
    rng rng_;
};

} // namespace taskwatch::sim
