#include "taskwatch/sim/simulator.hpp"

#include "taskwatch/auth/signer.hpp"
#include "taskwatch/detail/percent.hpp"
#include "taskwatch/http/server.hpp"
#include "taskwatch/sim/fault_replies.hpp"
#include "taskwatch/sim/json.hpp"
#include "taskwatch/sim/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <sys/resource.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <random>

namespace taskwatch::sim {
namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

enum class request_kind : std::size_t {
    get_task,
    list_tasks,
    list_datasets,
    token,
    control,
    unknown
};
constexpr std::array<std::string_view, 6> kind_names{"get_task", "list_tasks", "list_datasets",
                                                     "token",    "control",    "unknown"};

// A path split into at most eight segments, without allocating.
struct path_segments {
    std::array<std::string_view, 8> seg{};
    std::size_t n = 0;
    bool too_many = false;
};

path_segments split_path(std::string_view path) {
    path_segments out;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (!path.empty() || out.n == 0) {
        auto slash = path.find('/');
        if (out.n == out.seg.size()) {
            out.too_many = true;
            break;
        }
        out.seg[out.n++] = path.substr(0, slash);
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
        if (path.empty()) out.seg[out.n++] = std::string_view{}; // trailing slash: an empty segment
    }
    return out;
}

// Value of `key` in a raw query, decoded; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        auto eq = part.find('=');
        if (part.substr(0, eq) != key) continue;
        auto v = detail::percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                                     : part.substr(eq + 1));
        return v ? *v : std::string{};
    }
    return std::nullopt;
}

double cpu_seconds(bool user) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto& tv = user ? ru.ru_utime : ru.ru_stime;
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

json::object control_item(const world& w, const sim_task& t) {
    auto o = task_list_item_json(t);
    o["project_id"] = w.project_of(t.dataset_id);
    o["status_name"] = to_string(t.state.status);
    o["frozen"] = t.frozen;
    o["fate"] = t.fate == task_fate::succeed ? "succeed"
                : t.fate == task_fate::fail  ? "fail"
                                             : "stop";
    o["version"] = t.version;
    return o;
}

std::string_view status_title(unsigned status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    default:
        return "Error";
    }
}

// Fields of a control PATCH/POST body. Unknown keys are an error so typos do not pass silently.
expected<task_patch, std::string> parse_patch(const json::object& o, bool allow_spec_keys) {
    task_patch p;
    auto get_string = [&](std::string_view key,
                          std::optional<std::string>& out) -> std::optional<std::string> {
        if (auto* v = o.if_contains(key)) {
            if (!v->is_string()) return "\"" + std::string(key) + "\" must be a string";
            out = std::string(v->get_string());
        }
        return std::nullopt;
    };
    auto get_count = [&](std::string_view key,
                         std::optional<std::uint64_t>& out) -> std::optional<std::string> {
        if (auto* v = o.if_contains(key)) {
            if (!v->is_int64() || v->get_int64() < 0)
                return "\"" + std::string(key) + "\" must be an integer >= 0";
            out = static_cast<std::uint64_t>(v->get_int64());
        }
        return std::nullopt;
    };
    for (const auto& kv : o) {
        static constexpr std::array<std::string_view, 13> patch_keys{"status",
                                                                     "progress",
                                                                     "code",
                                                                     "message",
                                                                     "error_code",
                                                                     "error_msg",
                                                                     "task_name",
                                                                     "elapsed_time",
                                                                     "total_sample_count",
                                                                     "annotated_sample_count",
                                                                     "unconfirmed_sample_count",
                                                                     "frozen",
                                                                     "result"};
        static constexpr std::array<std::string_view, 5> spec_keys{"dataset_id", "project_id",
                                                                   "task_id", "type", "fate"};
        auto k = kv.key();
        bool known = std::find(patch_keys.begin(), patch_keys.end(), k) != patch_keys.end() ||
                     (allow_spec_keys &&
                      std::find(spec_keys.begin(), spec_keys.end(), k) != spec_keys.end());
        if (!known) return unexpected("unknown field \"" + std::string(k) + "\"");
    }
    if (auto* v = o.if_contains("status")) {
        std::optional<task_status> s;
        if (v->is_string())
            s = parse_task_status(v->get_string());
        else if (v->is_int64() && v->get_int64() >= std::numeric_limits<int>::min() &&
                 v->get_int64() <= std::numeric_limits<int>::max())
            // Outside -1..5: a status of a later API version, served as it is.
            s = static_cast<task_status>(static_cast<int>(v->get_int64()));
        if (!s)
            return unexpected(
                std::string("\"status\" must be an integer code or a name (queuing, "
                            "initializing, running, failed, succeeded, stopping, stopped)"));
        p.status = s;
    }
    if (auto* v = o.if_contains("progress"); v && v->is_null()) {
        p.hide_progress = true; // served without `progress`, as an API that omits it
    } else if (v) {
        if (!v->is_number() || v->to_number<double>() < 0 || v->to_number<double>() > 100)
            return unexpected(std::string("\"progress\" must be a number from 0 to 100"));
        p.progress = v->to_number<double>();
    }
    for (auto [key, field] : {std::pair{"code", &p.code},
                              {"message", &p.message},
                              {"error_code", &p.error_code},
                              {"error_msg", &p.error_msg},
                              {"task_name", &p.task_name}})
        if (auto e = get_string(key, *field)) return unexpected(*e);
    if (auto* v = o.if_contains("elapsed_time")) {
        if (!v->is_int64()) return unexpected(std::string("\"elapsed_time\" must be an integer"));
        p.elapsed_time = v->get_int64();
    }
    const json::object* counts = &o;
    if (auto* r = o.if_contains("result")) {
        if (!r->is_object()) return unexpected(std::string("\"result\" must be an object"));
        counts = &r->get_object();
    }
    auto count_from = [&](std::string_view key,
                          std::optional<std::uint64_t>& out) -> std::optional<std::string> {
        if (auto e = get_count(key, out)) return e;
        if (!out && counts != &o) {
            if (auto* v = counts->if_contains(key)) {
                if (!v->is_int64() || v->get_int64() < 0)
                    return "\"result." + std::string(key) + "\" must be an integer >= 0";
                out = static_cast<std::uint64_t>(v->get_int64());
            }
        }
        return std::nullopt;
    };
    if (auto e = count_from("total_sample_count", p.total_sample_count)) return unexpected(*e);
    if (auto e = count_from("annotated_sample_count", p.annotated_sample_count))
        return unexpected(*e);
    if (auto e = count_from("unconfirmed_sample_count", p.unconfirmed_sample_count))
        return unexpected(*e);
    if (auto* v = o.if_contains("frozen")) {
        if (!v->is_bool()) return unexpected(std::string("\"frozen\" must be true or false"));
        p.frozen = v->get_bool();
    }
    return p;
}

