// Webhook delivery counters: the notifier increments them, GET /metrics reads them
// (taskwatch_webhook_deliveries_total, taskwatch_webhook_delivery_failures_total).
// Not thread-safe: both sides run on the daemon's io_context thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace taskwatch::metrics {

class delivery_counters {
public:
    /// The receiver accepted an event.
    void count_delivery(std::string_view webhook) { ++delivered_[std::string(webhook)]; }
    /// One attempt failed; `reason` is a short class such as "timeout" or "http_5xx".
    void count_failure(std::string_view webhook, std::string_view reason) {
        ++failed_[{std::string(webhook), std::string(reason)}];
    }

    std::uint64_t deliveries(std::string_view webhook) const {
        auto it = delivered_.find(webhook);
        return it == delivered_.end() ? 0 : it->second;
    }
    /// (webhook, reason) -> failed attempts, for every pair counted so far.
    const std::map<std::pair<std::string, std::string>, std::uint64_t>& failures() const noexcept {
        return failed_;
    }

private:
    std::map<std::string, std::uint64_t, std::less<>> delivered_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> failed_;
};

} // namespace taskwatch::metrics
