// HTTPS client: per-host keep-alive pools, FIFO queueing, one deadline per request.
#include "taskwatch/http/client.hpp"

#include "taskwatch/detail/base64.hpp"
#include "taskwatch/http/tls_context.hpp"
#include "taskwatch/http/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <exception>
#include <tuple>
#include <type_traits>

namespace taskwatch::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;
using error_code = boost::system::error_code;
using result = expected<response, transport_error>;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

transport_error make_error(failure kind, std::string message) {
    return transport_error{kind, std::move(message)};
}

// Beast's response_parser<string_body>, but keeping only the header fields asked for
// (client_options::response_headers): it allocates one element per field, and a poll reads
// one of the six or so a gateway sends. Status, body, keep-alive and limits as Beast's.
class response_reader final : public bhttp::basic_parser<false> {
public:
    explicit response_reader(const std::vector<std::string>& keep)
        : keep_(keep) {}

    response take() { return std::move(res_); }

private:
    bool wanted(beast::string_view name) const noexcept {
        if (keep_.empty()) return true;
        return std::any_of(keep_.begin(), keep_.end(),
                           [&](const std::string& k) { return beast::iequals(k, name); });
    }

    void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                         error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, error_code&) override {
        res_.status = static_cast<unsigned>(code);
    }
    void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                       error_code&) override {
        if (wanted(name)) res_.headers.insert(name, value);
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        // The length was checked against the body limit already.
        if (length) res_.body.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view body, error_code&) override {
        res_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
        res_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(error_code&) override {}

    const std::vector<std::string>& keep_;
    response res_;
};

// Over a plain socket: deadlines are kept by the client's deadline watch, not by
// beast::tcp_stream. TLS is our own tls_stream: see its header for why not Asio's.
using tcp_socket = tcp::socket;

struct connection {
    connection(const asio::any_io_executor& ex, ssl::context& ctx)
        : stream(ex, ctx) {
        // Beast reads max(512, free capacity) at a time, and a flat_buffer grows only as far
        // as a read needs: left alone it stays at 512 bytes, and a 700-byte answer takes two
        // reads, the second completing through a post. Room for a poll's whole answer instead
        // (a larger one grows it; every connection keeps what it grew to).
        buffer.reserve(4 * 1024);
    }

    tcp_socket& tcp() noexcept { return stream.next_layer(); }
    void close() noexcept {
        error_code ignored;
        tcp().close(ignored);
    }

    tls_stream stream;
    beast::flat_buffer buffer; // reused for every response on this connection
    // The parser of the response being read: here rather than in async_exchange's coroutine
    // frame, which is allocated for every request and is small enough to be recycled without.
    std::optional<response_reader> parser;
    steady::time_point idle_since{};
    steady::time_point idle_until{};
    steady::time_point deadline = steady::time_point::max(); // of the exchange under way
    bool connected = false;
    bool watched = false;   // in the deadline watch's list
    bool timed_out = false; // the watch closed it at its deadline
};

// After an operation on a connection the deadline watch may have closed: its error, or
// Beast's timeout when the deadline was the cause.
error_code effective(const connection& c, error_code ec) noexcept {
    return ec && c.timed_out ? error_code(beast::error::timeout) : ec;
}

struct host_pool;

// A request waiting for a connection; lives in the waiting coroutine's frame.
struct waiter {
    enum class outcome { waiting, granted, cancelled };

    waiter(const asio::any_io_executor& ex, host_pool& p)
        : timer(ex)
        , pool(&p) {}
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    ~waiter();

    asio::steady_timer timer; // fires at the deadline, cancelled to wake us early
    host_pool* pool;
    std::unique_ptr<connection> conn; // an idle connection handed over, or null for a new slot
    outcome state = outcome::waiting;
};

struct host_pool {
    host_pool(const asio::any_io_executor& ex, const endpoint& ep, const proxy_endpoint* via)
        : scheme(ep.scheme)
        , host(ep.host)
        , port(ep.port)
        , host_header(ep.host_header())
        , tls(ep.scheme == "https")
        , proxy(via)
        , sweep_timer(ex) {
        authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
        authority += ':';
        authority += std::to_string(port);
    }

    std::string scheme;
    std::string host;
    std::uint16_t port;
    std::string authority; // "host:port", for CONNECT and messages
    std::string host_header;
    bool tls;
    const proxy_endpoint* proxy; // null: direct

