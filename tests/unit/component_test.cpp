// app::component_list: components start in order, reload in order, stop in reverse; a start
// that fails leaves only the components before it to stop; a reload that fails in one component
// still reaches the others.
#include "taskwatch/app/component.hpp"

#include "support/io.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace taskwatch;

namespace {

// Records every call as "name.call" in a shared journal.
class recording final : public app::component {
public:
    recording(std::string name, std::vector<std::string>& journal, bool fail_start = false,
              bool fail_reload = false)
        : name_(std::move(name))
        , journal_(journal)
        , fail_start_(fail_start)
        , fail_reload_(fail_reload) {}
    std::string_view name() const noexcept override { return name_; }
    void start() override {
        journal_.push_back(name_ + ".start");
        if (fail_start_) throw std::runtime_error(name_ + " cannot start");
    }
    void reload(const app::settings_ptr& fresh) override {
        journal_.push_back(name_ + ".reload " + fresh->listen);
        if (fail_reload_) throw std::runtime_error(name_ + " cannot reload");
    }
    boost::asio::awaitable<void> async_stop() override {
        journal_.push_back(name_ + ".stop");
        co_return;
    }

private:
    std::string name_;
    std::vector<std::string>& journal_;
    bool fail_start_, fail_reload_;
};

app::settings_ptr settings_listening_on(std::string listen) {
    config::settings s;
    s.listen = std::move(listen);
    return std::make_shared<const config::settings>(std::move(s));
}

using journal_t = std::vector<std::string>;

} // namespace

TEST_CASE("components start and reload in order and stop in reverse") {
    journal_t journal;
    app::component_list parts;
    parts.add(std::make_unique<recording>("state", journal));
    parts.add(std::make_unique<recording>("watcher", journal));
    parts.add(std::make_unique<recording>("http", journal));
    parts.start();
    CHECK(parts.started() == 3);
    CHECK(parts.reload(settings_listening_on(":1")));
    boost::asio::io_context io;
    test::run(io, parts.async_stop());
    CHECK(parts.started() == 0);
    CHECK(journal == journal_t{"state.start", "watcher.start", "http.start", "state.reload :1",
                               "watcher.reload :1", "http.reload :1", "http.stop", "watcher.stop",
                               "state.stop"});
}

TEST_CASE("a component that fails to start leaves the ones before it to stop, in reverse, and "
          "the ones after it untouched") {
    journal_t journal;
    app::component_list parts;
    parts.add(std::make_unique<recording>("state", journal));
    parts.add(std::make_unique<recording>("watcher", journal));
    parts.add(std::make_unique<recording>("http", journal, /*fail_start=*/true));
    parts.add(std::make_unique<recording>("systemd", journal));
    CHECK_THROWS_WITH(parts.start(), "http cannot start");
    CHECK(parts.started() == 2);
    boost::asio::io_context io;
    test::run(io, parts.async_stop());
    CHECK(journal ==
          journal_t{"state.start", "watcher.start", "http.start", "watcher.stop", "state.stop"});
}

TEST_CASE("a component whose reload fails does not keep the others from reloading") {
    journal_t journal;
    app::component_list parts;
    parts.add(std::make_unique<recording>("state", journal, false, /*fail_reload=*/true));
    parts.add(std::make_unique<recording>("watcher", journal));
    parts.start();
    CHECK_FALSE(parts.reload(settings_listening_on(":2")));
    CHECK(journal ==
          journal_t{"state.start", "watcher.start", "state.reload :2", "watcher.reload :2"});
}