bool patch_is_empty(const task_patch& p) {
    return !p.status && !p.progress && !p.hide_progress && !p.code && !p.message && !p.error_code &&
           !p.error_msg && !p.elapsed_time && !p.total_sample_count && !p.annotated_sample_count &&
           !p.unconfirmed_sample_count && !p.frozen;
}

} // namespace

struct simulator::impl : std::enable_shared_from_this<simulator::impl> {
    impl(asio::any_io_executor ex, sim_options o)
        : executor(ex)
        , opts(std::move(o))
        , started_at(sim_clock::now())
        , started_steady(std::chrono::steady_clock::now())
        , tasks(opts.world, started_at)
        , faults(opts.fault_seed ? opts.fault_seed : opts.world.seed ^ 0xFA17)
        , gate(opts.keys, opts.iam, opts.token_ttl)
        , spawn_timer(ex) {
        for (auto& f : opts.faults)
            faults.add(f);
        std::random_device rd;
        request_prefix = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }

    asio::any_io_executor executor;
    sim_options opts;
    time_point started_at;
    std::chrono::steady_clock::time_point started_steady;
    world tasks;
    fault_plan faults;
    gateway gate;
    std::unique_ptr<http::server> server;
    asio::steady_timer spawn_timer;
    std::optional<std::string> ca_file;
    bool stopping = false;

    // Counters for /sim/stats.
    std::array<std::uint64_t, kind_names.size()> by_kind{};
    std::array<std::uint64_t, 600> by_status{};
    /// Faults that decided a request's answer (not latency), by request kind and fault kind.
    std::array<std::array<std::uint64_t, fault_kind_count>, kind_names.size()> faults_by_kind{};
    std::uint64_t requests_total = 0;
    /// The task serve_api just answered a GET of (read and reset by handle, same turn).
    sim_task* answered_task = nullptr;
    std::chrono::steady_clock::time_point stats_since = std::chrono::steady_clock::now();
    std::int64_t rate_second = -1;
    std::uint64_t rate_current = 0, rate_last = 0;

    // X-Request-Id: a random prefix and a counter, cheap and unique per process run.
    std::uint64_t request_prefix = 0, request_counter = 0;
    // The Date header changes once a second; format it once a second.
    std::time_t date_second = 0;
    char date_text[40] = {};
    std::size_t date_length = 0;

    time_point model_now() const { return opts.static_world ? started_at : sim_clock::now(); }