    std::deque<std::unique_ptr<connection>> idle; // back: most recently used; front: oldest
    std::deque<waiter*> waiters;                  // FIFO
    std::size_t open = 0;                         // idle + leased
    std::size_t busy = 0;                         // leased
    asio::steady_timer sweep_timer;
    bool sweeping = false;
};

waiter::~waiter() {
    // Still queued when the coroutine ends early (deadline, destruction): leave the queue.
    if (state == outcome::waiting) {
        auto& q = pool->waiters;
        q.erase(std::remove(q.begin(), q.end(), this), q.end());
    }
}

struct pool_key {
    std::string scheme;
    std::string host;
    std::uint16_t port;
};

struct pool_key_less {
    using is_transparent = void;
    template <class A, class B> bool operator()(const A& a, const B& b) const noexcept {
        // As string_views: clang 14 cannot compare tuples of string and string_view.
        using key = std::tuple<std::uint16_t, std::string_view, std::string_view>;
        return key(a.port, a.host, a.scheme) < key(b.port, b.host, b.scheme);
    }
};

struct pool_key_view {
    std::string_view scheme;
    std::string_view host;
    std::uint16_t port;
};

// An idle connection must have nothing to read: EOF, a reset, or stray bytes (say a TLS
// close_notify) mean the server is done with it. One non-blocking peek, no TLS involved.
bool idle_connection_usable(connection& c) noexcept {
    char byte = 0;
    const auto n = ::recv(c.tcp().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool is_stale_connection_error(const error_code& ec) noexcept {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

bool has_line_break(std::string_view s) noexcept {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

// The request as it goes on the wire, built in one string. Beast's serializer would build it
// from basic_fields (one allocation per header) through buffer-sequence views, which costs
// more than the request itself: most are GETs of a few hundred bytes. Names and values were
// checked for line breaks by the caller.
struct wire_request {
    bhttp::verb method = bhttp::verb::get;
    std::string bytes;
};

wire_request serialize_request(bhttp::verb method, std::string_view target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::string_view host_header, std::string_view user_agent,
                               std::string_view body) {
    const bool with_length = !body.empty() || method == bhttp::verb::post ||
                             method == bhttp::verb::put || method == bhttp::verb::patch;
    wire_request out;
    out.method = method;
    auto& b = out.bytes;
    std::size_t size = 64 + target.size() + host_header.size() + user_agent.size() + body.size();
    for (const auto& [name, value] : headers)
        size += name.size() + value.size() + 4;
    b.reserve(size);
    b += bhttp::to_string(method);
    b += ' ';
    b += target;
    b += " HTTP/1.1\r\n";
    bool has_host = false, has_agent = false;
    for (const auto& [name, value] : headers) {
        // Like Beast's prepare_payload: the length is ours to say.
        if (with_length &&
            (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")))
            continue;
        has_host = has_host || beast::iequals(name, "Host");
        has_agent = has_agent || beast::iequals(name, "User-Agent");
        b += name;
        b += ": ";
        b += value;
        b += "\r\n";
    }
    if (!has_host) {
        b += "Host: ";
        b += host_header;
        b += "\r\n";
    }
    if (!has_agent && !user_agent.empty()) {
        b += "User-Agent: ";
        b += user_agent;
        b += "\r\n";
    }
    if (with_length) {
        b += "Content-Length: ";
        b += std::to_string(body.size());
        b += "\r\n";
    }
    b += "\r\n";
    b += body;
    return out;
}

bool is_safe_method(bhttp::verb v) noexcept {
    return v == bhttp::verb::get || v == bhttp::verb::head || v == bhttp::verb::options;
}

// Name resolution runs in Asio's resolver thread and cannot be interrupted; the request
// stops waiting at its deadline and this state lives on until getaddrinfo returns.
struct resolve_call {
    explicit resolve_call(const asio::any_io_executor& ex)
        : resolver(ex)
        , done(ex) {}
    tcp::resolver resolver;
    asio::steady_timer done;
    error_code ec;
    std::vector<tcp::endpoint> endpoints;
    bool finished = false;
};

asio::awaitable<void> async_run_resolve(std::shared_ptr<resolve_call> call, std::string host,
                                        std::string port) {
    auto [ec, results] = co_await call->resolver.async_resolve(host, port, use_tuple);
    call->ec = ec;
    for (const auto& entry : results)
        call->endpoints.push_back(entry.endpoint());
    call->finished = true;
    call->done.cancel();
}

// Internal coroutines (sweeper, resolver) catch nothing that could escape; nothing to report.
struct ignore_exception_t {
    void operator()(const std::exception_ptr&) const noexcept {}
};
constexpr ignore_exception_t ignore_exception{};

} // namespace

// ---------------------------------------------------------------------------------------

struct client::impl : std::enable_shared_from_this<client::impl> {
    impl(asio::any_io_executor executor, client_options o);

    class lease;

    static asio::awaitable<result> async_send_guarded(std::shared_ptr<impl> self, endpoint ep,
                                                      request req, steady::time_point deadline);
    asio::awaitable<result> async_send(endpoint ep, request req, steady::time_point deadline);
    asio::awaitable<expected<lease, transport_error>> async_acquire(host_pool& pool,
                                                                    steady::time_point deadline);
    asio::awaitable<expected<ok_t, transport_error>> async_connect(host_pool& pool, connection& c,
                                                                   steady::time_point deadline);
    asio::awaitable<expected<std::vector<tcp::endpoint>, transport_error>>
    async_resolve(const std::string& host, std::uint16_t port, bool is_proxy,
                  steady::time_point deadline);
    // Under async_connect's deadline watch.
    asio::awaitable<expected<ok_t, transport_error>> async_tunnel(host_pool& pool, connection& c);

    struct exchange_state {
        bool stale = false; // died before any response byte: the server dropped it while idle
        bool nothing_written = false;
        bool keep_alive = false;
    };
    template <class Stream>
    asio::awaitable<result> async_exchange(Stream& stream, connection& c, const wire_request& msg,
                                           const host_pool& pool, steady::time_point deadline,
                                           exchange_state& st);

    static asio::awaitable<void> async_sweep(std::shared_ptr<impl> self, host_pool* pool);

    // Deadlines of exchanges. Beast's tcp_stream timeouts arm a timer for every read and
    // write and cancel it on completion, and each cancel is one more handler and poll of the
    // reactor per request. Here one timer waits for the earliest deadline of all exchanges,
    // re-armed only when it fires or when an earlier deadline comes along (rare: most share
    // one timeout); at a deadline, the connection is closed, which ends its operations.
    void watch(connection& c, steady::time_point deadline);
    void unwatch(connection& c) noexcept;
    void watch_until(steady::time_point at);
    void stop_watching() noexcept;
    void watch_fired();
    struct watch_scope {
        watch_scope(impl& owner, connection& conn, steady::time_point deadline)
            : self(owner)
            , c(conn) {
            self.watch(c, deadline);
        }
        watch_scope(const watch_scope&) = delete;
        watch_scope& operator=(const watch_scope&) = delete;
        ~watch_scope() { self.unwatch(c); }
        impl& self;
        connection& c;
    };

    host_pool& pool_for(const endpoint& ep);
    void release(host_pool& pool, std::unique_ptr<connection> conn);
    void discard(host_pool& pool, std::unique_ptr<connection> conn);
    void grant_slot(host_pool& pool);
    void start_sweeper(host_pool& pool);
    transport_error classify(const error_code& ec, std::string_view doing,
                             const host_pool& pool) const;
    pool_stats stats() const;
    void shutdown();

    asio::any_io_executor ex;
    client_options opts;
    ssl::context tls;
    std::optional<proxy_endpoint> proxy;
    std::string no_proxy;
    asio::steady_timer watch_timer;
    std::vector<connection*> watched;                           // exchanges under way
    steady::time_point watch_wakes = steady::time_point::max(); // max: timer not waiting
    std::uint64_t watch_generation = 0; // a wait of an older generation was superseded
    std::map<pool_key, std::unique_ptr<host_pool>, pool_key_less> pools;
    bool shut_down = false;
};

// A leased connection slot; returns it to the pool (closed) unless released for reuse.
class client::impl::lease {
public:
    lease(impl& owner, host_pool& pool, std::unique_ptr<connection> conn)
        : owner_(&owner)
        , pool_(&pool)
        , conn_(std::move(conn)) {}
    lease(lease&& o) noexcept
        : owner_(o.owner_)
        , pool_(std::exchange(o.pool_, nullptr))
        , conn_(std::move(o.conn_)) {}
    lease& operator=(lease&&) = delete;
    ~lease() {
        if (pool_ != nullptr) owner_->discard(*pool_, std::move(conn_));
    }

    connection& conn() noexcept { return *conn_; }
    void release() { owner_->release(*std::exchange(pool_, nullptr), std::move(conn_)); }
    /// Swaps a dead connection for a fresh one in the same slot, keeping our place.
    void renew() {
        conn_->close();
        conn_ = std::make_unique<connection>(owner_->ex, owner_->tls);
    }

private:
    impl* owner_;
    host_pool* pool_;
    std::unique_ptr<connection> conn_;
};

namespace {

proxy_endpoint proxy_from(std::string_view variable, std::string_view url) {
    auto parsed = parse_proxy_url(url);
    if (!parsed) throw setup_error(std::string(variable) + ": " + parsed.error());
    return std::move(*parsed);
}

const char* getenv_nonempty(const char* a, const char* b) {
    for (const char* name : {a, b})
        if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
    return nullptr;
}

} // namespace

client::impl::impl(asio::any_io_executor executor, client_options o)
    : ex(std::move(executor))
    , opts(std::move(o))
    , tls(make_client_tls_context(opts.ca_file))
    , watch_timer(ex) {
    if (opts.max_connections == 0) throw setup_error("max_connections must be at least 1");
    if (opts.proxy) {
        proxy = opts.proxy;
    } else if (opts.proxy_from_environment) {
        for (const char* name : {"HTTPS_PROXY", "https_proxy"})
            if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
                proxy = proxy_from(std::string("$") + name, v);
                break;
            }
    }
    if (const char* np = getenv_nonempty("NO_PROXY", "no_proxy")) no_proxy = np;
}

host_pool& client::impl::pool_for(const endpoint& ep) {
    auto it = pools.find(pool_key_view{ep.scheme, ep.host, ep.port});
    if (it != pools.end()) return *it->second;
    const proxy_endpoint* via = nullptr;
    if (proxy && ep.scheme == "https" && !no_proxy_matches(no_proxy, ep.host, ep.port))
        via = &*proxy;
    auto pool = std::make_unique<host_pool>(ex, ep, via);
    auto& ref = *pool;
    pools.emplace(pool_key{ep.scheme, ep.host, ep.port}, std::move(pool));
    return ref;
}

void client::impl::release(host_pool& pool, std::unique_ptr<connection> conn) {
    if (conn) conn->stream.trim(); // the exchange is over: a large answer's room goes
    if (shut_down) {
        discard(pool, std::move(conn));
        return;
    }
    if (!pool.waiters.empty()) {
        // Hand over directly: the slot stays busy, FIFO order is kept.
        waiter* w = pool.waiters.front();
        pool.waiters.pop_front();
        w->conn = std::move(conn);
        w->state = waiter::outcome::granted;
        w->timer.cancel();
        return;
    }
    conn->idle_since = steady::now();
    conn->idle_until = conn->idle_since + opts.idle_timeout;
    pool.idle.push_back(std::move(conn));
    --pool.busy;
    start_sweeper(pool);
}

void client::impl::discard(host_pool& pool, std::unique_ptr<connection> conn) {
    if (conn) conn->close();
    --pool.open;
    --pool.busy;
    grant_slot(pool);
}

void client::impl::grant_slot(host_pool& pool) {
    if (shut_down || pool.waiters.empty() || pool.open >= opts.max_connections) return;
    waiter* w = pool.waiters.front();
    pool.waiters.pop_front();
    ++pool.open;
    ++pool.busy;
    w->state = waiter::outcome::granted;
    w->timer.cancel();
}

void client::impl::start_sweeper(host_pool& pool) {
    if (pool.sweeping || shut_down) return;
    pool.sweeping = true;
    asio::co_spawn(ex, async_sweep(shared_from_this(), &pool), ignore_exception);
}

// One per pool while it has idle connections: closes each after idle_timeout.
asio::awaitable<void> client::impl::async_sweep(std::shared_ptr<impl> self, host_pool* pool) {
    while (!self->shut_down && !pool->idle.empty()) {
        pool->sweep_timer.expires_at(pool->idle.front()->idle_until);
        co_await pool->sweep_timer.async_wait(use_tuple);
        const auto now = steady::now();
        while (!pool->idle.empty() && pool->idle.front()->idle_until <= now) {
            pool->idle.front()->close();
            pool->idle.pop_front();
            --pool->open;
        }
    }
    pool->sweeping = false;
}

void client::impl::watch(connection& c, steady::time_point deadline) {
    c.deadline = deadline;
    if (!c.watched) {
        c.watched = true;
        watched.push_back(&c);
    }
    if (deadline < watch_wakes) watch_until(deadline);
}

void client::impl::unwatch(connection& c) noexcept {
    c.deadline = steady::time_point::max();
    if (!c.watched) return;
    c.watched = false;
    // The timer keeps its time: when it fires it finds nothing due and waits for the next.
    if (auto it = std::find(watched.begin(), watched.end(), &c); it != watched.end()) {
        *it = watched.back();
        watched.pop_back();
    }
    if (shut_down && watched.empty()) stop_watching();
}

void client::impl::stop_watching() noexcept {
    watch_wakes = steady::time_point::max();
    ++watch_generation;
    watch_timer.cancel();
}

void client::impl::watch_until(steady::time_point at) {
    watch_wakes = at;
    watch_timer.expires_at(at); // cancels a wait for a later time: its generation is over
    watch_timer.async_wait(
        [self = shared_from_this(), generation = ++watch_generation](const error_code& ec) {
            if (ec || generation != self->watch_generation) return;
            self->watch_fired();
        });
}

void client::impl::watch_fired() {
    watch_wakes = steady::time_point::max();
    const auto now = steady::now();
    auto next = steady::time_point::max();
    for (std::size_t i = 0; i < watched.size();) {
        connection& c = *watched[i];
        if (c.deadline <= now) {
            c.timed_out = true;
            c.watched = false;
            c.close();
            watched[i] = watched.back();
            watched.pop_back();
            continue;
        }
        next = std::min(next, c.deadline);
        ++i;
    }
    if (next != steady::time_point::max()) watch_until(next);
}

asio::awaitable<expected<client::impl::lease, transport_error>>
client::impl::async_acquire(host_pool& pool, steady::time_point deadline) {
    const auto now = steady::now();
    while (!pool.idle.empty()) {
        auto conn = std::move(pool.idle.back());
        pool.idle.pop_back();
        // Expired (the sweeper has not run yet) or closed by the server while idle: saves a
        // failed attempt, and a POST that could not be retried.
        // The peek costs a syscall, so hot connections (idle for microseconds) skip it.
        if (conn->idle_until <= now ||
            (now - conn->idle_since >= opts.idle_check_after && !idle_connection_usable(*conn))) {
            conn->close();
            --pool.open;
            continue;
        }
        ++pool.busy;
        co_return lease(*this, pool, std::move(conn));
    }
    if (pool.open < opts.max_connections) {
        ++pool.open;
        ++pool.busy;
        co_return lease(*this, pool, std::make_unique<connection>(ex, tls));
    }

    waiter w(ex, pool);
    w.timer.expires_at(deadline);
    pool.waiters.push_back(&w);
    co_await w.timer.async_wait(use_tuple);
    switch (w.state) {
    case waiter::outcome::granted:
        if (!w.conn) w.conn = std::make_unique<connection>(ex, tls);
        co_return lease(*this, pool, std::move(w.conn));
    case waiter::outcome::cancelled:
        co_return unexpected{
            make_error(failure::cancelled, "client shut down while waiting for a connection")};
    case waiter::outcome::waiting:
        break;
    }
    co_return unexpected{make_error(
        failure::timeout, "deadline passed while waiting for a free connection to " +
                              pool.authority + " (" + std::to_string(pool.busy) + " busy)")};
}

asio::awaitable<expected<std::vector<tcp::endpoint>, transport_error>>
client::impl::async_resolve(const std::string& host, std::uint16_t port, bool is_proxy,
                            steady::time_point deadline) {
    error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, port)};

    auto call = std::make_shared<resolve_call>(ex);
    call->done.expires_at(deadline);
    asio::co_spawn(ex, async_run_resolve(call, host, std::to_string(port)), ignore_exception);
    co_await call->done.async_wait(use_tuple);
    const std::string what = is_proxy ? "proxy " + host : host;
    if (!call->finished) {
        call->resolver.cancel();
        co_return unexpected{
            make_error(failure::timeout, "deadline passed while resolving " + what)};
    }
    if (call->ec || call->endpoints.empty()) {
        auto msg = "cannot resolve " + what + ": " +
                   (call->ec ? call->ec.message() : std::string("no addresses"));
        co_return unexpected{make_error(is_proxy ? failure::proxy : failure::dns, std::move(msg))};
    }
    co_return std::move(call->endpoints);
}

asio::awaitable<expected<ok_t, transport_error>>
client::impl::async_connect(host_pool& pool, connection& c, steady::time_point deadline) {
    const bool via_proxy = pool.proxy != nullptr;
    const std::string& host = via_proxy ? pool.proxy->server.host : pool.host;
    const std::uint16_t port = via_proxy ? pool.proxy->server.port : pool.port;

    auto endpoints = co_await async_resolve(host, port, via_proxy, deadline);
    if (!endpoints) co_return unexpected{std::move(endpoints).error()};

    watch_scope watching(*this, c, deadline); // connect, tunnel and handshake
    error_code ec = asio::error::host_not_found;
    for (const auto& address : *endpoints) {
        c.close(); // from a failed attempt: connect opens it anew
        auto [connect_ec] = co_await c.tcp().async_connect(address, use_tuple);
        ec = effective(c, connect_ec);
        if (!ec || c.timed_out) break;
    }
    if (!ec && c.timed_out) ec = beast::error::timeout;
    if (ec) {
        const std::string target =
            via_proxy ? "proxy " + pool.proxy->server.host_header() : pool.authority;
        if (ec == beast::error::timeout)
            co_return unexpected{
                make_error(failure::timeout, "deadline passed while connecting to " + target)};
        co_return unexpected{make_error(via_proxy ? failure::proxy : failure::connect,
                                        "cannot connect to " + target + ": " + ec.message())};
    }
    error_code ignored;
    c.tcp().set_option(tcp::no_delay(true), ignored); // requests are small: no Nagle delay

    if (via_proxy) {
        auto tunnel = co_await async_tunnel(pool, c);
        if (!tunnel) co_return unexpected{std::move(tunnel).error()};
    }

    if (pool.tls) {
        if (auto id = set_peer_identity(c.stream.native_handle(), pool.host); !id)
            co_return unexpected{make_error(failure::tls, std::move(id).error())};
        auto [handshake_ec] = co_await c.stream.async_handshake(use_tuple);
        auto hec = effective(c, handshake_ec);
        if (!hec && c.timed_out) hec = beast::error::timeout;
        if (hec) {
            if (hec == beast::error::timeout)
                co_return unexpected{
                    make_error(failure::timeout,
                               "deadline passed during the TLS handshake with " + pool.authority)};
            std::string msg = "TLS handshake with " + pool.authority + " failed: " + hec.message();
            if (auto reason = verify_failure_reason(c.stream.native_handle()); !reason.empty())
                msg += ": " + reason;
            co_return unexpected{make_error(failure::tls, std::move(msg))};
        }
    }
    c.connected = true;
    co_return ok;
}

asio::awaitable<expected<ok_t, transport_error>> client::impl::async_tunnel(host_pool& pool,
                                                                            connection& c) {
    const std::string proxy_name = "proxy " + pool.proxy->server.host_header();
    bhttp::request<bhttp::empty_body> req{bhttp::verb::connect, pool.authority, 11};
    req.set(bhttp::field::host, pool.authority);
    if (!pool.proxy->credentials.empty())
        req.set(bhttp::field::proxy_authorization,
                "Basic " + detail::base64_encode(pool.proxy->credentials));

    auto [write_ec, written] = co_await bhttp::async_write(c.tcp(), req, use_tuple);
    const auto wec = effective(c, write_ec);
    if (wec) {
        if (wec == beast::error::timeout)
            co_return unexpected{make_error(
                failure::timeout, "deadline passed while sending CONNECT to " + proxy_name)};
        co_return unexpected{
            make_error(failure::proxy, "sending CONNECT to " + proxy_name + ": " + wec.message())};
    }

    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true); // a CONNECT answer has no body: the tunnel follows the header
    parser.header_limit(opts.header_limit);
    auto [read_ec, got] = co_await bhttp::async_read(c.tcp(), c.buffer, parser, use_tuple);
    const auto rec = effective(c, read_ec);
    if (rec) {
        if (rec == beast::error::timeout)
            co_return unexpected{make_error(failure::timeout, "deadline passed while waiting for " +
                                                                  proxy_name +
                                                                  " to answer CONNECT")};
        co_return unexpected{make_error(failure::proxy, "reading the CONNECT answer from " +
                                                            proxy_name + ": " + rec.message())};
    }
    const auto& res = parser.get();
    if (res.result_int() / 100 != 2)
        co_return unexpected{make_error(failure::proxy, proxy_name + " refused CONNECT to " +
                                                            pool.authority + ": " +
                                                            std::to_string(res.result_int()) + " " +
                                                            std::string(res.reason()))};
    if (c.buffer.size() != 0)
        co_return unexpected{
            make_error(failure::proxy, proxy_name + " sent data before the TLS handshake")};
    co_return ok;
}

transport_error client::impl::classify(const error_code& ec, std::string_view doing,
                                       const host_pool& pool) const {
    const std::string where = std::string(doing) + " " + pool.authority;
    if (ec == beast::error::timeout)
        return make_error(failure::timeout, "deadline passed while " + where);
    if (ec == bhttp::error::body_limit)
        return make_error(failure::body_too_large, "response body from " + pool.authority +
                                                       " is over " +
                                                       std::to_string(opts.body_limit) + " bytes");
    if (ec == bhttp::error::header_limit)
        return make_error(failure::protocol, "response header from " + pool.authority +
                                                 " is over " + std::to_string(opts.header_limit) +
                                                 " bytes");
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        is_stale_connection_error(ec))
        return make_error(failure::io, "connection closed while " + where + ": " + ec.message());
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category())
        return make_error(failure::protocol,
                          "invalid HTTP response from " + pool.authority + ": " + ec.message());
    return make_error(failure::io, where + ": " + ec.message());
}

