// notify's routing of events to webhooks: event types, progress steps and label matches.
#include "taskwatch/notify/routing.hpp"

#include <doctest/doctest.h>

using namespace taskwatch;

namespace {

config::webhook hook(std::string name, std::vector<task::event_type> events,
                     std::optional<double> step = std::nullopt) {
    config::webhook w;
    w.name = std::move(name);
    w.events = std::move(events);
    w.progress_step = step;
    return w;
}

task::event progress_event(double from, double to) {
    task::event e;
    e.type = task::event_type::progress;
    e.previous = task::snapshot{};
    e.previous->progress = from;
    e.current = task::snapshot{};
    e.current->progress = to;
    return e;
}

} // namespace

TEST_CASE("an event goes to the webhooks that want its type, in configuration order") {
    auto s = std::make_shared<config::settings>();
    s->webhooks = {hook("ops", {task::event_type::status_changed, task::event_type::gone}),
                   hook("chat", {task::event_type::gone}),
                   hook("none", {task::event_type::discovered})};
    task::event e;
    e.type = task::event_type::gone;
    CHECK(notify::route(*s, e) == std::vector<std::string>{"ops", "chat"});
    e.type = task::event_type::status_changed;
    CHECK(notify::route(*s, e) == std::vector<std::string>{"ops"});
    e.type = task::event_type::stalled;
    CHECK(notify::route(*s, e).empty());
}

TEST_CASE("task.progress goes only to webhooks one of whose steps the progress crossed") {
    auto s = std::make_shared<config::settings>();
    s->webhooks = {hook("quarter", {task::event_type::progress}, 0.25),
                   hook("half", {task::event_type::progress}, 0.5),
                   hook("nostep", {task::event_type::progress}),
                   hook("notwanted", {task::event_type::gone}, 0.1)};
    CHECK(notify::progress_steps(*s) == std::vector<double>{0.25, 0.5});
    CHECK(notify::route(*s, progress_event(0.20, 0.30)) == std::vector<std::string>{"quarter"});
    CHECK(notify::route(*s, progress_event(0.45, 0.55)) ==
          std::vector<std::string>{"quarter", "half"});
    CHECK(notify::route(*s, progress_event(0.30, 0.40)).empty());

    // What the watcher is given: the same, behind an opaque function.
    auto r = notify::routing_for(s);
    CHECK(r.progress_steps == std::vector<double>{0.25, 0.5});
    REQUIRE(r.route);
    CHECK(r.route(progress_event(0.45, 0.55)) == std::vector<std::string>{"quarter", "half"});
}

TEST_CASE("a webhook with match_labels gets only events of targets carrying those labels") {
    auto s = std::make_shared<config::settings>();
    s->modelarts.project_id = "p";
    s->targets.push_back(config::target{"vision-ds", std::nullopt, {{"team", "vision"}}, {}, {}});
    s->targets.push_back(config::target{"nlp-ds", std::nullopt, {{"team", "nlp"}}, {}, {}});
    s->targets.push_back(config::target{"other-ds", std::nullopt, {{"team", "vision"}}, "q", {}});
    auto vision = hook("vision", {task::event_type::gone});
    vision.match_labels = {{"team", "vision"}};
    s->webhooks = {vision, hook("all", {task::event_type::gone})};
    auto gone_in = [](std::string project, std::string dataset) {
        task::event e;
        e.type = task::event_type::gone;
        e.key = {std::move(project), std::move(dataset), "t1"};
        return e;
    };
    CHECK(notify::route(*s, gone_in("p", "vision-ds")) ==
          std::vector<std::string>{"vision", "all"});
    CHECK(notify::route(*s, gone_in("p", "nlp-ds")) == std::vector<std::string>{"all"});
    // The target is found by project too: "other-ds" is watched in project q, not p.
    CHECK(notify::route(*s, gone_in("q", "other-ds")) == std::vector<std::string>{"vision", "all"});
    CHECK(notify::route(*s, gone_in("p", "other-ds")) == std::vector<std::string>{"all"});
}
