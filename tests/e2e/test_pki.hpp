// A throw-away PKI for tests: a CA and leaf certificates made at run time with OpenSSL.
// Header-only and self-contained (no process.hpp) so unit tests, e2e tests and benchmarks
// can share it.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

namespace taskwatch::test {

namespace pki_detail {

struct pkey_free {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct x509_free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

inline void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

inline pkey_ptr make_key() {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EC key generation");
    return key;
}

inline void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

inline std::string to_pem(X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

inline std::string to_pem(EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

inline std::uint64_t next_serial() {
    static std::atomic<std::uint64_t> serial{std::random_device{}() | 1u};
    return serial.fetch_add(1) & 0x7fffffffffffffffULL;
}

// issuer/issuer_key null: self-signed.
inline x509_ptr make_cert(const std::string& common_name, EVP_PKEY* key, X509* issuer,
                          EVP_PKEY* issuer_key, bool is_ca, const std::string& san,
                          const char* extended_usage = "serverAuth") {
    x509_ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2); // v3
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), next_serial());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    if (is_ca) {
        add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
        add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
        add_ext(cert.get(), &ctx, NID_ext_key_usage, extended_usage);
        if (!san.empty()) add_ext(cert.get(), &ctx, NID_subject_alt_name, san.c_str());
    }
    check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
          "X509_sign");
    return cert;
}

} // namespace pki_detail

/// A certificate and its private key, PEM-encoded.
struct pem_pair {
    std::string cert_pem;
    std::string key_pem;
};

/// A self-signed CA that issues server certificates.
class test_ca {
public:
    explicit test_ca(const std::string& common_name = "taskwatch test CA")
        : key_(pki_detail::make_key())
        , cert_(pki_detail::make_cert(common_name, key_.get(), nullptr, nullptr, true, ""))
        , cert_pem_(pki_detail::to_pem(cert_.get())) {}

    /// A server certificate; `san` in OpenSSL syntax, e.g. "DNS:localhost,IP:127.0.0.1".
    pem_pair issue(const std::string& common_name, const std::string& san) const {
        auto key = pki_detail::make_key();
        auto cert =
            pki_detail::make_cert(common_name, key.get(), cert_.get(), key_.get(), false, san);
        return {pki_detail::to_pem(cert.get()), pki_detail::to_pem(key.get())};
    }

    /// A client certificate (extended key usage clientAuth); `san` as for issue(), may be "".
    pem_pair issue_client(const std::string& common_name, const std::string& san = "") const {
        auto key = pki_detail::make_key();
        auto cert = pki_detail::make_cert(common_name, key.get(), cert_.get(), key_.get(), false,
                                          san, "clientAuth");
        return {pki_detail::to_pem(cert.get()), pki_detail::to_pem(key.get())};
    }

    const std::string& cert_pem() const noexcept { return cert_pem_; }

    /// Writes the CA certificate where a client's ca_file can point.
    void write_cert(const std::filesystem::path& path) const {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << cert_pem_;
        if (!out) throw std::runtime_error("test PKI: cannot write " + path.string());
    }

private:
    pki_detail::pkey_ptr key_;
    pki_detail::x509_ptr cert_;
    std::string cert_pem_;
};

} // namespace taskwatch::test
