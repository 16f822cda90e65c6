#include "support/pki.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>

namespace taskwatch::test {

namespace {

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

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

pkey_ptr make_key() {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EC key generation");
    return key;
}

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

std::string mem_bio_text(BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string to_pem(X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
    return mem_bio_text(bio.get());
}

std::string to_pem(EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    return mem_bio_text(bio.get());
}

std::uint64_t next_serial() {
    static std::atomic<std::uint64_t> serial{std::random_device{}() | 1u};
    return serial.fetch_add(1) & 0x7fffffffffffffffULL;
}

// issuer/issuer_key null: self-signed.
x509_ptr make_cert(const std::string& common_name, EVP_PKEY* key, X509* issuer,
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

} // namespace

struct test_ca::keys {
    pkey_ptr key;
    x509_ptr cert;
};

test_ca::test_ca(const std::string& common_name)
    : keys_(std::make_unique<keys>()) {
    keys_->key = make_key();
    keys_->cert = make_cert(common_name, keys_->key.get(), nullptr, nullptr, true, "");
    cert_pem_ = to_pem(keys_->cert.get());
}

test_ca::~test_ca() = default;

pem_pair test_ca::issue(const std::string& common_name, const std::string& san) const {
    auto key = make_key();
    auto cert = make_cert(common_name, key.get(), keys_->cert.get(), keys_->key.get(), false, san);
    return {to_pem(cert.get()), to_pem(key.get())};
}

pem_pair test_ca::issue_client(const std::string& common_name, const std::string& san) const {
    auto key = make_key();
    auto cert = make_cert(common_name, key.get(), keys_->cert.get(), keys_->key.get(), false, san,
                          "clientAuth");
    return {to_pem(cert.get()), to_pem(key.get())};
}

void test_ca::write_cert(const std::filesystem::path& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << cert_pem_;
    if (!out) throw std::runtime_error("test PKI: cannot write " + path.string());
}

} // namespace taskwatch::test
