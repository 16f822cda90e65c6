// How the simulator misbehaves on a connection: reset, truncate and hang are replies that take
// the connection over (http::reply::take_over), a failed TLS handshake is a TLS context
// provider that has no context for the connections it fails. http::server knows nothing of
// faults; the rules that decide which one fires are in faults.hpp.
#pragma once

#include "taskwatch/http/server.hpp"

#include <boost/asio/ssl/context.hpp>

#include <functional>
#include <memory>
#include <string>

namespace taskwatch::sim {

/// Closes the connection with a TCP reset instead of answering.
http::reply reset_reply();

/// Never answers: keeps the connection until the client leaves or the server stops.
http::reply hang_reply();

/// The bytes a truncated answer sends: `res` as HTTP `version` with "Connection: close" and
/// the Content-Length of its whole body, cut after its head and half its body.
std::string truncated_wire(http::server_response res, unsigned version);

/// Sends truncated_wire(res, version), then the server closes the connection.
http::reply truncated_reply(http::server_response res, unsigned version);

/// For http::server_options::tls_provider: `tls` for each new connection, except those for
/// which `fail()` is true; they get no context, so the server closes them as their handshake
/// starts (counted in server_stats::handshakes_failed).
std::function<std::shared_ptr<boost::asio::ssl::context>()>
tls_failing_handshakes(std::shared_ptr<boost::asio::ssl::context> tls, std::function<bool()> fail);

} // namespace taskwatch::sim
