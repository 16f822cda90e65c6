// The simulator's task lifecycles on a virtual clock: phases in order, progress and counts
// only rising, terminal states sticking, control patches freezing a task.
#include "taskwatch/sim/json.hpp"
#include "taskwatch/sim/model.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <set>

using namespace taskwatch::sim;
using namespace std::chrono_literals;

namespace {

// A fixed instant: unit tests do not read the clock.
const time_point t0 = time_point{} + std::chrono::hours(24 * 20000);

world_options small(std::uint64_t seed, std::size_t n = 50) {
    world_options o;
    o.seed = seed;
    o.tasks = n;
    o.datasets = 4;
    o.phase = 10s;
    return o;
}

task_spec with_fate(task_fate f) {
    task_spec s;
    s.fate = f;
    return s;
}

task_spec named(std::string dataset, std::string id, std::string name,
                std::optional<task_type> type) {
    task_spec s;
    s.dataset_id = std::move(dataset);
    s.task_id = std::move(id);
    s.task_name = std::move(name);
    s.type = type;
    return s;
}

int rank(task_status s) {
    switch (s) {
    case task_status::queuing:
        return 0;
    case task_status::initializing:
        return 1;
    case task_status::running:
        return 2;
    case task_status::stopping:
        return 3;
    default:
        return 4; // terminal
    }
}

} // namespace

TEST_CASE("every generated task moves through its phases in order with progress and counts never "
          "falling") {
    for (std::uint64_t seed : {1u, 2u, 3u, 77u}) {
        world w(small(seed, 0), t0);
        for (int i = 0; i < 25; ++i) {
            auto& t = w.add_generated(t0);
            CHECK(t.state.status == task_status::queuing);
            CHECK(t.state.progress == 0.0);
            task_state prev = t.state;
            bool saw_running = false, saw_stopping = false;
            std::optional<task_state> terminal;
            for (auto now = t0; now < t0 + 30min; now += 1s) {
                if (!w.refresh(t, now)) continue; // only look at changes

                const auto& st = t.state;
                CHECK(rank(st.status) >= rank(prev.status));
                CHECK(st.progress >= prev.progress);
                CHECK(st.progress <= 100.0);
                CHECK(st.annotated_sample_count >= prev.annotated_sample_count);
                CHECK(st.unconfirmed_sample_count >= prev.unconfirmed_sample_count);
                CHECK(st.annotated_sample_count + st.unconfirmed_sample_count <=
                      st.total_sample_count);
                CHECK(st.annotated_sample_count >=
                      std::min(t.initially_annotated, st.total_sample_count));
                CHECK(st.elapsed_time >= prev.elapsed_time);
                saw_running = saw_running || st.status == task_status::running;
                saw_stopping = saw_stopping || st.status == task_status::stopping;
                if (terminal) CHECK(st == *terminal); // terminal states stick
                if (is_terminal(st.status) && !terminal) terminal = st;
                prev = st;
            }
            REQUIRE(terminal.has_value());
            CHECK(saw_running);
            switch (t.fate) {
            case task_fate::succeed:
                CHECK(terminal->status == task_status::succeeded);
                CHECK(terminal->progress == 100.0);
                CHECK(terminal->error_code.empty());
                break;
            case task_fate::fail:
                CHECK(terminal->status == task_status::failed);
                CHECK(terminal->progress < 100.0);
                CHECK(terminal->error_code.rfind("ModelArts.", 0) == 0);
                CHECK(!terminal->error_msg.empty());
                CHECK(terminal->code == terminal->error_code);
                break;
            case task_fate::stop:
                CHECK(terminal->status == task_status::stopped);
                CHECK(saw_stopping);
                break;
            }
        }
    }
}

