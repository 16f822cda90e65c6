#include "taskwatch/sim/faults.hpp"

#include "taskwatch/sim/options.hpp"

#include <charconv>
#include <cstdlib>

namespace taskwatch::sim {
namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, fault_kind_count> kind_names{
    "latency",        "429",      "429-retry-after", "500",  "502",           "503", "not-found",
    "malformed-json", "truncate", "reset",           "hang", "tls-handshake",
};

// Joins parts; used instead of "lit" + std::string(x), which GCC 12 misreports
// (-Wstringop-overflow).
std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto p : parts)
        out += p;
    return out;
}

std::string all_kinds() {
    std::string out;
    for (auto n : kind_names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}

bool parse_ratio(std::string_view s, double& out) {
    std::string copy(s);
    char* end = nullptr;
    out = std::strtod(copy.c_str(), &end);
    return !copy.empty() && end == copy.c_str() + copy.size() && out >= 0 && out <= 1;
}

template <class Int> bool parse_uint(std::string_view s, Int& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && p == s.data() + s.size();
}

// "250ms" (fixed) or "30ms..100ms" (uniform per request) into r.delay and r.delay_max.
expected<ok_t, std::string> parse_delay(std::string_view value, fault_rule& r) {
    const auto dots = value.find("..");
    auto lo = parse_duration(value.substr(0, dots));
    if (!lo) return unexpected("delay: " + lo.error());
    r.delay = *lo;
    r.delay_max = std::chrono::milliseconds{0};
    if (dots == std::string_view::npos) return ok;
    auto hi = parse_duration(value.substr(dots + 2));
    if (!hi) return unexpected("delay: " + hi.error());
    if (*hi < *lo)
        return unexpected(cat({"delay '", value, "': the range's end is below its start"}));
    r.delay_max = *hi;
    return ok;
}

} // namespace

std::string_view to_string(fault_kind k) noexcept {
    return kind_names[static_cast<std::size_t>(k)];
}

std::optional<fault_kind> parse_fault_kind(std::string_view s) noexcept {
    for (std::size_t i = 0; i < kind_names.size(); ++i)
        if (kind_names[i] == s) return static_cast<fault_kind>(i);
    return std::nullopt;
}

expected<fault_rule, std::string> parse_fault_spec(std::string_view spec) {
    auto bad = [&](std::string why) {
        return unexpected(cat({"--fault '", spec, "': "}) + std::move(why));
    };
    auto c1 = spec.find(':');
    if (c1 == std::string_view::npos) return bad("expected KIND:RATIO or KIND:xN");
    auto kind = parse_fault_kind(spec.substr(0, c1));
    if (!kind) {
        std::string why = "unknown kind '"; // built step by step: GCC 12 misreads "lit" + string&&
        why += spec.substr(0, c1);
        why += "' (known: " + all_kinds() + ")";
        return bad(std::move(why));
    }
    fault_rule r;
    r.kind = *kind;
    auto rest = spec.substr(c1 + 1);
    auto c2 = rest.find(':');
    auto when = rest.substr(0, c2);
    if (!when.empty() && when.front() == 'x') {
        if (!parse_uint(when.substr(1), r.remaining) || r.remaining == 0)
            return bad(cat({"'", when, "' is not xN with N >= 1"}));
    } else if (!parse_ratio(when, r.ratio)) {
        return bad(cat({"'", when, "' is not a ratio between 0 and 1"}));
    }
    if (c2 == std::string_view::npos) return r;
    auto opts = rest.substr(c2 + 1);
    while (!opts.empty()) {
        auto comma = opts.find(',');
        auto kv = opts.substr(0, comma);
        opts = comma == std::string_view::npos ? std::string_view{} : opts.substr(comma + 1);
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) return bad(cat({"option '", kv, "' is not key=value"}));
        auto key = kv.substr(0, eq), value = kv.substr(eq + 1);
        if (key == "path") {
            r.path = std::string(value);
        } else if (key == "delay") {
            auto d = parse_delay(value, r);
            if (!d) return bad(d.error());
        } else if (key == "retry_after") {
            if (!parse_uint(value, r.retry_after))
                return bad(cat({"retry_after '", value, "' is not whole seconds"}));
        } else {
            return bad(cat({"unknown option '", key, "' (known: path, delay, retry_after)"}));
        }
    }
    return r;
}

