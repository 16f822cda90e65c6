// Running one coroutine to completion on an io_context from a test's thread, with a deadline:
// its result, or what it threw (a failed REQUIRE included) rethrown.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace taskwatch::test {

/// The coroutine given to run() did not finish within its deadline.
class run_timeout : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace run_detail {
// Shared with the coroutine, so that one abandoned at the deadline and resumed later by another
// run of the loop finds its state alive.
template <class T> struct state {
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> out;
    std::exception_ptr failed;
    bool done = false;
};

// co_spawn wants a default-constructible result; expected<> is not: keep it in an optional.
template <class T>
boost::asio::awaitable<void> store(boost::asio::awaitable<T> aw, std::shared_ptr<state<T>> st) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(aw);
        st->out.emplace(true);
    } else {
        st->out.emplace(co_await std::move(aw));
    }
}
} // namespace run_detail

/// Runs `aw` on `io` (restarted first) until it completes, and returns its result. Other work on
/// `io` runs meanwhile and may still be pending afterwards: idle keep-alive connections keep a
/// loop busy, so this does not wait for the loop to run dry. Throws run_timeout when `aw` has
/// not finished within `timeout`.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> aw,
      std::chrono::steady_clock::duration timeout = std::chrono::seconds(60)) {
    auto st = std::make_shared<run_detail::state<T>>();
    boost::asio::co_spawn(io, run_detail::store(std::move(aw), st), [st](std::exception_ptr e) {
        st->failed = e;
        st->done = true;
    });
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!st->done && io.run_one_until(deadline) > 0) {
    }
    if (!st->done) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
        throw run_timeout("the coroutine did not finish within " + std::to_string(ms) + " ms");
    }
    if (st->failed) std::rethrow_exception(st->failed);
    if constexpr (!std::is_void_v<T>) return std::move(*st->out);
}

} // namespace taskwatch::test