TEST_CASE("progress rises in uneven steps with one decimal, like the API's float percent") {
    world w(small(5, 0), t0);
    auto& t = w.add(with_fate(task_fate::succeed), t0);
    std::set<double> values, increments;
    double last = 0;
    for (auto now = t0; now < t0 + 30min; now += 100ms) {
        w.refresh(t, now);
        if (t.state.progress != last) {
            increments.insert(std::round((t.state.progress - last) * 10) / 10);
            last = t.state.progress;
        }
        values.insert(t.state.progress);
    }
    CHECK(values.size() >= 6);
    CHECK(increments.size() >= 3); // uneven
    for (double v : values)
        CHECK(std::abs(v * 10 - std::round(v * 10)) < 1e-9);
}

TEST_CASE("the same seed builds the same world and another seed a different one") {
    world a(small(9), t0), b(small(9), t0), c(small(10), t0);
    REQUIRE(a.size() == 50);
    auto ids = [](const world& w) {
        std::vector<std::string> out;
        for (auto* t : w.all())
            out.push_back(t->dataset_id + "/" + t->task_id + "/" +
                          std::string(to_string(t->state.status)));
        return out;
    };
    CHECK(ids(a) == ids(b));
    CHECK(ids(a) != ids(c));
    CHECK(a.datasets() == b.datasets());
    for (auto* t : a.all())
        CHECK(t->task_id.size() == 19);
}

TEST_CASE("a fresh world has tasks in several phases and of every type") {
    world w(small(4, 300), t0);
    std::set<task_status> statuses;
    std::set<task_type> types;
    std::set<task_fate> fates;
    for (auto* t : w.all()) {
        statuses.insert(t->state.status);
        types.insert(t->type);
        fates.insert(t->fate);
    }
    CHECK(statuses.count(task_status::succeeded));
    CHECK(statuses.count(task_status::running));
    CHECK(statuses.count(task_status::queuing) + statuses.count(task_status::initializing) > 0);
    CHECK(statuses.count(task_status::failed));
    CHECK(types.size() == 3);
    CHECK(fates.size() == 3);
}

TEST_CASE(
    "refresh reports a change only when the visible state changed, and bumps the version then") {
    world w(small(6, 0), t0);
    auto& t = w.add_generated(t0);
    const auto v = t.version;
    CHECK_FALSE(w.refresh(t, t0));
    CHECK(t.version == v);
    bool changed = false;
    for (auto now = t0; now < t0 + 30min && !changed; now += 1s)
        changed = w.refresh(t, now);
    CHECK(changed);
    CHECK(t.version == v + 1);
}

TEST_CASE("elapsed_time counts seconds after the queue and stops at the terminal state") {
    world w(small(8, 0), t0);
    auto& t = w.add(with_fate(task_fate::succeed), t0);
    const auto left_queue = t0 + t.steps.at(1).at;
    w.refresh(t, left_queue - 1ms);
    CHECK(t.state.elapsed_time == 0);
    w.refresh(t, left_queue + 3500ms);
    CHECK(t.state.elapsed_time == 3);
    const auto end = t0 + t.steps.back().at;
    w.refresh(t, end + 1h);
    const auto final_elapsed = t.state.elapsed_time;
    CHECK(final_elapsed ==
          std::chrono::duration_cast<std::chrono::seconds>(end - left_queue).count());
    w.refresh(t, end + 2h);
    CHECK(t.state.elapsed_time == final_elapsed);
}

TEST_CASE("a patched task keeps the state it was given while time passes, until unfrozen") {
    world w(small(11, 0), t0);
    auto& t = w.add(with_fate(task_fate::succeed), t0);
    task_patch p;
    p.status = task_status::running;
    p.progress = 42.5;
    p.error_code = "ModelArts.4380";
    w.apply(t, p, t0);
    CHECK(t.frozen);
    w.refresh(t, t0 + 24h);
    CHECK(t.state.status == task_status::running);
    CHECK(t.state.progress == 42.5);
    CHECK(t.state.error_code == "ModelArts.4380");

    task_patch resume;
    resume.frozen = false;
    w.apply(t, resume, t0);
    w.refresh(t, t0 + 24h);
    CHECK(t.state.status == task_status::succeeded);
}