    void make_request_id(char (&out)[32]) {
        static constexpr char hex[] = "0123456789abcdef";
        auto a = request_prefix, b = ++request_counter;
        for (int i = 15; i >= 0; --i, a >>= 4)
            out[i] = hex[a & 0xf];
        for (int i = 31; i >= 16; --i, b >>= 4)
            out[i] = hex[b & 0xf];
    }

    std::string_view date_header() {
        auto now = std::time(nullptr);
        if (now != date_second) {
            date_second = now;
            std::tm tm{};
            gmtime_r(&now, &tm);
            date_length =
                std::strftime(date_text, sizeof date_text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        }
        return {date_text, date_length};
    }

    http::server_response respond(unsigned status, std::string body, std::string_view request_id) {
        http::server_response res{static_cast<bhttp::status>(status), 11};
        res.set(bhttp::field::content_type, "application/json");
        res.set(bhttp::field::date, date_header());
        res.set("X-Request-Id", request_id);
        res.body() = std::move(body);
        return res;
    }

    http::server_response error(unsigned status, std::string_view code, std::string_view msg,
                                std::string_view request_id) {
        json::object o{{"error_code", code}, {"error_msg", msg}, {"request_id", request_id}};
        return respond(status, to_text(o), request_id);
    }

    http::server_response auth_error(const auth_failure& f, std::string_view request_id) {
        if (!f.iam_style) return error(f.status, f.error_code, f.error_msg, request_id);
        json::object o{{"error", json::object{{"code", std::to_string(f.status)},
                                              {"message", f.error_msg},
                                              {"title", status_title(f.status)}}}};
        return respond(f.status, to_text(o), request_id);
    }

    /// Counts a request answered with `status` (0: none, a reset or a hang).
    http::reply finish(request_kind kind, http::reply r, unsigned status) {
        ++requests_total;
        ++by_kind[static_cast<std::size_t>(kind)];
        if (status < by_status.size()) ++by_status[status];
        auto sec = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now() - started_steady)
                       .count();
        if (sec != rate_second) {
            rate_last = sec == rate_second + 1 ? rate_current : 0;
            rate_second = sec;
            rate_current = 0;
        }
        ++rate_current;
        return r;
    }
    http::reply finish(request_kind kind, http::reply r) {
        const unsigned status = r.takeover ? 0 : r.response.result_int();
        return finish(kind, std::move(r), status);
    }
    /// --split-writes: the head goes out in one write and the body in the next (as one chunk of
    /// a chunked answer), as from gateways that stream, so a client wakes up once for each.
    http::reply split_if_asked(http::reply r) const {
        if (!opts.split_writes || r.takeover || r.stream || r.response.body().empty()) return r;
        std::string body = std::move(r.response.body());
        r.response.body().clear();
        return http::reply::streamed(std::move(r.response),
                                     [body = std::move(body)](std::string& out) {
                                         out.append(body);
                                         return false;
                                     });
    }

    static asio::awaitable<http::reply> handle(std::shared_ptr<impl> self,
                                               http::request_context ctx);
    http::reply serve_api(const http::request_context& ctx, request_kind kind,
                          const path_segments& p, std::string_view query,
                          std::string_view request_id);
    http::reply serve_control(const http::request_context& ctx, const path_segments& p,
                              std::string_view request_id);
    http::reply fault_reply(fault_kind k, unsigned retry_after, std::string_view request_id);
    json::object stats_json() const;
    asio::awaitable<void> spawn_loop();
};

request_kind classify(bhttp::verb method, const path_segments& p) {
    if (p.too_many) return request_kind::unknown;
    const bool get = method == bhttp::verb::get || method == bhttp::verb::head;
    if (p.n == 3 && p.seg[0] == "v3" && p.seg[1] == "auth" && p.seg[2] == "tokens")
        return method == bhttp::verb::post ? request_kind::token : request_kind::unknown;
    if (p.seg[0] != "v2" || !get || p.n < 3 || p.seg[2] != "datasets" || p.seg[1].empty())
        return request_kind::unknown;
    if (p.n == 3) return request_kind::list_datasets;
    if (p.n >= 5 && (p.seg[3].empty() || p.seg[4] != "tasks")) return request_kind::unknown;
    if (p.n == 5) return request_kind::list_tasks;
    if (p.n == 6 && !p.seg[5].empty()) return request_kind::get_task;
    return request_kind::unknown;
}

