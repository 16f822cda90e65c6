// A throw-away PKI for tests: a CA and the server and client certificates it issues, made at run
// time with OpenSSL (EC P-256, valid from an hour ago for 30 days).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace taskwatch::test {

/// A certificate and its private key, PEM-encoded.
struct pem_pair {
    std::string cert_pem;
    std::string key_pem;
};

/// A self-signed CA that issues server and client certificates. Throws std::runtime_error when
/// OpenSSL fails.
class test_ca {
public:
    explicit test_ca(const std::string& common_name = "taskwatch test CA");
    ~test_ca();
    test_ca(const test_ca&) = delete;
    test_ca& operator=(const test_ca&) = delete;

    /// A server certificate; `san` in OpenSSL syntax, e.g. "DNS:localhost,IP:127.0.0.1".
    pem_pair issue(const std::string& common_name, const std::string& san) const;
    /// A client certificate (extended key usage clientAuth); `san` as for issue(), may be "".
    pem_pair issue_client(const std::string& common_name, const std::string& san = "") const;

    const std::string& cert_pem() const noexcept { return cert_pem_; }
    /// Writes the CA certificate where a client's ca_file can point.
    void write_cert(const std::filesystem::path& path) const;

private:
    struct keys;
    std::unique_ptr<keys> keys_;
    std::string cert_pem_;
};

} // namespace taskwatch::test
