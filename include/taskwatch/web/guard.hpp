// What the HTTP server puts in front of its routes when `web_config_file` is set: the TLS
// context for each new connection, Basic authentication (401 without valid credentials),
// a rate limit, extra response headers; and reloading of the file when it changes.
#pragma once

#include "taskwatch/http/server.hpp"
#include "taskwatch/log/log.hpp"
#include "taskwatch/web/web_config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace taskwatch::web {

struct guard_options {
    /// The web config file and the files it names are stat'ed at most this often (on a new
    /// connection or request); a change is loaded at once. 0: on every connection and request.
    std::chrono::milliseconds check_interval{1000};
    /// bcrypt checks waiting or running at once; more are answered 503 with Retry-After.
    std::size_t max_pending_checks = 64;
    std::string realm = "taskwatch";
    /// Receives the guard's log lines (level, message, detail); default: taskwatch::log with
    /// fields file= and error=. Lines never hold a password or a hash.
    std::function<void(log::level, std::string_view message, std::string_view detail)> log;
};

struct guard_stats {
    std::uint64_t reloads = 0;         ///< changed files loaded and applied
    std::uint64_t reload_failures = 0; ///< changed files that were invalid (old config kept)
    std::uint64_t unauthorized = 0;    ///< answered 401
    std::uint64_t rate_limited = 0;    ///< answered 429
    std::uint64_t overloaded = 0;      ///< answered 503: too many bcrypt checks pending
    std::uint64_t bcrypt_runs = 0;     ///< in the current config's cache generation
    std::uint64_t cache_hits = 0;      ///< likewise
};

/// Not thread-safe: call it on the io_context thread the server runs on (the bcrypt work
/// goes to its own thread and comes back there). Destroy it after the server, before the
/// io_context.
class web_guard {
public:
    /// Loads `path`. Throws web_config_error (one line naming the file, the line and the key).
    explicit web_guard(std::string path, guard_options o = {});
    ~web_guard(); ///< waits for a bcrypt check still running (at most one, ~0.1 s)
    web_guard(const web_guard&) = delete;
    web_guard& operator=(const web_guard&) = delete;

    /// HTTPS or plain HTTP, as the file said at start; switching needs a restart.
    bool tls() const;

    /// For http::server_options::tls_provider: empty in plain mode; otherwise returns the
    /// context of the current config (checking the files first).
    std::function<std::shared_ptr<boost::asio::ssl::context>()> tls_provider() const;

    /// `inner` behind the guard: answers 429 over the rate limit, 401 (with
    /// `WWW-Authenticate: Basic realm="..."` and an empty body) without valid credentials,
    /// without calling `inner`; adds the configured headers to every answer.
    http::handler wrap(http::handler inner) const;

    /// Checks the files now (whatever check_interval says) and loads them if they changed.
    /// True when a new config was applied. An invalid file is logged once and the running
    /// config kept.
    bool reload_if_changed();

    std::shared_ptr<const web_config> config() const;
    guard_stats stats() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace taskwatch::web