http::reply simulator::impl::fault_reply(fault_kind k, unsigned retry_after,
                                         std::string_view request_id) {
    switch (k) {
    case fault_kind::throttle:
    case fault_kind::throttle_retry: {
        auto res = error(429, "APIGW.0308",
                         "The throttling threshold has been reached: policy user over "
                         "ratelimit,limit:200,time:1 second",
                         request_id);
        if (k == fault_kind::throttle_retry)
            res.set(bhttp::field::retry_after, std::to_string(retry_after));
        return http::reply::respond(std::move(res));
    }
    case fault_kind::internal_error:
        return http::reply::respond(
            error(500, "ModelArts.0010", "Internal server error.", request_id));
    case fault_kind::bad_gateway:
        return http::reply::respond(error(502, "APIGW.0202", "Backend unavailable", request_id));
    case fault_kind::unavailable:
        return http::reply::respond(
            error(503, "ModelArts.2951", "The service is busy. Try again later.", request_id));
    case fault_kind::not_found:
        return http::reply::respond(
            error(400, "ModelArts.4338", "The task does not exist.", request_id));
    case fault_kind::reset:
        return reset_reply();
    case fault_kind::hang:
        return hang_reply();
    default:
        return reset_reply(); // not reached: latency, malformed-json, truncate, tls-handshake
    }
}

asio::awaitable<http::reply> simulator::impl::handle(std::shared_ptr<impl> self,
                                                     http::request_context ctx) {
    if (!self) co_return reset_reply(); // the simulator is gone
    char id_buf[32];
    self->make_request_id(id_buf);
    const std::string_view request_id(id_buf, sizeof id_buf);
    std::string_view target = ctx.target();
    const auto qmark = target.find('?');
    const auto path = target.substr(0, qmark);
    const auto query =
        qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

    const auto segments = split_path(path);
    if (segments.n >= 1 && segments.seg[0] == "sim")
        co_return self->finish(request_kind::control,
                               self->serve_control(ctx, segments, request_id));

    const auto kind = classify(ctx.method(), segments);
    auto decision = self->faults.pick(path);
    if (decision.kind)
        ++self->faults_by_kind[static_cast<std::size_t>(kind)]
                              [static_cast<std::size_t>(*decision.kind)];
    if (decision.delay.count() > 0) {
        asio::steady_timer delay(self->executor);
        delay.expires_after(decision.delay);
        co_await delay.async_wait(use_tuple);
    }
    if (decision.kind && *decision.kind != fault_kind::malformed_json &&
        *decision.kind != fault_kind::truncate)
        co_return self->finish(kind, self->split_if_asked(self->fault_reply(
                                         *decision.kind, decision.retry_after, request_id)));

    auto r = self->serve_api(ctx, kind, segments, query, request_id);
    // An intact answer shows the task's status to the client (a cut body does not).
    if (auto* t = std::exchange(self->answered_task, nullptr); t && !decision.kind)
        t->served_statuses |= status_bit(t->state.status);
    if (decision.kind == fault_kind::malformed_json) {
        auto& body = r.response.body();
        body.resize(std::max<std::size_t>(1, body.size() * 3 / 5)); // cut mid-document
    } else if (decision.kind == fault_kind::truncate) {
        const unsigned status = r.response.result_int(); // the head is sent: it has a status
        co_return self->finish(kind, truncated_reply(std::move(r.response), ctx.message.version()),
                               status);
    }
    co_return self->finish(kind, self->split_if_asked(std::move(r)));
}

