#include "taskwatch/app/component.hpp"

#include "taskwatch/log/log.hpp"

#include <exception>

namespace taskwatch::app {

void component_list::start() {
    for (; started_ < parts_.size(); ++started_)
        parts_[started_]->start();
}

bool component_list::reload(const settings_ptr& fresh) {
    bool ok = true;
    for (std::size_t i = 0; i < started_; ++i) {
        try {
            parts_[i]->reload(fresh);
        } catch (const std::exception& e) {
            ok = false;
            log::error("configuration partly reloaded: a component kept its old settings",
                       {{"component", parts_[i]->name()}, {"error", e.what()}});
        }
    }
    return ok;
}

boost::asio::awaitable<void> component_list::async_stop() {
    while (started_ > 0) {
        co_await parts_[--started_]->async_stop();
    }
}

} // namespace taskwatch::app
