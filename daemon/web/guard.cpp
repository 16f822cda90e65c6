// The web guard: reload on change, rate limit, Basic auth with bcrypt off the event loop,
// extra headers.
//
// bcrypt runs on a one-thread pool, not on the io_context thread: a check costs ~60 ms at
// cost 10 (seconds at high costs), and every distinct wrong password costs one, so on the
// event loop a stream of bad credentials would stall polling, webhooks and every other
// request. One thread caps the CPU spent on it (as exporter-toolkit's mutex does) and
// max_pending_checks bounds the queue. Cached successes never leave the event loop.
#include "taskwatch/web/guard.hpp"

#include "taskwatch/web/basic_auth.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <variant>

namespace taskwatch::web {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

/// What stat says about a file: a change in any field means "read it again".
struct file_state {
    int error = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    long mtime_sec = 0, mtime_nsec = 0, ctime_sec = 0, ctime_nsec = 0;
    bool operator==(const file_state&) const = default;
};

file_state stat_file(const std::string& path) {
    struct stat st {};
    file_state s;
    if (::stat(path.c_str(), &st) != 0) {
        s.error = errno;
        return s;
    }
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime_sec = st.st_mtim.tv_sec;
    s.mtime_nsec = st.st_mtim.tv_nsec;
    // ctime too: a chmod that makes an unreadable key readable changes only ctime.
    s.ctime_sec = st.st_ctim.tv_sec;
    s.ctime_nsec = st.st_ctim.tv_nsec;
    return s;
}

using watch_list = std::vector<std::pair<std::string, file_state>>;

http::server_response status_response(bhttp::status status, std::string body) {
    http::server_response res{status, 11};
    if (!body.empty()) res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    return res;
}

std::string describe(const web_config& c) {
    std::string s = c.tls ? "HTTPS" : "plain HTTP";
    s += ", " + std::to_string(c.basic_auth_users.size()) + " basic-auth user(s)";
    if (c.tls && c.tls->options.client_certs != http::client_cert_policy::none)
        s += ", client certificates";
    if (c.rate_limit.enabled()) s += ", rate limit";
    if (!c.http.headers.empty()) s += ", " + std::to_string(c.http.headers.size()) + " header(s)";
    return s;
}

} // namespace

struct web_guard::impl {
    std::string path;
    guard_options opts;
    bool tls_mode = false;
    bool closed = false;
    std::shared_ptr<const web_config> current;
    std::shared_ptr<asio::ssl::context> tls_context;
    std::shared_ptr<basic_auth> users; ///< replaced (with its cache) on every reload
    watch_list watched;
    clock_type::time_point next_check{};
    double tokens = 0;
    clock_type::time_point last_refill{};
    guard_stats counters;
    std::size_t pending_checks = 0;
    asio::thread_pool pool{1};

    void log(log::level l, std::string_view message, std::string_view detail) const {
        opts.log(l, message, detail);
    }

    watch_list states(const file_state& main, const std::vector<std::string>& referenced) const {
        watch_list w{{path, main}};
        for (const auto& f : referenced)
            if (std::none_of(w.begin(), w.end(), [&](const auto& e) { return e.first == f; }))
                w.emplace_back(f, stat_file(f));
        return w;
    }

    void apply(std::shared_ptr<const web_config> fresh) {
        const bool fresh_tls = fresh->tls.has_value();
        if (fresh_tls != tls_mode)
            log(log::level::warn,
                tls_mode ? "web config: switching from HTTPS to plain HTTP needs a restart; "
                           "still serving HTTPS with the previous certificate"
                         : "web config: switching from plain HTTP to HTTPS needs a restart; "
                           "still serving plain HTTP",
                path);
        if (tls_mode && fresh_tls) tls_context = fresh->tls->context;
        if (!current || current->rate_limit.interval != fresh->rate_limit.interval ||
            current->rate_limit.burst != fresh->rate_limit.burst) {
            tokens = fresh->rate_limit.burst;
            last_refill = clock_type::now();
        }
        users = std::make_shared<basic_auth>(fresh->basic_auth_users);
        for (const auto& note : fresh->notes)
            log(log::level::info, "web config: accepted but not honoured", note);
        current = std::move(fresh);
    }

    bool load_now(const file_state& before) {
        std::vector<std::string> referenced;
        try {
            auto fresh = std::make_shared<const web_config>(load_web_config(path, &referenced));
            watched = states(before, referenced);
            apply(fresh);
            ++counters.reloads;
            log(log::level::info, "web config reloaded", path + ": " + describe(*current));
            return true;
        } catch (const std::exception& e) {
            // Watch what the broken version names too: creating a missing file fixes it.
            watched = states(before, referenced);
            ++counters.reload_failures;
            log(log::level::warn, "web config not reloaded, keeping the running one", e.what());
            return false;
        }
    }

    bool maybe_reload(bool force) {
        const auto now = clock_type::now();
        if (!force && now < next_check) return false;
        next_check = now + opts.check_interval;
        const auto before = stat_file(path);
        bool changed = before != watched.front().second;
        for (std::size_t i = 1; !changed && i < watched.size(); ++i)
            changed = stat_file(watched[i].first) != watched[i].second;
        return changed && load_now(before);
    }

