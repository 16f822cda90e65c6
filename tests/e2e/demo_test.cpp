// taskwatchd --demo, as the README's first command runs it: the in-process simulator is
// watched, the status page and /metrics answer, and status changes are delivered to the
// demo's webhook receiver, which prints them.
#include "support/http_request.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <regex>

using namespace taskwatch::test;
using namespace std::chrono_literals;

TEST_CASE("--demo serves the status page and /metrics and prints webhook deliveries") {
    child_process demo(bin_dir() + "/taskwatchd", {"--demo", "--listen", "127.0.0.1:0"});
    std::smatch m;
    std::string err;
    static const std::regex page(R"(status page at http://127\.0\.0\.1:(\d+)/)");
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            err = demo.stderr_text();
                            return std::regex_search(err, m, page);
                        },
                        30s),
                    err);
    const server_address at{static_cast<std::uint16_t>(std::stoi(m[1].str())), ""};
    // Once the first poll answered, its task is in /metrics.
    http_reply metrics;
    CHECK(wait_until(
        [&] {
            metrics = http_request(at, boost::beast::http::verb::get, "/metrics");
            return metrics.body.find("modelarts_task_status{") != std::string::npos;
        },
        20s));
    CHECK(metrics.status == 200);
    const auto status_page = http_request(at, boost::beast::http::verb::get, "/");
    CHECK(status_page.status == 200);
    // The demo's tasks move every few seconds: a status change reaches the receiver.
    CHECK_MESSAGE(wait_until(
                      [&] {
                          return demo.stderr_text().find("webhook delivery task.status_changed") !=
                                 std::string::npos;
                      },
                      30s),
                  demo.stderr_text());
    demo.send_signal(SIGTERM);
    CHECK(demo.wait(10s) == 0);
}