http::reply simulator::impl::serve_api(const http::request_context& ctx, request_kind kind,
                                       const path_segments& p, std::string_view query,
                                       std::string_view request_id) {
    using http::reply;
    if (kind == request_kind::unknown)
        return reply::respond(error(
            404, "APIGW.0101",
            "The API does not exist or has not been published in the environment", request_id));
    const auto now = sim_clock::now();

    if (kind == request_kind::token) {
        auto t = gate.issue_token(ctx.body(), now);
        if (!t) return reply::respond(auth_error(t.error(), request_id));
        auto iso = [](time_point tp) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch())
                          .count() %
                      1000;
            std::string s = auth::format_sdk_date(tp); // YYYYMMDDTHHMMSSZ
            char buf[40];
            std::snprintf(buf, sizeof buf, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s.%03dZ", s.c_str(),
                          s.c_str() + 4, s.c_str() + 6, s.c_str() + 9, s.c_str() + 11,
                          s.c_str() + 13, static_cast<int>(ms));
            return std::string(buf);
        };
        json::object body{
            {"token", json::object{
                          {"expires_at", iso(t->expires_at)},
                          {"issued_at", iso(t->issued_at)},
                          {"methods", json::array{"password"}},
                          {"project", json::object{{"id", t->project_id}, {"name", t->project_id}}},
                          {"user", json::object{{"name", t->user},
                                                {"domain", json::object{{"name", t->domain}}}}},
                      }}};
        auto res = respond(201, to_text(body), request_id);
        res.set("X-Subject-Token", t->token);
        return reply::respond(std::move(res));
    }

    // Segments may arrive percent-encoded; ids are plain in practice, so decode only then.
    std::array<std::string, 3> decoded;
    std::array<std::string_view, 3> ids{p.seg[1], p.n > 3 ? p.seg[3] : std::string_view{},
                                        p.n > 5 ? p.seg[5] : std::string_view{}};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i].find('%') == std::string_view::npos) continue;
        auto d = detail::percent_decode(ids[i]);
        if (!d)
            return reply::respond(
                error(400, "ModelArts.4101", "Malformed %-escape in the path.", request_id));
        decoded[i] = std::move(*d);
        ids[i] = decoded[i];
    }
    const auto project = ids[0], dataset = ids[1], task_id = ids[2];

    if (!opts.no_auth) {
        auto who = gate.authenticate(ctx.message, now);
        if (!who) return reply::respond(auth_error(who.error(), request_id));
        if (who->token && who->token->project_id != project)
            return reply::respond(error(
                403, "ModelArts.0210",
                "The project ID in the URL does not match the project of the token.", request_id));
    }

    const auto model_time = model_now();
    if (kind == request_kind::get_task) {
        auto* t = tasks.find(dataset, task_id);
        if (!t || tasks.project_of(dataset) != project)
            return reply::respond(
                error(400, "ModelArts.4338", "The task does not exist.", request_id));
        tasks.refresh(*t, model_time);
        answered_task = t;
        return reply::respond(respond(200, task_body(*t), request_id));
    }

    // Paging parameters shared by both lists.
    auto int_param = [&](std::string_view key, long long dflt, long long lo, long long hi,
                         long long& out) -> bool {
        auto v = query_param(query, key);
        if (!v) {
            out = dflt;
            return true;
        }
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
        return !v->empty() && ec == std::errc{} && end == v->data() + v->size() && out >= lo &&
               out <= hi;
    };
    long long limit = 0, offset = 0;
    if (!int_param("limit", 10, 1, 100, limit))
        return reply::respond(error(400, "ModelArts.4101",
                                    "Invalid parameter: limit must be an integer from 1 to 100.",
                                    request_id));
    if (!int_param("offset", 0, 0, 1LL << 40, offset))
        return reply::respond(error(400, "ModelArts.4101",
                                    "Invalid parameter: offset must be an integer >= 0.",
                                    request_id));
    const auto skip =
        static_cast<std::size_t>(opts.list_offset == offset_mode::pages ? offset * limit : offset);

    if (kind == request_kind::list_datasets) {
        json::array items;
        std::size_t total = 0;
        for (const auto& d : tasks.datasets()) {
            if (tasks.project_of(d) != project) continue;
            if (total++ < skip || items.size() >= static_cast<std::size_t>(limit)) continue;
            items.push_back(json::object{{"dataset_id", d},
                                         {"dataset_name", "dataset-" + d.substr(0, 6)},
                                         {"dataset_type", 0},
                                         {"data_format", "Default"}});
        }
        json::object body{{"total_number", total}, {"datasets", std::move(items)}};
        return reply::respond(respond(200, to_text(body), request_id));
    }

    // list_tasks
    if (!tasks.has_dataset(dataset) || tasks.project_of(dataset) != project)
        return reply::respond(
            error(400, "ModelArts.4352", "The dataset does not exist.", request_id));
    std::vector<task_type> types{task_type::auto_label, task_type::pre_label};
    if (auto type = query_param(query, "type")) {
        auto t = parse_task_type(*type);
        if (!t)
            return reply::respond(
                error(400, "ModelArts.4101",
                      "Invalid parameter: type must be auto-label, pre-label or auto-grouping.",
                      request_id));
        types = {*t};
    }
    auto name = query_param(query, "task_name").value_or(std::string{});
    auto found = tasks.list(dataset, types, name);
    json::array items;
    bool running = false;
    for (std::size_t i = 0; i < found.size(); ++i) {
        tasks.refresh(*found[i], model_time);
        const auto st = found[i]->state.status;
        if (st == task_status::queuing || st == task_status::initializing ||
            st == task_status::running)
            running = true;
        if (i >= skip && items.size() < static_cast<std::size_t>(limit))
            items.push_back(task_list_item_json(*found[i]));
    }
    json::object body{{"tasks", std::move(items)},
                      {"total_count", found.size()},
                      {"exist_running_deploy_task", running}};
    return reply::respond(respond(200, to_text(body), request_id));
}

