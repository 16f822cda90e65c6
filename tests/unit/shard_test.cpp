#include "taskwatch/app/cli.hpp"
#include "taskwatch/task/shard.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace taskwatch;
using namespace taskwatch::task;

// The expected values were computed independently of this code, with Python's hashlib, as
// Prometheus' relabel action hashmod computes them:
//   v = int.from_bytes(hashlib.md5(text.encode()).digest()[8:], "big"); v % modulus
TEST_CASE("hashmod is Prometheus' hashmod: the last 8 bytes of the MD5, big-endian, mod N") {
    constexpr auto all = std::numeric_limits<std::uint64_t>::max(); // leaves these values whole
    CHECK(hashmod("", all) == 16825458760271544958u);
    CHECK(hashmod("p1/d1/t1", all) == 9339904953034663969u);
    CHECK(hashmod("0123456789abcdef/d1/t2", all) == 18012276826300268968u);
    CHECK(hashmod("proj/ds/task-42", all) == 5293836500688378330u);

    CHECK(hashmod("p1/d1/t1", 3) == 1);
    CHECK(hashmod("p1/d1/t1", 10) == 9);
    CHECK(hashmod("0123456789abcdef/d1/t2", 2) == 0);
    CHECK(hashmod("proj/ds/task-42", 3) == 0);
    CHECK(hashmod("anything", 1) == 0);
}

TEST_CASE("a task's shard key is project_id/dataset_id/task_id") {
    CHECK(shard_key({"0123456789abcdef", "d1", "t2"}) == "0123456789abcdef/d1/t2");
    const task_key key{"proj", "ds", "task-42"};
    CHECK(shard{0, 3}.owns(key));
    CHECK_FALSE(shard{1, 3}.owns(key));
    CHECK_FALSE(shard{2, 3}.owns(key));
}

TEST_CASE("the shards of N split every task among them exactly once, about evenly") {
    for (std::uint64_t n : {1u, 2u, 3u, 7u}) {
        CAPTURE(n);
        std::vector<int> per_shard(n);
        for (int i = 0; i < 3000; ++i) {
            const task_key key{"p", "d", "t" + std::to_string(i)};
            int owners = 0;
            for (std::uint64_t s = 0; s < n; ++s)
                if (shard{s, n}.owns(key)) {
                    ++owners;
                    ++per_shard[s];
                }
            CHECK(owners == 1);
        }
        for (auto c : per_shard)
            CHECK(c > 3000 / static_cast<int>(n) * 8 / 10);
    }
}

TEST_CASE("--shard I/N parses, and a malformed one says what is wrong") {
    auto ok = parse_shard("2/3");
    REQUIRE(ok);
    CHECK(*ok == shard{2, 3});
    CHECK(to_string(*ok) == "2/3");
    CHECK(parse_shard("0/1"));

    CHECK(parse_shard("3").error() == "'3' is not I/N (such as 0/3)");
    CHECK(parse_shard("a/3").error() == "'a/3' is not I/N with whole numbers (such as 0/3)");
    CHECK(parse_shard("-1/3").error() == "'-1/3' is not I/N with whole numbers (such as 0/3)");
    CHECK(parse_shard("1/ 3").error() == "'1/ 3' is not I/N with whole numbers (such as 0/3)");
    CHECK(parse_shard("0/0").error() == "'0/0': the count N must be at least 1");
    CHECK(parse_shard("3/3").error() == "'3/3': the index I must be below the count N (0 to 2)");
    CHECK(!parse_shard("1/99999999999999999999999"));
}

TEST_CASE("--shard goes with running or checking a config, and bad ones are usage errors") {
    using app::cli_options;
    using app::parse_cli;
    auto run = parse_cli({"--config", "c.yml", "--shard", "1/3"});
    REQUIRE(run);
    CHECK(run->what == cli_options::mode::run);
    CHECK(run->shard == std::optional<shard>(shard{1, 3}));
    auto check = parse_cli({"--config", "c.yml", "--check-config", "--shard=0/2"});
    REQUIRE(check);
    CHECK(check->what == cli_options::mode::check_config);
    CHECK(check->shard == std::optional<shard>(shard{0, 2}));
    CHECK_FALSE(parse_cli({"--config", "c.yml"})->shard.has_value());

    CHECK(parse_cli({"--config", "c.yml", "--shard", "3/3"}).error() ==
          "--shard: '3/3': the index I must be below the count N (0 to 2)");
    CHECK(parse_cli({"--config", "c.yml", "--shard"}).error() == "--shard needs a value");
    CHECK(parse_cli({"--demo", "--shard", "0/2"}).error() ==
          "--shard goes with --config FILE (running or --check-config)");
    CHECK(parse_cli({"get", "--config", "c", "--dataset", "d", "--task", "t", "--shard", "0/2"})
              .error() == "--shard goes with --config FILE (running or --check-config)");
}
