#include "taskwatch/sim/tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace taskwatch::sim {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const { BIO_free_all(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

[[noreturn]] void fail(const std::string& what) {
    std::string detail;
    if (auto e = ERR_get_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        detail = std::string(": ") + buf;
    }
    ERR_clear_error();
    throw tls_setup_error("self-signed certificate: " + what + detail);
}

pkey_ptr make_key() {
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) fail("generating an EC P-256 key");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) fail(std::string("building extension ") + OBJ_nid2sn(nid));
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

x509_ptr make_cert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
                   bool ca) {
    x509_ptr cert(X509_new());
    if (!cert) fail("X509_new");
    X509_set_version(cert.get(), 2);
    unsigned char serial_bytes[16];
    RAND_bytes(serial_bytes, sizeof serial_bytes);
    serial_bytes[0] &= 0x7f; // a positive serial
    BIGNUM* bn = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600); // tolerate a little clock skew
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("taskwatch modelarts-sim"),
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509* signer = issuer ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (ca) {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
        add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    }
    if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0)
        fail(std::string("signing the certificate for ") + common_name);
    return cert;
}

bio_ptr open_for_writing(const std::string& path) {
    bio_ptr bio(BIO_new_file(path.c_str(), "w"));
    if (!bio) fail("cannot write '" + path + "'");
    return bio;
}

} // namespace

self_signed_files write_self_signed(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw tls_setup_error("self-signed certificate: cannot create directory '" + dir +
                              "': " + ec.message());

    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), "modelarts-sim test CA", nullptr, nullptr, true);
    auto key = make_key();
    auto cert = make_cert(key.get(), "localhost", ca.get(), ca_key.get(), false);

    self_signed_files files{dir + "/ca.pem", dir + "/server.pem", dir + "/server-key.pem"};
    {
        auto bio = open_for_writing(files.ca_cert);
        if (!PEM_write_bio_X509(bio.get(), ca.get())) fail("writing '" + files.ca_cert + "'");
    }
    {
        auto bio = open_for_writing(files.server_cert);
        if (!PEM_write_bio_X509(bio.get(), cert.get()) || !PEM_write_bio_X509(bio.get(), ca.get()))
            fail("writing '" + files.server_cert + "'");
    }
    {
        // Create the key file private before anything is written to it.
        const auto old_mask = ::umask(077);
        auto bio = open_for_writing(files.server_key);
        ::umask(old_mask);
        if (!PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
            fail("writing '" + files.server_key + "'");
        ::chmod(files.server_key.c_str(), 0600);
    }
    return files;
}

} // namespace taskwatch::sim
