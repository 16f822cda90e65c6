// The ModelArts API client (HTTPS client + authentication + classification) against the
// simulator running in this process on its own thread, over real TLS on loopback with a CA made
// at test time.
#include "support/io.hpp"
#include "support/pki.hpp"
#include "support/sim.hpp"

#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/modelarts/api_client.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/detached.hpp>
#include <chrono>

#include <set>

namespace {

using namespace taskwatch;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using verb = boost::beast::http::verb;
using test::run;

asio::awaitable<void>
async_count_success(asio::awaitable<expected<modelarts::task, modelarts::api_error>> aw,
                    int* ok_count) {
    auto r = co_await std::move(aw);
    if (r)
        ++*ok_count;
    else
        MESSAGE(r.error().to_string());
}

struct client_under_test {
    asio::io_context ioc;
    http::client client;
    std::unique_ptr<auth::authorizer> authorizer;
    std::unique_ptr<modelarts::api_client> api;

    client_under_test(test::sim_control& sim, std::string sk, std::optional<std::string> ca = {},
                      std::chrono::milliseconds timeout = 5s, std::string url = {})
        : client(ioc.get_executor(), options(ca ? *ca : sim.ca_file(), timeout)) {
        auth::aksk_credentials creds{sim.account.ak, detail::secret(std::move(sk)), std::nullopt};
        authorizer = auth::make_aksk_authorizer(std::move(creds));
        make_api(sim, url);
    }

    // Token authentication against the simulator's IAM.
    client_under_test(test::sim_control& sim, auth::token_credentials creds)
        : client(ioc.get_executor(), options(sim.ca_file(), 5s)) {
        authorizer = auth::make_token_authorizer(client, std::move(creds));
        make_api(sim, {});
    }

    static http::client_options options(const std::string& ca, std::chrono::milliseconds timeout) {
        http::client_options o;
        o.ca_file = ca;
        o.timeout = timeout;
        o.max_connections = 8;
        return o;
    }

    void make_api(test::sim_control& sim, std::string url) {
        auto ep = http::parse_url(url.empty() ? sim.url() : url);
        REQUIRE(ep);
        api =
            std::make_unique<modelarts::api_client>(client, *authorizer, *ep, sim.account.project);
    }

    expected<modelarts::task, modelarts::api_error> get(const std::string& dataset,
                                                        const std::string& task) {
        return run(ioc, api->async_get_task(dataset, task));
    }
};

struct sim_task {
    std::string dataset_id, task_id;
    boost::json::object state;
};

sim_task first_task(test::sim_control& sim) {
    auto t = sim.tasks().at(0).as_object();
    return {std::string(t.at("dataset_id").as_string()), std::string(t.at("task_id").as_string()),
            t};
}

} // namespace

TEST_CASE("a signed GET returns the task the simulator holds") {
    test::sim_in_process sim({"--static", "--tasks", "6", "--datasets", "2"});
    auto t = first_task(sim);
    client_under_test c(sim, sim.account.sk);
    auto res = c.get(t.dataset_id, t.task_id);
    REQUIRE_MESSAGE(res, (res ? "" : res.error().to_string()));
    CHECK(res->task_id == t.task_id);
    REQUIRE(res->status.has_value());
    auto sim_view = sim.control(verb::get, "/sim/tasks/" + t.task_id).as_object();
    CHECK(modelarts::to_code(*res->status) == sim_view.at("status").to_number<int>());
    REQUIRE(res->progress.has_value());
    CHECK(*res->progress == doctest::Approx(sim_view.at("progress").to_number<double>()));
    CHECK(sim.requests_of_kind("get_task") == 1);
}

TEST_CASE("a wrong SK gets 401 APIGW.0301, classified as auth and not retried") {
    test::sim_in_process sim({"--static", "--tasks", "2"});
    auto t = first_task(sim);
    client_under_test c(sim, "not-the-secret-key");
    auto res = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(res);
    CHECK(res.error().kind == modelarts::error_kind::auth);
    CHECK(res.error().http_status == 401);
    CHECK(res.error().error_code == "APIGW.0301");
    CHECK_FALSE(res.error().request_id.empty());
    CHECK(sim.requests_of_kind("get_task") == 1); // the gateway locks keys: never hammer
}

