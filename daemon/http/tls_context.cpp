// Client TLS context and per-connection peer identity.
#include "taskwatch/http/tls_context.hpp"

#include "taskwatch/detail/read_file.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <array>
#include <memory>

namespace taskwatch::http {
namespace {

std::string openssl_error_text() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    return buf.data();
}

bool is_ip_literal(std::string_view host) {
    std::string text(host);
    std::array<unsigned char, 16> buf{};
    return ::inet_pton(AF_INET, text.c_str(), buf.data()) == 1 ||
           ::inet_pton(AF_INET6, text.c_str(), buf.data()) == 1;
}

struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct info_stack_free {
    void operator()(STACK_OF(X509_INFO) * s) const noexcept {
        sk_X509_INFO_pop_free(s, X509_INFO_free);
    }
};

// What SSL_CTX_load_verify_locations does with a file (X509_load_cert_crl_file), from memory:
// every certificate and CRL of the PEM text goes into the context's store. Fails when the text
// holds no certificate.
expected<ok_t, std::string> add_verify_locations(SSL_CTX* ctx, const std::string& pem) {
    ERR_clear_error();
    std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return unexpected(openssl_error_text());
    std::unique_ptr<STACK_OF(X509_INFO), info_stack_free> infos(
        PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr));
    if (!infos) return unexpected(openssl_error_text());
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int certs = 0;
    for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i) {
        X509_INFO* info = sk_X509_INFO_value(infos.get(), i);
        if (info->x509 != nullptr) {
            if (X509_STORE_add_cert(store, info->x509) != 1)
                return unexpected(openssl_error_text());
            ++certs;
        }
        if (info->crl != nullptr && X509_STORE_add_crl(store, info->crl) != 1)
            return unexpected(openssl_error_text());
    }
    if (certs == 0) return unexpected(std::string("no PEM certificate in the file"));
    return ok;
}

} // namespace

boost::asio::ssl::context make_client_tls_context(const std::optional<std::string>& ca_file) {
    namespace ssl = boost::asio::ssl;
    ssl::context ctx{ssl::context::tls_client};
    if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1)
        throw setup_error("TLS: cannot require TLS 1.2: " + openssl_error_text());
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ctx.set_verify_mode(ssl::verify_peer);

    if (ca_file) {
        // Read by the daemon's own reader (a regular file under the limit, never blocking),
        // then loaded from memory: OpenSSL never opens the path itself.
        auto pem = detail::read_regular_file(*ca_file, detail::certificate_file_limit);
        if (!pem)
            throw setup_error("ca_file " + *ca_file + ": cannot read: " + pem.error().message);
        auto added = add_verify_locations(ctx.native_handle(), *pem);
        if (!added)
            throw setup_error("ca_file " + *ca_file +
                              ": no usable CA certificate: " + added.error());
    } else if (SSL_CTX_set_default_verify_paths(ctx.native_handle()) != 1) {
        throw setup_error("TLS: cannot load the system CA store: " + openssl_error_text());
    }
    return ctx;
}

expected<ok_t, std::string> set_peer_identity(SSL* ssl, std::string_view host) {
    std::string name(host);
    if (is_ip_literal(host)) {
        // Matched against the certificate's IP SANs, never its DNS names.
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1)
            return unexpected{"cannot verify IP address " + name + ": " + openssl_error_text()};
        return ok;
    }
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(name.c_str())) != 1)
        return unexpected{"cannot set SNI " + name + ": " + openssl_error_text()};
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name.c_str()) != 1)
        return unexpected{"cannot verify host name " + name + ": " + openssl_error_text()};
    return ok;
}

std::string verify_failure_reason(SSL* ssl) {
    long result = SSL_get_verify_result(ssl);
    if (result == X509_V_OK) return {};
    return X509_verify_cert_error_string(result);
}

} // namespace taskwatch::http
