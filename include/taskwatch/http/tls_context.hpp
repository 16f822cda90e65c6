// TLS settings of the HTTPS client: TLS 1.2+, peer and host-name verification, always.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/http/client.hpp"

#include <boost/asio/ssl/context.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace taskwatch::http {

/// A client context that verifies peers against the system store, or only against
/// `ca_file` when given. Throws setup_error naming the file when it is missing,
/// unreadable or holds no certificate. There is no way to turn verification off.
boost::asio::ssl::context make_client_tls_context(const std::optional<std::string>& ca_file);

/// Prepares one connection to `host`: SNI (names only, never IP literals, RFC 6066)
/// and the name or IP address the certificate must carry. Returns an OpenSSL message
/// when the host cannot be set.
expected<ok_t, std::string> set_peer_identity(SSL* ssl, std::string_view host);

/// Why verification failed after a handshake error, e.g. "hostname mismatch", or "".
std::string verify_failure_reason(SSL* ssl);

} // namespace taskwatch::http