TEST_CASE("every status change is logged once, in order, at its planned time, also when a "
          "refresh jumps over several steps") {
    world w(small(13, 0), t0);
    auto& a = w.add(with_fate(task_fate::stop), t0);
    auto& b = w.add(with_fate(task_fate::succeed), t0);
    // a: refreshed often enough to see every step; b: once, at the end.
    std::vector<task_status> seen{a.state.status};
    for (auto t = t0; t <= t0 + 2h; t += 100ms) {
        w.refresh(a, t);
        if (a.state.status != seen.back()) seen.push_back(a.state.status);
    }
    w.refresh(b, t0 + 2h);
    std::vector<task_status> a_path{task_status::queuing}, b_path{task_status::queuing};
    std::uint64_t last_seq = 0;
    for (const auto& tr : w.transitions().entries()) {
        CHECK(tr.seq > last_seq);
        last_seq = tr.seq;
        auto& path = tr.task_id == a.task_id ? a_path : b_path;
        CHECK(tr.from == path.back());
        path.push_back(tr.to);
        // The planned time of the step that made the change.
        const auto& steps = tr.task_id == a.task_id ? a.steps : b.steps;
        const auto& owner = tr.task_id == a.task_id ? a : b;
        const auto step = std::find_if(steps.begin(), steps.end(),
                                       [&](const lifecycle_step& s) { return s.status == tr.to; });
        REQUIRE(step != steps.end());
        CHECK(tr.at == owner.create_time + step->at);
    }
    CHECK(a_path == seen);
    CHECK(a_path == std::vector<task_status>{task_status::queuing, task_status::initializing,
                                             task_status::running, task_status::stopping,
                                             task_status::stopped});
    CHECK(b_path == std::vector<task_status>{task_status::queuing, task_status::initializing,
                                             task_status::running, task_status::succeeded});
    CHECK(w.transitions().recorded() == 7);
    CHECK(w.transitions().dropped() == 0);

    // A patch of the status is a transition at the patch's time; an unfrozen task moving back
    // to its plan is another.
    task_patch p;
    p.status = task_status::failed;
    w.apply(b, p, t0 + 3h);
    const auto& patched = w.transitions().entries().back();
    CHECK(patched.from == task_status::succeeded);
    CHECK(patched.to == task_status::failed);
    CHECK(patched.at == t0 + 3h);
    task_patch resume;
    resume.frozen = false;
    w.apply(b, resume, t0 + 4h);
    w.refresh(b, t0 + 5h);
    CHECK(w.transitions().entries().back().to == task_status::succeeded);
    CHECK(w.transitions().entries().back().at == t0 + 5h);
    CHECK(w.transitions().recorded() == 9);
}

TEST_CASE("the transition log keeps the newest entries up to its capacity and counts the rest") {
    transition_log log(3);
    for (int i = 0; i < 5; ++i)
        log.record("t" + std::to_string(i), task_status::queuing, task_status::running, t0);
    CHECK(log.recorded() == 5);
    CHECK(log.dropped() == 2);
    REQUIRE(log.entries().size() == 3);
    CHECK(log.entries().front().task_id == "t2");
    CHECK(log.entries().front().seq == 3);
    log.clear();
    CHECK(log.entries().empty());
    log.record("x", task_status::queuing, task_status::running, t0);
    CHECK(log.entries().front().seq == 6);
}

