// TLS server contexts from a full set of options: certificate and key (file or inline PEM),
// client certificates per policy (Go's tls.ClientAuthType), protocol versions, ciphers, groups.
// The web module maps the exporter-toolkit file onto these; http::server takes the result.
#pragma once

#include "taskwatch/detail/secret.hpp"
#include "taskwatch/detail/expected.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::http {

/// Which client certificates the server asks for and accepts (Go's tls.ClientAuthType).
enum class client_cert_policy {
    none,               ///< never asks
    request,            ///< asks; the client may send none, or any certificate (not verified)
    require_any,        ///< the client must send a certificate; it is not verified
    verify_if_given,    ///< asks; a certificate sent must verify against the client CAs
    require_and_verify, ///< the client must send a certificate that verifies against the client CAs
};

enum class tls_version { tls1_2, tls1_3 };
std::string_view to_string(tls_version v);

/// Each PEM source is a file or inline text: set one of the pair, not both.
struct server_tls_options {
    std::string cert_file; ///< certificate chain, leaf first
    std::string cert_pem;
    std::string key_file;
    taskwatch::detail::secret key_pem;
    std::string client_ca_file; ///< CAs that client certificates must chain to
    std::string client_ca_pem;
    client_cert_policy client_certs = client_cert_policy::none;
    /// Non-empty: the client certificate must carry one of these subject alternative names
    /// (DNS name, e-mail, IP address or URI, compared exactly), else the handshake fails.
    std::vector<std::string> client_allowed_sans;
    tls_version min_version = tls_version::tls1_2;
    tls_version max_version = tls_version::tls1_3;
    std::string cipher_list;  ///< OpenSSL cipher string for TLS 1.2; empty: OpenSSL's default
    std::string ciphersuites; ///< TLS 1.3 ciphersuites (OpenSSL names); empty: default
    bool prefer_server_ciphers = true;
    std::string groups; ///< key-exchange groups in preference order, "X25519:P-256"; empty: default
};

/// Which option a context could not be made from.
enum class tls_setup_part {
    certificate,
    private_key,
    client_ca,
    client_certs,
    versions,
    ciphers,
    ciphersuites,
    groups
};

struct tls_setup_error {
    tls_setup_part part;
    std::string message; ///< names the file when one is involved; never holds key material
};

/// A server context (TLS 1.2+, never below). Files are read when this is called: call it again
/// to pick up a renewed certificate.
expected<std::shared_ptr<boost::asio::ssl::context>, tls_setup_error>
make_server_tls_context(const server_tls_options& o);

} // namespace taskwatch::http
