// notify's alertmanager format: the body of POST /api/v2/alerts.
#include "taskwatch/notify/format.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace taskwatch;
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_CASE("alerts become Alertmanager's JSON array with RFC 3339 UTC times") {
    const auto t0 = task::time_point(std::chrono::sys_days(std::chrono::year{2026} / 11 / 30) + 4h +
                                     5min + 6s + 250ms);
    std::vector<notify::alert> alerts(2);
    alerts[0].labels = {{"alertname", "ModelArtsTaskFailed"}, {"task_id", "t1"}};
    alerts[0].annotations = {{"summary", "cats \"failed\"\n中文"}};
    alerts[0].starts_at = t0;
    alerts[0].generator_url = "https://watch.example/tasks/ds1/t1";
    alerts[1].labels = {{"alertname", "ModelArtsTaskStalled"}};
    alerts[1].starts_at = t0;
    alerts[1].ends_at = t0 + 90s;

    const auto body = json::parse(notify::alertmanager_body(alerts));
    const auto expected = json::parse(R"([
        {"labels": {"alertname": "ModelArtsTaskFailed", "task_id": "t1"},
         "annotations": {"summary": "cats \"failed\"\n中文"},
         "startsAt": "2026-11-30T04:05:06.250Z",
         "generatorURL": "https://watch.example/tasks/ds1/t1"},
        {"labels": {"alertname": "ModelArtsTaskStalled"}, "annotations": {},
         "startsAt": "2026-11-30T04:05:06.250Z", "endsAt": "2026-11-30T04:06:36.250Z"}])");
    CHECK(body == expected);
}

TEST_CASE("no alerts make an empty array") {
    CHECK(notify::alertmanager_body({}) == "[]");
}
