#include "taskwatch/app/cli.hpp"

#include <doctest/doctest.h>

using namespace taskwatch::app;

TEST_CASE("the contract's command lines parse") {
    auto run = parse_cli({"--config", "c.yml"});
    REQUIRE(run);
    CHECK(run->what == cli_options::mode::run);
    CHECK(run->config_path == "c.yml");

    auto check = parse_cli({"--config=c.yml", "--check-config"});
    REQUIRE(check);
    CHECK(check->what == cli_options::mode::check_config);

    auto demo = parse_cli({"--demo", "--listen", "127.0.0.1:0"});
    REQUIRE(demo);
    CHECK(demo->what == cli_options::mode::demo);
    CHECK(demo->listen == std::optional<std::string>("127.0.0.1:0"));

    auto get = parse_cli({"get", "--config", "c.yml", "--dataset", "d1", "--task", "t1"});
    REQUIRE(get);
    CHECK(get->what == cli_options::mode::get);
    CHECK(get->dataset_id == "d1");
    CHECK(get->task_id == "t1");

    auto version = parse_cli({"--version"});
    REQUIRE(version);
    CHECK(version->what == cli_options::mode::version);
}

TEST_CASE("bad command lines are usage errors that say what is wrong") {
    CHECK(parse_cli({}).error() == "--config FILE is required");
    CHECK(parse_cli({"--config"}).error() == "--config needs a value");
    CHECK(parse_cli({"--bogus"}).error() == "unknown argument '--bogus'");
    CHECK(parse_cli({"get", "--config", "c"}).error() == "get needs --dataset D");
    CHECK(parse_cli({"--dataset", "d"}).error() == "unknown argument '--dataset'");
    CHECK(parse_cli({"--listen", "x", "--config", "c"}).error().find("--demo") !=
          std::string::npos);
}

#include "taskwatch/detail/pretty_json.hpp"

#include <boost/json/parse.hpp>

TEST_CASE("pretty JSON indents and prints floats as people write them") {
    auto v = boost::json::parse(R"({"progress":36.5,"done":100.0,"n":3,"a":[],"o":{"x":[1,"s"]}})");
    CHECK(taskwatch::pretty_json(v) ==
          "{\n  \"progress\": 36.5,\n  \"done\": 100.0,\n  \"n\": 3,\n"
          "  \"a\": [],\n  \"o\": {\n    \"x\": [\n      1,\n      \"s\"\n"
          "    ]\n  }\n}");
}

TEST_CASE("the outbox commands parse, and say what is missing") {
    auto list = parse_cli({"outbox", "list", "--config", "c.yml", "--dead", "--webhook", "ops"});
    REQUIRE(list);
    CHECK(list->what == cli_options::mode::outbox_list);
    CHECK(list->dead);
    CHECK(list->webhook == std::optional<std::string>("ops"));

    auto some = parse_cli({"outbox", "redeliver", "--config", "c.yml", "evt_1", "evt_2"});
    REQUIRE(some);
    CHECK(some->what == cli_options::mode::outbox_redeliver);
    CHECK(some->event_ids == std::vector<std::string>{"evt_1", "evt_2"});
    auto all = parse_cli({"outbox", "redeliver", "--config", "c.yml", "--all-dead"});
    REQUIRE(all);
    CHECK(all->all_dead);

    CHECK(parse_cli({"outbox"}).error() == "outbox needs list or redeliver");
    CHECK(parse_cli({"outbox", "list"}).error() == "outbox needs --config FILE");
    CHECK(parse_cli({"outbox", "redeliver", "--config", "c"}).error() ==
          "outbox redeliver needs event IDs or --all-dead");
    CHECK(parse_cli({"outbox", "redeliver", "--config", "c", "e1", "--all-dead"}).error() ==
          "give event IDs or --all-dead, not both");
    CHECK(parse_cli({"outbox", "list", "--config", "c", "--all-dead"}).error() ==
          "unknown argument '--all-dead'");
    CHECK(parse_cli({"--config", "c", "--webhook", "w"}).error() == "unknown argument '--webhook'");
}