TEST_CASE("a server certificate from an untrusted CA is refused as tls") {
    test::sim_in_process sim({"--static", "--tasks", "1"});
    auto t = first_task(sim);
    test::test_ca other("some other CA");
    auto other_ca = sim.dir.write("other-ca.pem", other.cert_pem());
    client_under_test c(sim, sim.account.sk, other_ca);
    auto res = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(res);
    CHECK(res.error().kind == modelarts::error_kind::tls);
    CHECK(sim.requests_of_kind("get_task") == 0);
}

TEST_CASE("a certificate for another host name is refused as tls") {
    test::test_ca ca("taskwatch test CA");
    test::temp_dir tls("wrong-name");
    auto pair = ca.issue("wrong.example", "DNS:wrong.example");
    auto cert = tls.write("cert.pem", pair.cert_pem);
    auto key = tls.write("key.pem", pair.key_pem);
    auto ca_file = tls.write("ca.pem", ca.cert_pem());
    // --cert/--key replace the generated certificate; the sim still writes its own CA,
    // which we do not use.
    test::sim_in_process sim({"--static", "--tasks", "1", "--cert", cert, "--key", key});
    client_under_test c(sim, sim.account.sk, ca_file);
    auto res = c.get("d", "t");
    REQUIRE_FALSE(res);
    CHECK(res.error().kind == modelarts::error_kind::tls);
    CHECK_MESSAGE(res.error().detail.find("mismatch") != std::string::npos, res.error().detail);
}

TEST_CASE("429 with Retry-After is throttled with its delay, 503 is server_error") {
    test::sim_in_process sim({"--static", "--tasks", "1"});
    auto t = first_task(sim);
    client_under_test c(sim, sim.account.sk);

    sim.add_fault(R"({"kind":"429-retry-after","count":1,"retry_after":3})");
    auto throttled = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(throttled);
    CHECK(throttled.error().kind == modelarts::error_kind::throttled);
    CHECK(throttled.error().http_status == 429);
    CHECK(throttled.error().error_code == "APIGW.0308");
    REQUIRE(throttled.error().retry_after.has_value());
    CHECK(*throttled.error().retry_after == 3000ms);

    sim.add_fault(R"({"kind":"429","count":1})");
    auto plain = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(plain);
    CHECK(plain.error().kind == modelarts::error_kind::throttled);
    CHECK_FALSE(plain.error().retry_after.has_value());

    sim.add_fault(R"({"kind":"503","count":1})");
    auto unavailable = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(unavailable);
    CHECK(unavailable.error().kind == modelarts::error_kind::server_error);
    CHECK(unavailable.error().http_status == 503);

    auto fine = c.get(t.dataset_id, t.task_id); // the faults were for one request each
    CHECK(fine);
}

TEST_CASE("a hung server hits the request deadline on time") {
    test::sim_in_process sim({"--static", "--tasks", "1"});
    auto t = first_task(sim);
    client_under_test c(sim, sim.account.sk, std::nullopt, 800ms);
    sim.add_fault(R"({"kind":"hang","count":1})");
    auto start = std::chrono::steady_clock::now();
    auto res = c.get(t.dataset_id, t.task_id);
    auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(res);
    CHECK(res.error().kind == modelarts::error_kind::timeout);
    CHECK(elapsed >= 800ms);
    CHECK(elapsed < 800ms + 700ms); // bound, not a speed figure: the deadline is honoured
}

TEST_CASE("a deleted task is not_found (ModelArts.4338), malformed JSON is malformed") {
    test::sim_in_process sim({"--static", "--tasks", "2"});
    auto t = first_task(sim);
    client_under_test c(sim, sim.account.sk);
    sim.add_fault(R"({"kind":"malformed-json","count":1})");
    auto bad = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == modelarts::error_kind::malformed);

    sim.control(verb::delete_, "/sim/tasks/" + t.task_id);
    auto gone = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().kind == modelarts::error_kind::not_found);
    CHECK(gone.error().error_code == "ModelArts.4338");
}

