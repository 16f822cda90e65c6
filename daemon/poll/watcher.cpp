#include "taskwatch/poll/watcher.hpp"

#include "engine.hpp"

namespace taskwatch::poll {
namespace asio = boost::asio;

watcher::watcher(asio::any_io_executor ex, std::shared_ptr<const config::settings> settings,
                 event_routing routing, state::store& store, http::client& client,
                 std::shared_ptr<auth::authorizer> auth)
    : engine_(std::make_unique<engine>(ex, std::move(settings), std::move(routing), store, client,
                                       std::move(auth))) {}
watcher::~watcher() = default;
void watcher::start() {
    engine_->start();
}
asio::awaitable<void> watcher::async_stop() {
    return engine_->async_stop();
}
void watcher::reload(std::shared_ptr<const config::settings> settings, event_routing routing,
                     std::shared_ptr<auth::authorizer> auth) {
    engine_->reload(std::move(settings), std::move(routing), std::move(auth));
}
const task_view& watcher::tasks() const noexcept {
    return *engine_;
}
const watcher_stats& watcher::stats() const noexcept {
    return engine_->stats();
}
bool watcher::first_round_done() const noexcept {
    return engine_->first_round_done();
}
std::size_t watcher::failing_tasks() const {
    return engine_->failing_tasks();
}

} // namespace taskwatch::poll