expected<fault_rule, std::string> parse_fault_json(const json::value& v) {
    if (!v.is_object()) return unexpected(std::string("a fault must be a JSON object"));
    const auto& o = v.get_object();
    fault_rule r;
    auto* kind = o.if_contains("kind");
    if (!kind || !kind->is_string())
        return unexpected("fault: \"kind\" (string) is required; known: " + all_kinds());
    auto k = parse_fault_kind(kind->get_string());
    if (!k)
        return unexpected("fault: unknown kind '" + std::string(kind->get_string()) +
                          "'; known: " + all_kinds());
    r.kind = *k;
    if (auto* ratio = o.if_contains("ratio")) {
        if (!ratio->is_number() || ratio->to_number<double>() < 0 || ratio->to_number<double>() > 1)
            return unexpected(std::string("fault: \"ratio\" must be a number from 0 to 1"));
        r.ratio = ratio->to_number<double>();
    }
    if (auto* count = o.if_contains("count")) {
        if (!count->is_int64() || count->get_int64() < 1)
            return unexpected(std::string("fault: \"count\" must be an integer >= 1"));
        r.remaining = static_cast<std::uint64_t>(count->get_int64());
    }
    if (r.ratio == 0 && r.remaining == 0)
        return unexpected(
            std::string("fault: give \"ratio\" (0..1) or \"count\" (next N requests)"));
    if (auto* path = o.if_contains("path")) {
        if (!path->is_string()) return unexpected(std::string("fault: \"path\" must be a string"));
        r.path = std::string(path->get_string());
    }
    if (auto* d = o.if_contains("delay_ms")) {
        if (!d->is_int64() || d->get_int64() < 0)
            return unexpected(std::string("fault: \"delay_ms\" must be an integer >= 0"));
        r.delay = std::chrono::milliseconds(d->get_int64());
    }
    if (auto* d = o.if_contains("delay")) {
        if (!d->is_string())
            return unexpected(std::string(
                "fault: \"delay\" must be a duration string like \"250ms\" or \"30ms..100ms\""));
        auto parsed = parse_delay(d->get_string(), r);
        if (!parsed) return unexpected("fault: " + parsed.error());
    }
    if (auto* d = o.if_contains("delay_max_ms")) {
        if (!d->is_int64() || d->get_int64() < r.delay.count())
            return unexpected(
                std::string("fault: \"delay_max_ms\" must be an integer >= the delay's start"));
        r.delay_max = std::chrono::milliseconds(d->get_int64());
    }
    if (auto* ra = o.if_contains("retry_after")) {
        if (!ra->is_int64() || ra->get_int64() < 0)
            return unexpected(std::string("fault: \"retry_after\" must be whole seconds >= 0"));
        r.retry_after = static_cast<unsigned>(ra->get_int64());
    }
    return r;
}

json::object to_json(const fault_rule& r) {
    json::object o{{"kind", to_string(r.kind)},
                   {"ratio", r.ratio},
                   {"count", r.remaining},
                   {"path", r.path},
                   {"fired", r.fired}};
    if (r.kind == fault_kind::latency) {
        o["delay_ms"] = r.delay.count();
        if (r.delay_max > r.delay) o["delay_max_ms"] = r.delay_max.count();
    }
    if (r.kind == fault_kind::throttle_retry) o["retry_after"] = r.retry_after;
    return o;
}

bool fault_plan::fires(fault_rule& r) {
    if (r.remaining > 0) {
        --r.remaining;
        return true;
    }
    return r.ratio > 0 && (r.ratio >= 1 || rng_.uniform() < r.ratio);
}

fault_decision fault_plan::pick(std::string_view path) {
    fault_decision d;
    if (rules_.empty()) return d;
    bool exhausted = false;
    for (auto& r : rules_) {
        if (r.kind == fault_kind::tls_handshake) continue;
        if (!r.path.empty() && path.find(r.path) == std::string_view::npos) continue;
        if (r.kind != fault_kind::latency && d.kind) continue;
        const bool counted = r.remaining > 0;
        if (!fires(r)) continue;
        if (counted && r.remaining == 0) exhausted = true;
        ++r.fired;
        ++injected_[static_cast<std::size_t>(r.kind)];
        if (r.kind == fault_kind::latency) {
            d.delay += r.delay;
            if (r.delay_max > r.delay)
                d.delay += std::chrono::milliseconds(static_cast<std::int64_t>(
                    rng_.below(static_cast<std::uint64_t>((r.delay_max - r.delay).count()) + 1)));
        } else {
            d.kind = r.kind;
            d.retry_after = r.retry_after;
        }
    }
    if (exhausted)
        std::erase_if(rules_, [](const fault_rule& r) { return r.ratio == 0 && r.remaining == 0; });
    return d;
}

bool fault_plan::pick_handshake_failure() {
    bool fired = false, exhausted = false;
    for (auto& r : rules_) {
        if (r.kind != fault_kind::tls_handshake) continue;
        const bool counted = r.remaining > 0;
        if (!fires(r)) continue;
        if (counted && r.remaining == 0) exhausted = true;
        ++r.fired;
        ++injected_[static_cast<std::size_t>(r.kind)];
        fired = true;
        break;
    }
    if (exhausted)
        std::erase_if(rules_, [](const fault_rule& r) { return r.ratio == 0 && r.remaining == 0; });
    return fired;
}

} // namespace taskwatch::sim