TEST_CASE("an IAM token that expires mid-run is refreshed once for many concurrent requests") {
    test::sim_in_process sim({"--static", "--tasks", "40", "--datasets", "1"});
    auth::token_credentials creds{http::parse_url(sim.url()).value(), sim.account.iam_domain,
                                  sim.account.iam_user, detail::secret(sim.account.iam_password)};
    client_under_test c(sim, std::move(creds));
    auto tasks = sim.tasks();
    auto run_all = [&] {
        int ok_count = 0;
        int finished = 0;
        for (const auto& v : tasks) {
            const auto& o = v.as_object();
            asio::co_spawn(c.ioc,
                           async_count_success(
                               c.api->async_get_task(std::string(o.at("dataset_id").as_string()),
                                                     std::string(o.at("task_id").as_string())),
                               &ok_count),
                           [&finished](std::exception_ptr) { ++finished; });
        }
        c.ioc.restart();
        while (finished < static_cast<int>(tasks.size()) && c.ioc.run_one() > 0) {
        }
        return ok_count;
    };
    CHECK(run_all() == static_cast<int>(tasks.size()));
    CHECK(auth::stats_of(*c.authorizer).token_requests == 1);
    CHECK(sim.requests_of_kind("token") == 1);

    sim.control(verb::post, "/sim/tokens/expire");
    CHECK(run_all() == static_cast<int>(tasks.size()));
    CHECK(auth::stats_of(*c.authorizer).token_requests == 2);
    CHECK(sim.requests_of_kind("token") == 2);
    // Every request of the second round was rejected once at most: 40 + 40 rejected + 40.
    CHECK(sim.requests_of_kind("get_task") <= 3 * tasks.size());
}

TEST_CASE("a wrong IAM password fails as auth without asking IAM again at once") {
    test::sim_in_process sim({"--static", "--tasks", "3", "--datasets", "1"});
    auth::token_credentials creds{http::parse_url(sim.url()).value(), sim.account.iam_domain,
                                  sim.account.iam_user, detail::secret("wrong password")};
    client_under_test c(sim, std::move(creds));
    auto t = first_task(sim);
    auto first = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(first);
    CHECK(first.error().kind == modelarts::error_kind::auth);
    auto second = c.get(t.dataset_id, t.task_id);
    REQUIRE_FALSE(second);
    CHECK(sim.requests_of_kind("token") == 1); // backed off: IAM locks users too
    CHECK(sim.requests_of_kind("get_task") == 0);
}

TEST_CASE("listing a dataset pages through every task, whichever way offset counts") {
    for (const char* mode : {"items", "pages"}) {
        CAPTURE(mode);
        test::sim_in_process sim(
            {"--static", "--tasks", "250", "--datasets", "1", "--list-offset-mode", mode});
        auto t = first_task(sim);
        client_under_test c(sim, sim.account.sk);
        auto res = run(c.ioc, c.api->async_list_tasks(t.dataset_id, std::nullopt));
        REQUIRE_MESSAGE(res, (res ? "" : res.error().to_string()));
        std::size_t expected_count = 0;
        for (const auto& v : sim.tasks()) {
            auto type = v.at("type").as_string();
            if (type == "auto-label" || type == "pre-label") ++expected_count;
        }
        CHECK(res->size() == expected_count);
        std::set<std::string> ids;
        for (const auto& task : *res)
            ids.insert(*task.task_id);
        CHECK(ids.size() == res->size());
        // Discovery's light reading pages the same way and finds the same ids.
        auto light = run(c.ioc, c.api->async_list_task_ids(t.dataset_id, std::nullopt));
        REQUIRE_MESSAGE(light, (light ? "" : light.error().to_string()));
        CHECK(std::set<std::string>(light->begin(), light->end()) == ids);
        CHECK(light->size() == ids.size());
    }
}