http::reply simulator::impl::serve_control(const http::request_context& ctx, const path_segments& p,
                                           std::string_view request_id) {
    using http::reply;
    auto bad = [&](std::string_view msg) {
        return reply::respond(error(400, "SIM.0400", msg, request_id));
    };
    auto ok = [&](unsigned status, const json::value& v) {
        return reply::respond(respond(status, to_text(v), request_id));
    };
    auto no_content = [&] {
        auto res = respond(204, {}, request_id);
        res.erase(bhttp::field::content_type);
        return reply::respond(std::move(res));
    };
    if (!ctx.remote_is_loopback)
        return reply::respond(
            error(403, "SIM.0403", "The control API answers loopback peers only.", request_id));

    const auto m = ctx.method();
    const auto body_json = [&]() -> expected<json::value, std::string> {
        boost::system::error_code ec;
        auto v = json::parse(ctx.body().empty() ? std::string_view("{}") : ctx.body(), ec);
        if (ec) return unexpected("the body is not JSON: " + ec.message());
        return v;
    };
    const auto method_not_allowed = [&] {
        return reply::respond(
            error(405, "SIM.0405", "Method not allowed on this control endpoint.", request_id));
    };
    const auto now = model_now();
    const std::string_view what = p.n >= 2 ? p.seg[1] : std::string_view{};

    if (what == "tasks" && p.n == 2) {
        if (m == bhttp::verb::get) {
            json::array items;
            for (auto* t : tasks.all()) {
                tasks.refresh(*t, now);
                items.push_back(control_item(tasks, *t));
            }
            return ok(200,
                      json::object{{"tasks", std::move(items)}, {"total_count", tasks.size()}});
        }
        if (m != bhttp::verb::post) return method_not_allowed();
        auto v = body_json();
        if (!v) return bad(v.error());
        if (!v->is_object()) return bad("the body must be a JSON object");
        const auto& o = v->get_object();
        auto patch = parse_patch(o, true);
        if (!patch) return bad(patch.error());
        task_spec spec;
        auto str = [&](std::string_view key, std::string& out) -> bool {
            auto* f = o.if_contains(key);
            if (!f) return true;
            if (!f->is_string()) return false;
            out = std::string(f->get_string());
            return true;
        };
        std::string type, fate;
        if (!str("dataset_id", spec.dataset_id) || !str("project_id", spec.project_id) ||
            !str("task_id", spec.task_id) || !str("type", type) || !str("fate", fate))
            return bad("dataset_id, project_id, task_id, type and fate must be strings");
        if (patch->task_name) spec.task_name = *patch->task_name;
        if (!type.empty()) {
            spec.type = parse_task_type(type);
            if (!spec.type) return bad("type must be auto-label, pre-label or auto-grouping");
        }
        if (!fate.empty()) {
            if (fate == "succeed")
                spec.fate = task_fate::succeed;
            else if (fate == "fail")
                spec.fate = task_fate::fail;
            else if (fate == "stop")
                spec.fate = task_fate::stop;
            else
                return bad("fate must be succeed, fail or stop");
        }
        if (!spec.project_id.empty() && spec.dataset_id.empty())
            return bad("project_id needs a dataset_id (a new dataset's project)");
        try {
            auto& t = tasks.add(spec, now);
            if (!patch_is_empty(*patch)) tasks.apply(t, *patch, now);
            return ok(201, control_item(tasks, t));
        } catch (const std::invalid_argument& e) {
            return reply::respond(error(409, "SIM.0409", e.what(), request_id));
        }
    }
    if (what == "tasks" && p.n == 3) {
        auto* t = tasks.find(p.seg[2]);
        if (!t) return reply::respond(error(404, "SIM.0404", "No such task.", request_id));
        if (m == bhttp::verb::get) {
            tasks.refresh(*t, now);
            return ok(200, control_item(tasks, *t));
        }
        if (m == bhttp::verb::delete_) {
            tasks.remove(t->dataset_id, t->task_id);
            return no_content();
        }
        if (m != bhttp::verb::patch && m != bhttp::verb::put && m != bhttp::verb::post)
            return method_not_allowed();
        auto v = body_json();
        if (!v) return bad(v.error());
        if (!v->is_object()) return bad("the body must be a JSON object");
        auto patch = parse_patch(v->get_object(), false);
        if (!patch) return bad(patch.error());
        tasks.refresh(*t, now); // start from the current state, then override
        tasks.apply(*t, *patch, now);
        return ok(200, control_item(tasks, *t));
    }
    if (what == "datasets" && p.n == 2) {
        if (m != bhttp::verb::get) return method_not_allowed();
        json::array items;
        for (const auto& d : tasks.datasets())
            items.push_back(json::object{{"dataset_id", d},
                                         {"project_id", tasks.project_of(d)},
                                         {"task_count", tasks.list(d, {}).size()}});
        return ok(200, json::object{{"datasets", std::move(items)}});
    }
    if (what == "faults" && p.n == 2) {
        if (m == bhttp::verb::get) {
            json::array items;
            for (const auto& r : faults.rules())
                items.push_back(to_json(r));
            return ok(200, json::object{{"faults", std::move(items)}});
        }
        if (m == bhttp::verb::delete_) {
            faults.clear();
            return no_content();
        }
        if (m != bhttp::verb::post) return method_not_allowed();
        auto v = body_json();
        if (!v) return bad(v.error());
        std::vector<fault_rule> rules;
        const json::value* list = v->is_object() ? v->get_object().if_contains("faults") : nullptr;
        if (list && list->is_array()) {
            for (const auto& item : list->get_array()) {
                auto r = parse_fault_json(item);
                if (!r) return bad(r.error());
                rules.push_back(std::move(*r));
            }
        } else {
            auto r = parse_fault_json(*v);
            if (!r) return bad(r.error());
            rules.push_back(std::move(*r));
        }
        json::array added;
        for (auto& r : rules) {
            added.push_back(to_json(r));
            faults.add(std::move(r));
        }
        return ok(201, json::object{{"added", std::move(added)}});
    }
    if (what == "stats" && p.n == 2) {
        if (m == bhttp::verb::get) return ok(200, stats_json());
        if (m != bhttp::verb::delete_) return method_not_allowed();
        by_kind = {};
        by_status = {};
        faults_by_kind = {};
        requests_total = 0;
        stats_since = std::chrono::steady_clock::now();
        return no_content();
    }
    if (what == "transitions" && p.n == 2) {
        if (m == bhttp::verb::delete_) {
            tasks.transitions().clear();
            return no_content();
        }
        if (m != bhttp::verb::get) return method_not_allowed();
        const auto target = ctx.target();
        const auto qmark = target.find('?');
        std::uint64_t since = 0;
        if (qmark != std::string_view::npos) {
            if (auto v = query_param(target.substr(qmark + 1), "since")) {
                auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), since);
                if (v->empty() || ec != std::errc{} || end != v->data() + v->size())
                    return bad("since must be a sequence number (an unsigned integer)");
            }
        }
        const auto& log = tasks.transitions();
        json::array items;
        for (const auto& tr : log.entries()) {
            if (tr.seq <= since) continue;
            const auto* t = tasks.find(tr.task_id);
            items.push_back(json::object{
                {"seq", tr.seq},
                {"task_id", tr.task_id},
                {"from", to_string(tr.from)},
                {"to", to_string(tr.to)},
                {"at_ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(tr.at.time_since_epoch())
                     .count()},
                {"served", t && (t->served_statuses & status_bit(tr.to)) != 0}});
        }
        return ok(200, json::object{{"transitions", std::move(items)},
                                    {"recorded", log.recorded()},
                                    {"dropped", log.dropped()},
                                    {"capacity", log.capacity()}});
    }
    if (what == "tokens" && p.n == 3 && p.seg[2] == "expire") {
        if (m != bhttp::verb::post) return method_not_allowed();
        gate.expire_tokens(sim_clock::now());
        return no_content();
    }
    return reply::respond(
        error(404, "SIM.0404", "Unknown control endpoint; see modelarts-sim --help.", request_id));
}

