// Certificates for the simulator: a throw-away CA and a server certificate for the loopback
// names, made with OpenSSL at start-up so tests and demos need no files of their own.
#pragma once

#include <stdexcept>
#include <string>

namespace taskwatch::sim {

struct self_signed_files {
    std::string ca_cert;     ///< DIR/ca.pem: what clients trust
    std::string server_cert; ///< DIR/server.pem: server certificate followed by the CA
    std::string server_key;  ///< DIR/server-key.pem (mode 0600)
};

class tls_setup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Generates an ECDSA P-256 CA and a server certificate (SAN localhost, 127.0.0.1, ::1;
/// valid from an hour ago for 30 days) into `dir`, creating it if needed.
/// Throws tls_setup_error naming the file or step that failed.
self_signed_files write_self_signed(const std::string& dir);

} // namespace taskwatch::sim