template <class Stream>
asio::awaitable<result> client::impl::async_exchange(Stream& stream, connection& c,
                                                     const wire_request& msg, const host_pool& pool,
                                                     steady::time_point deadline,
                                                     exchange_state& st) {
    if (c.timed_out) // deadline already passed on this connection
        co_return unexpected{classify(beast::error::timeout, "sending the request to", pool)};
    watch_scope watching(*this, c, deadline);
    error_code write_ec;
    std::size_t written = 0;
    if constexpr (std::is_same_v<Stream, tls_stream>) {
        // Sent at once when the socket takes it (nearly always): no handler, no wake-up.
        auto now = stream.write_now(msg.bytes);
        write_ec = now.ec;
        written = now.sent;
        if (!write_ec && stream.output_pending()) {
            auto [flush_ec, flushed] = co_await stream.async_flush(use_tuple);
            write_ec = flush_ec;
            written += flushed;
        }
    } else {
        std::tie(write_ec, written) =
            co_await asio::async_write(stream, asio::buffer(msg.bytes), use_tuple);
    }
    const auto wec = effective(c, write_ec);
    if (wec) {
        st.stale = is_stale_connection_error(wec);
        st.nothing_written = written == 0;
        co_return unexpected{classify(wec, "sending the request to", pool)};
    }

    auto& parser = c.parser.emplace(opts.response_headers);
    parser.body_limit(static_cast<std::uint64_t>(opts.body_limit));
    parser.header_limit(opts.header_limit);
    // The body in the same pass as the header: otherwise async_read parses a body already in
    // the buffer in a second step, and completes that step through a post (one more handler
    // and reactor poll per response).
    parser.eager(true);
    if (msg.method == bhttp::verb::head) parser.skip(true);
    auto [read_ec, got] = co_await bhttp::async_read(stream, c.buffer, parser, use_tuple);
    auto rec = effective(c, read_ec);
    if (rec == ssl::error::stream_truncated && parser.is_header_done() && parser.need_eof()) {
        // The body ends at EOF and the server skipped close_notify (as in Beast's awaitable-ssl
        // example): that EOF is the only end this body has, so take it as one.
        error_code eof_ec;
        parser.put_eof(eof_ec);
        if (!eof_ec) rec = {};
    }
    if (rec) {
        st.stale = !parser.got_some() && c.buffer.size() == 0 && is_stale_connection_error(rec);
        co_return unexpected{classify(rec, "reading the response from", pool)};
    }

    // Bytes beyond the response mean the framing is off; a body ended by EOF ends the connection.
    st.keep_alive =
        parser.keep_alive() && !parser.need_eof() && c.buffer.size() == 0 && !c.timed_out;
    co_return parser.take();
}

