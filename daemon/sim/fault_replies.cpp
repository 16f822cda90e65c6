#include "taskwatch/sim/fault_replies.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/write.hpp>

#include <sstream>

namespace taskwatch::sim {
namespace asio = boost::asio;

namespace {

// The connection lives while the awaitable runs: the server awaits it before closing.
asio::awaitable<void> async_send(http::raw_connection& c, std::string bytes) {
    co_await c.async_write(asio::buffer(bytes)); // a failure ends the connection all the same
}

} // namespace

http::reply reset_reply() {
    return http::reply::take_over([](http::raw_connection& c) -> asio::awaitable<void> {
        c.abort();
        co_return;
    });
}

http::reply hang_reply() {
    return http::reply::take_over(
        [](http::raw_connection& c) -> asio::awaitable<void> { co_await c.async_wait_closed(); });
}

std::string truncated_wire(http::server_response res, unsigned version) {
    res.version(version);
    res.keep_alive(false);
    res.prepare_payload();
    std::ostringstream head;
    head << res.base();
    std::string wire = head.str();
    const auto& body = res.body();
    wire.append(body, 0, body.size() / 2);
    return wire;
}

http::reply truncated_reply(http::server_response res, unsigned version) {
    return http::reply::take_over([wire = truncated_wire(std::move(res), version)](
                                      http::raw_connection& c) { return async_send(c, wire); });
}

std::function<std::shared_ptr<asio::ssl::context>()>
tls_failing_handshakes(std::shared_ptr<asio::ssl::context> tls, std::function<bool()> fail) {
    return [tls = std::move(tls), fail = std::move(fail)]() -> std::shared_ptr<asio::ssl::context> {
        return fail() ? nullptr : tls;
    };
}

} // namespace taskwatch::sim