    bool take_token() {
        const auto& rl = current->rate_limit;
        if (!rl.enabled()) return true;
        const auto now = clock_type::now();
        const double per = std::chrono::duration<double>(rl.interval).count();
        tokens = std::min<double>(
            rl.burst, tokens + std::chrono::duration<double>(now - last_refill).count() / per);
        last_refill = now;
        if (tokens < 1) return false;
        tokens -= 1;
        return true;
    }
};

namespace {

asio::awaitable<bool> async_bcrypt_verify(detail::secret password, std::string hash) {
    co_return bcrypt_verify(password.reveal(), hash);
}

// Keeps pending_checks right whichever way the check ends.
struct pending_slot {
    std::shared_ptr<web_guard::impl> g;
    explicit pending_slot(std::shared_ptr<web_guard::impl> p)
        : g(std::move(p)) {
        ++g->pending_checks;
    }
    ~pending_slot() { --g->pending_checks; }
    pending_slot(const pending_slot&) = delete;
    pending_slot& operator=(const pending_slot&) = delete;
};

http::reply with_headers(const web_config& c, http::reply r) {
    for (const auto& [name, value] : c.http.headers)
        r.response.set(name, value);
    return r;
}

asio::awaitable<http::reply> async_guarded(std::shared_ptr<web_guard::impl> g,
                                           std::shared_ptr<const http::handler> inner,
                                           http::request_context ctx) {
    g->maybe_reload(false);
    const auto cfg = g->current; // this request sees one config from start to end

    if (g->closed)
        co_return with_headers(*cfg, http::reply::respond(status_response(
                                         bhttp::status::service_unavailable, "shutting down\n")));
    if (!g->take_token()) {
        ++g->counters.rate_limited;
        auto res = status_response(bhttp::status::too_many_requests, "Too Many Requests\n");
        const auto retry = std::chrono::ceil<std::chrono::seconds>(cfg->rate_limit.interval);
        res.set(bhttp::field::retry_after, std::to_string(std::max<long long>(retry.count(), 1)));
        co_return with_headers(*cfg, http::reply::respond(std::move(res)));
    }

    if (auto users = g->users; users->enabled()) {
        bool ok = false;
        if (auto creds = parse_basic_authorization(ctx.header(bhttp::field::authorization))) {
            auto step = users->begin(creds->user, creds->password.reveal());
            if (const bool* cached = std::get_if<bool>(&step)) {
                ok = *cached;
                ++g->counters.cache_hits;
            } else {
                if (g->pending_checks >= g->opts.max_pending_checks) {
                    ++g->counters.overloaded;
                    auto res = status_response(bhttp::status::service_unavailable,
                                               "too many authentication checks at once\n");
                    res.set(bhttp::field::retry_after, "1");
                    co_return with_headers(*cfg, http::reply::respond(std::move(res)));
                }
                auto pending = std::get<basic_auth::pending>(std::move(step));
                bool matched = false;
                {
                    pending_slot slot(g);
                    matched = co_await asio::co_spawn(
                        g->pool, async_bcrypt_verify(creds->password, pending.hash),
                        asio::use_awaitable);
                }
                ++g->counters.bcrypt_runs;
                ok = users->finish(pending, matched);
            }
        }
        if (!ok) {
            ++g->counters.unauthorized;
            auto res = status_response(bhttp::status::unauthorized, "");
            res.set(bhttp::field::www_authenticate, "Basic realm=\"" + g->opts.realm + "\"");
            co_return with_headers(*cfg, http::reply::respond(std::move(res)));
        }
    }

    auto r = co_await (*inner)(ctx);
    co_return with_headers(*cfg, std::move(r));
}

} // namespace

web_guard::web_guard(std::string path, guard_options o)
    : impl_(std::make_shared<impl>()) {
    impl_->path = std::move(path);
    impl_->opts = std::move(o);
    if (!impl_->opts.log)
        impl_->opts.log = [file = impl_->path](log::level l, std::string_view message,
                                               std::string_view detail) {
            log::write(l, message,
                       {{"file", file}, {l >= log::level::warn ? "error" : "detail", detail}});
        };
    const auto before = stat_file(impl_->path);
    std::vector<std::string> referenced;
    auto first = std::make_shared<const web_config>(load_web_config(impl_->path, &referenced));
    impl_->tls_mode = first->tls.has_value();
    if (impl_->tls_mode) impl_->tls_context = first->tls->context;
    impl_->watched = impl_->states(before, referenced);
    impl_->apply(first);
    impl_->next_check = clock_type::now() + impl_->opts.check_interval;
    impl_->log(log::level::info, "web config loaded", impl_->path + ": " + describe(*first));
}

web_guard::~web_guard() {
    impl_->closed = true;
    impl_->pool.join();
}

bool web_guard::tls() const {
    return impl_->tls_mode;
}

std::function<std::shared_ptr<asio::ssl::context>()> web_guard::tls_provider() const {
    if (!impl_->tls_mode) return {};
    return [g = impl_] {
        g->maybe_reload(false);
        return g->tls_context;
    };
}

http::handler web_guard::wrap(http::handler inner) const {
    auto shared_inner = std::make_shared<const http::handler>(std::move(inner));
    return [g = impl_, shared_inner](const http::request_context& ctx) {
        return async_guarded(g, shared_inner, ctx);
    };
}

bool web_guard::reload_if_changed() {
    return impl_->maybe_reload(true);
}

std::shared_ptr<const web_config> web_guard::config() const {
    return impl_->current;
}

guard_stats web_guard::stats() const {
    return impl_->counters;
}

} // namespace taskwatch::web