asio::awaitable<result> client::impl::async_send(endpoint ep, request req,
                                                 steady::time_point deadline) {
    if (shut_down) co_return unexpected{make_error(failure::cancelled, "client is shut down")};
    if (ep.scheme != "https" && ep.scheme != "http")
        co_return unexpected{
            make_error(failure::protocol, "unsupported scheme '" + ep.scheme + "'")};
    if (ep.host.empty())
        co_return unexpected{make_error(failure::protocol, "endpoint has no host")};
    if (req.method == bhttp::verb::unknown || req.method == bhttp::verb::connect)
        co_return unexpected{make_error(failure::protocol,
                                        "request method must be a known verb other than CONNECT")};
    if (!req.target.empty() &&
        (req.target.front() != '/' || req.target.find_first_of(" \r\n") != std::string::npos))
        co_return unexpected{make_error(
            failure::protocol, "request target must start with '/' and contain no spaces")};
    if (steady::now() >= deadline)
        co_return unexpected{
            make_error(failure::timeout, "deadline passed before the request started")};

    host_pool& pool = pool_for(ep);

    // Without a base path (the usual case) the target is the request's own: no copy.
    std::string joined;
    std::string_view target = req.target.empty() ? std::string_view("/") : req.target;
    if (!ep.base_path.empty()) {
        joined = std::move(ep.base_path);
        joined += req.target;
        target = joined;
    }
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || has_line_break(name) || name.find(':') != std::string::npos ||
            has_line_break(value))
            co_return unexpected{make_error(
                failure::protocol, "invalid request header '" +
                                       (has_line_break(name) ? std::string("?") : name) + "'")};
    }
    const auto msg = serialize_request(req.method, target, req.headers, pool.host_header,
                                       opts.user_agent, req.body);

    auto acquired = co_await async_acquire(pool, deadline);
    if (!acquired) co_return unexpected{std::move(acquired).error()};
    lease conn = std::move(*acquired);
    if (steady::now() >= deadline) {
        // Woken with a connection just as the deadline passed: leave the connection intact.
        if (conn.conn().connected) conn.release();
        co_return unexpected{
            make_error(failure::timeout,
                       "deadline passed while waiting for a free connection to " + pool.authority)};
    }

    for (int attempt = 0;; ++attempt) {
        const bool reused = conn.conn().connected;
        if (!reused) {
            auto connected = co_await async_connect(pool, conn.conn(), deadline);
            if (!connected)
                co_return unexpected{std::move(connected).error()}; // ~lease closes the slot
        }
        exchange_state st;
        // The stream is chosen outside the co_await (GCC 12 miscompiles one inside ?:).
        auto exchange =
            pool.tls ? async_exchange(conn.conn().stream, conn.conn(), msg, pool, deadline, st)
                     : async_exchange(conn.conn().tcp(), conn.conn(), msg, pool, deadline, st);
        auto res = co_await std::move(exchange);
        if (res) {
            if (st.keep_alive) conn.release();
            co_return std::move(res);
        }
        // A reused connection the server had closed while idle: once more on a fresh one.
        const bool retry = reused && attempt == 0 && st.stale &&
                           (is_safe_method(req.method) || st.nothing_written);
        if (!retry) co_return std::move(res);
        conn.renew();
    }
}