TEST_CASE("lists are newest first, filtered by type and name, and removed tasks are gone") {
    world w(small(12, 0), t0);
    const auto d = w.datasets().front();
    auto& a = w.add(named(d, "aaaaaaaaaaaaaaaaaaa", "alpha", task_type::auto_label), t0);
    auto& b = w.add(named(d, "bbbbbbbbbbbbbbbbbbb", "beta", task_type::pre_label), t0 + 1min);
    auto& c = w.add(named(d, "ccccccccccccccccccc", "gamma", task_type::auto_grouping), t0 + 2min);
    auto all = w.list(d, {});
    REQUIRE(all.size() == 3);
    CHECK(all[0] == &c);
    CHECK(all[1] == &b);
    CHECK(all[2] == &a);
    auto labels = w.list(d, {task_type::auto_label, task_type::pre_label});
    CHECK(labels.size() == 2);
    CHECK(w.list(d, {}, "amm").size() == 1);
    CHECK(w.find(d, "bbbbbbbbbbbbbbbbbbb") == &b);
    CHECK(w.find(w.datasets().back(), "bbbbbbbbbbbbbbbbbbb") == nullptr); // wrong dataset
    CHECK(w.remove(d, "bbbbbbbbbbbbbbbbbbb"));
    CHECK(w.find("bbbbbbbbbbbbbbbbbbb") == nullptr);
    CHECK(w.list(d, {}).size() == 2);
    CHECK_THROWS_AS(w.add(named("", "aaaaaaaaaaaaaaaaaaa", "", std::nullopt), t0),
                    std::invalid_argument);
}

TEST_CASE("datasets are dealt to the configured projects in turn") {
    auto o = small(13, 10);
    o.project_ids = {"p1", "p2"};
    world w(o, t0);
    REQUIRE(w.datasets().size() == 4);
    CHECK(w.project_of(w.datasets()[0]) == "p1");
    CHECK(w.project_of(w.datasets()[1]) == "p2");
    CHECK(w.project_of(w.datasets()[2]) == "p1");
    CHECK(w.project_of("unknown").empty());
}

TEST_CASE("the task JSON has the seed's fields, a decimal progress, and is re-serialized only "
          "after a change") {
    world w(small(14, 0), t0);
    auto& t = w.add(with_fate(task_fate::fail), t0);
    const auto& body = task_body(t);
    auto v = boost::json::parse(body).as_object();
    for (auto key : {"resource_id", "create_time", "progress", "status", "message", "code",
                     "elapsed_time", "result", "export_type", "config", "task_id", "task_name"})
        CHECK_MESSAGE(v.contains(key), key);
    CHECK(body.find("\"progress\":0.0") != std::string::npos);
    CHECK(v.at("create_time").as_string() == format_create_time(t0));
    CHECK_FALSE(v.contains("error_code"));
    const auto* data = body.data();
    CHECK(task_body(t).data() == data); // cached
    for (auto now = t0; !is_terminal(t.state.status); now += 1s)
        w.refresh(t, now);
    auto failed = boost::json::parse(task_body(t)).as_object();
    CHECK(failed.at("status").as_int64() == 2);
    CHECK(failed.at("error_code").as_string().starts_with("ModelArts."));
}

TEST_CASE("JSON text keeps a decimal point on whole doubles and escapes control characters") {
    CHECK(to_text(boost::json::value(10.0)) == "10.0");
    CHECK(to_text(boost::json::value(42.5)) == "42.5");
    CHECK(to_text(boost::json::value(std::int64_t{-1})) == "-1");
    CHECK(to_text(boost::json::value("a\"b\n\x01")) == R"("a\"b\n\u0001")");
    CHECK(to_text(boost::json::parse(R"({"a":[1,true,null]})")) == R"({"a":[1,true,null]})");
}

TEST_CASE("status and type names parse both ways") {
    CHECK(parse_task_status("running") == task_status::running);
    CHECK(parse_task_status("-1") == task_status::queuing);
    CHECK_FALSE(parse_task_status("6").has_value());
    CHECK(parse_task_type("auto-grouping") == task_type::auto_grouping);
    CHECK_FALSE(parse_task_type("auto_label").has_value());
    CHECK(format_create_time(time_point{} + 1606129700s) == "2020-11-23 11:08:20");
}
