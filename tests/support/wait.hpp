// Waiting for a condition that another thread or process makes true: a bounded poll of the
// condition, never a fixed sleep. Tests that own the event loop wait on the event instead.
#pragma once

#include <chrono>
#include <functional>

namespace taskwatch::test {

/// Calls `done` until it holds, every `step`, for at most `timeout`; its last answer. `done` is
/// called at least once, and once more at the deadline.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(50));

} // namespace taskwatch::test
