// Client TLS context and per-connection peer identity.
#include "taskwatch/http/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

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

} // namespace

boost::asio::ssl::context make_client_tls_context(const std::optional<std::string>& ca_file) {
    namespace ssl = boost::asio::ssl;
    ssl::context ctx{ssl::context::tls_client};
    if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1)
        throw setup_error("TLS: cannot require TLS 1.2: " + openssl_error_text());
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ctx.set_verify_mode(ssl::verify_peer);

    if (ca_file) {
        // Checked first so the message says what the OS says ("No such file or directory").
        std::ifstream probe(*ca_file);
        if (!probe)
            throw setup_error("ca_file " + *ca_file + ": cannot read: " + std::strerror(errno));
        if (SSL_CTX_load_verify_locations(ctx.native_handle(), ca_file->c_str(), nullptr) != 1)
            throw setup_error("ca_file " + *ca_file +
                              ": no usable CA certificate: " + openssl_error_text());
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
