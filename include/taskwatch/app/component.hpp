// A part of the running daemon with a lifecycle, and the ordered list that drives them: started
// in order, handed each reloaded configuration in order, stopped in reverse order.
#pragma once

#include "taskwatch/config/settings.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::app {

using settings_ptr = std::shared_ptr<const config::settings>;

/// One part of the daemon (the state database, the ModelArts clients, the watcher, the HTTP
/// server, the systemd notifier...). Its constructor only wires; work begins in start().
class component {
public:
    virtual ~component() = default;

    /// A short name for log lines: "state", "modelarts", "watcher", "http", "systemd".
    virtual std::string_view name() const noexcept = 0;
    /// Begins its work. Throws std::exception whose what() is the one-line start-up error the
    /// daemon prints before exiting 1; the components started before it are then stopped.
    virtual void start() = 0;
    /// Applies a reloaded configuration, already loaded and checked. What cannot change while
    /// running stays as it was (config::describe_restart_needed says what). Throws to report a
    /// part it could not apply; the other components still get the new configuration.
    virtual void reload(const settings_ptr& fresh) { (void)fresh; }
    /// Stops it. Completes once it no longer uses anything of the components started before it
    /// (those are stopped after it). Must not throw.
    virtual boost::asio::awaitable<void> async_stop() = 0;
};

/// The daemon's components, in start order.
class component_list {
public:
    /// Adds `c` after the others (it may hold references to them); returns it.
    template <class C> C& add(std::unique_ptr<C> c) {
        C& ref = *c;
        parts_.push_back(std::move(c));
        return ref;
    }

    /// Starts every component in order. On a throw, the exception propagates; those already
    /// started are the ones async_stop() stops.
    void start();
    /// Hands `fresh` to every started component in order; a component's failure is logged
    /// with its name and the rest still reload. False when any failed.
    bool reload(const settings_ptr& fresh);
    /// Stops the started components in reverse order, one after the other.
    boost::asio::awaitable<void> async_stop();

    std::size_t size() const noexcept { return parts_.size(); }
    std::size_t started() const noexcept { return started_; }

private:
    std::vector<std::unique_ptr<component>> parts_;
    std::size_t started_ = 0;
};

} // namespace taskwatch::app