json::object simulator::impl::stats_json() const {
    json::object kinds, statuses, injected;
    for (std::size_t i = 0; i < kind_names.size(); ++i)
        kinds[kind_names[i]] = by_kind[i];
    for (std::size_t s = 0; s < by_status.size(); ++s)
        if (by_status[s]) statuses[s == 0 ? std::string("none") : std::to_string(s)] = by_status[s];
    for (std::size_t i = 0; i < fault_kind_count; ++i)
        if (faults.injected()[i])
            injected[to_string(static_cast<fault_kind>(i))] = faults.injected()[i];
    json::object injected_by_request;
    for (std::size_t k = 0; k < kind_names.size(); ++k) {
        json::object per;
        for (std::size_t i = 0; i < fault_kind_count; ++i)
            if (faults_by_kind[k][i])
                per[to_string(static_cast<fault_kind>(i))] = faults_by_kind[k][i];
        if (!per.empty()) injected_by_request[kind_names[k]] = std::move(per);
    }
    const auto now = std::chrono::steady_clock::now();
    const auto since = std::chrono::duration<double>(now - stats_since).count();
    const auto sec = std::chrono::duration_cast<std::chrono::seconds>(now - started_steady).count();
    const auto last_second = sec == rate_second + 1 ? rate_current
                             : sec == rate_second   ? rate_last
                                                    : 0;
    json::object o{
        {"uptime_seconds", std::chrono::duration<double>(now - started_steady).count()},
        {"requests_total", requests_total},
        {"requests_by_kind", std::move(kinds)},
        {"requests_by_status", std::move(statuses)},
        {"requests_per_second", last_second},
        {"requests_per_second_average",
         since > 0 ? static_cast<double>(requests_total) / since : 0.0},
        {"cpu_user_seconds", cpu_seconds(true)},
        {"cpu_system_seconds", cpu_seconds(false)},
        {"cpu_seconds", cpu_seconds(true) + cpu_seconds(false)},
        {"faults_injected", std::move(injected)},
        {"faults_by_request_kind", std::move(injected_by_request)},
        {"tasks", tasks.size()},
        {"tokens_issued", gate.tokens_issued()},
    };
    if (server) {
        auto s = server->stats();
        o["connections_accepted"] = s.connections_accepted;
        o["connections_active"] = s.connections_active;
        o["connections_rejected"] = s.connections_rejected;
        o["handshakes_failed"] = s.handshakes_failed;
        o["bad_requests"] = s.bad_requests;
        o["timeouts"] = s.timeouts;
    }
    return o;
}