asio::awaitable<result> client::impl::async_send_guarded(std::shared_ptr<impl> self, endpoint ep,
                                                         request req, steady::time_point deadline) {
    try {
        co_return co_await self->async_send(std::move(ep), std::move(req), deadline);
    } catch (const std::exception& e) {
        co_return unexpected{make_error(failure::io, std::string("internal error: ") + e.what())};
    } catch (...) {
        co_return unexpected{make_error(failure::io, "internal error")};
    }
}

pool_stats client::impl::stats() const {
    pool_stats s;
    for (const auto& [key, pool] : pools) {
        s.open += pool->open;
        s.busy += pool->busy;
        s.queued += pool->waiters.size();
    }
    return s;
}

void client::impl::shutdown() {
    shut_down = true;
    // Exchanges still under way keep their deadlines; with none, nothing is left to watch
    // and the timer must not keep the event loop busy.
    if (watched.empty()) stop_watching();
    for (auto& [key, pool] : pools) {
        for (auto& conn : pool->idle)
            conn->close();
        pool->open -= pool->idle.size();
        pool->idle.clear();
        pool->sweep_timer.cancel();
        while (!pool->waiters.empty()) {
            waiter* w = pool->waiters.front();
            pool->waiters.pop_front();
            w->state = waiter::outcome::cancelled;
            w->timer.cancel();
        }
    }
}

// ---------------------------------------------------------------------------------------

client::client(asio::any_io_executor ex, client_options opts)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(opts))) {}

client::~client() {
    impl_->shutdown();
}

asio::awaitable<expected<response, transport_error>>
client::async_send(endpoint ep, request req, std::chrono::steady_clock::time_point deadline) {
    // Not a coroutine itself: impl_ is captured now, so the request may outlive *this.
    return impl::async_send_guarded(impl_, std::move(ep), std::move(req), deadline);
}

asio::awaitable<expected<response, transport_error>> client::async_send(endpoint ep, request req) {
    return impl::async_send_guarded(impl_, std::move(ep), std::move(req),
                                    steady::now() + impl_->opts.timeout);
}

const client_options& client::options() const noexcept {
    return impl_->opts;
}

pool_stats client::stats() const {
    return impl_->stats();
}

void client::shutdown() {
    impl_->shutdown();
}

std::string_view to_string(failure f) {
    return taskwatch::detail::name_in(failure_names, f);
}

} // namespace taskwatch::http
