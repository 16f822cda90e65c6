#include "support/wait.hpp"

#include <algorithm>
#include <thread>

namespace taskwatch::test {

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        // The condition is another thread's or process's doing: nothing to wait on but time.
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(step, deadline - now));
    }
}

} // namespace taskwatch::test