asio::awaitable<void> simulator::impl::spawn_loop() {
    auto self = shared_from_this();
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / opts.spawn_rate));
    auto next = std::chrono::steady_clock::now() + interval;
    while (!stopping) {
        spawn_timer.expires_at(next);
        auto [ec] = co_await spawn_timer.async_wait(use_tuple);
        if (ec || stopping) co_return;
        tasks.add_generated(model_now());
        next += interval;
    }
}

simulator::simulator(asio::any_io_executor ex, sim_options opts)
    : impl_(std::make_shared<impl>(ex, std::move(opts))) {}

simulator::~simulator() {
    if (impl_) {
        impl_->stopping = true;
        impl_->spawn_timer.cancel();
    }
}

void simulator::start() {
    auto& o = impl_->opts;
    http::server_options so;
    auto listen = http::parse_listen_address(o.listen);
    if (!listen) throw start_error(listen.error());
    so.listen = *listen;
    std::shared_ptr<asio::ssl::context> tls;
    try {
        if (o.self_signed_dir) {
            auto files = write_self_signed(*o.self_signed_dir);
            impl_->ca_file = files.ca_cert;
            tls = http::make_server_tls_context(files.server_cert, files.server_key);
        } else if (o.cert_file && o.key_file) {
            tls = http::make_server_tls_context(*o.cert_file, *o.key_file);
        }
    } catch (const std::exception& e) {
        throw start_error(e.what());
    }
    so.body_limit = o.body_limit;
    so.max_connections = o.max_connections;
    so.request_timeout = o.request_timeout;
    so.server_header = "api-gateway";
    std::weak_ptr<impl> weak = impl_;
    if (tls)
        so.tls_provider = tls_failing_handshakes(std::move(tls), [weak] {
            auto self = weak.lock();
            return self && self->faults.pick_handshake_failure();
        });
    auto handler = [weak](const http::request_context& ctx) -> asio::awaitable<http::reply> {
        return impl::handle(weak.lock(), ctx);
    };
    impl_->server =
        std::make_unique<http::server>(impl_->executor, std::move(so), std::move(handler));
    try {
        impl_->server->start();
    } catch (const http::server_error& e) {
        throw start_error(e.what());
    }
    if (o.spawn_rate > 0) {
        asio::co_spawn(impl_->executor, impl_->spawn_loop(), [](std::exception_ptr ep) {
            if (!ep) return;
            try {
                std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "modelarts-sim: task spawner stopped: %s\n", e.what());
            }
        });
    }
}

std::string simulator::url() const {
    auto ep = impl_->server ? impl_->server->local_endpoint() : asio::ip::tcp::endpoint{};
    auto addr =
        ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    return std::string(impl_->server && impl_->server->tls() ? "https://" : "http://") + addr +
           ":" + std::to_string(ep.port());
}

std::uint16_t simulator::port() const {
    return impl_->server ? impl_->server->port() : 0;
}
std::optional<std::string> simulator::ca_file() const {
    return impl_->ca_file;
}

asio::awaitable<void> simulator::async_stop(std::chrono::milliseconds drain) {
    auto self = impl_;
    self->stopping = true;
    self->spawn_timer.cancel();
    if (self->server) co_await self->server->async_stop(drain);
}

void simulator::stop(std::function<void()> done, std::chrono::milliseconds drain) {
    asio::co_spawn(impl_->executor, async_stop(drain),
                   [done = std::move(done)](std::exception_ptr ep) {
                       if (ep) {
                           try {
                               std::rethrow_exception(ep);
                           } catch (const std::exception& e) {
                               std::fprintf(stderr, "modelarts-sim: stop: %s\n", e.what());
                           }
                       }
                       if (done) done();
                   });
}

world& simulator::tasks() {
    return impl_->tasks;
}
fault_plan& simulator::faults() {
    return impl_->faults;
}
gateway& simulator::auth() {
    return impl_->gate;
}
json::object simulator::stats() const {
    return impl_->stats_json();
}

} // namespace taskwatch::sim
