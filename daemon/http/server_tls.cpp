// Server TLS contexts: see server_tls.hpp.
#include "taskwatch/http/server_tls.hpp"
#include "taskwatch/detail/read_file.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/verify_context.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

namespace taskwatch::http {
namespace asio = boost::asio;

std::string_view to_string(tls_version v) {
    return v == tls_version::tls1_3 ? "TLS 1.3" : "TLS 1.2";
}

namespace {

std::string openssl_error_text() {
    unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) return reason;
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    return buf.data();
}

// A PEM given as a file replaces the inline one (`text`), and `where` becomes the file's
// path, for messages. Returns the problem when the file cannot be read.
template <class Text>
std::optional<std::string>
read_pem_file(const std::string& file, Text& text, std::string& where,
              detail::file_content content = detail::file_content::plain) {
    if (file.empty()) return std::nullopt;
    auto bytes = detail::read_regular_file(file, detail::certificate_file_limit, content);
    if (!bytes) return "cannot read " + file + ": " + bytes.error().message;
    text = Text(std::move(*bytes));
    where = file;
    return std::nullopt;
}

int openssl_version(tls_version v) {
    return v == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

struct x509_free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct pkey_free {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
// An encrypted key must fail, not prompt on a terminal the daemon does not have.
int no_password(char*, int, int, void*) {
    return 0;
}
struct names_free {
    void operator()(GENERAL_NAMES* n) const noexcept { GENERAL_NAMES_free(n); }
};

std::string asn1_text(const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// Go's spelling of each SAN (crypto/x509: DNSNames, EmailAddresses, IPAddresses, URIs).
std::vector<std::string> subject_alt_names(X509* cert) {
    std::vector<std::string> out;
    std::unique_ptr<GENERAL_NAMES, names_free> names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
        switch (n->type) {
        case GEN_DNS:
            out.push_back(asn1_text(n->d.dNSName));
            break;
        case GEN_EMAIL:
            out.push_back(asn1_text(n->d.rfc822Name));
            break;
        case GEN_URI:
            out.push_back(asn1_text(n->d.uniformResourceIdentifier));
            break;
        case GEN_IPADD: {
            auto raw = asn1_text(n->d.iPAddress);
            if (raw.size() == 4) {
                asio::ip::address_v4::bytes_type b{};
                std::copy(raw.begin(), raw.end(), b.begin());
                out.push_back(asio::ip::address_v4(b).to_string());
            } else if (raw.size() == 16) {
                asio::ip::address_v6::bytes_type b{};
                std::copy(raw.begin(), raw.end(), b.begin());
                out.push_back(asio::ip::address_v6(b).to_string());
            }
            break;
        }
        default:
            break;
        }
    }
    return out;
}

bool has_allowed_san(X509* cert, const std::vector<std::string>& allowed) {
    if (cert == nullptr) return false;
    for (const auto& san : subject_alt_names(cert))
        if (std::find(allowed.begin(), allowed.end(), san) != allowed.end()) return true;
    return false;
}

// Adds every certificate of `pem` to the verify store and to the CA names sent to clients.
expected<std::size_t, std::string> add_client_cas(SSL_CTX* ctx, const std::string& pem) {
    std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return unexpected(openssl_error_text());
    std::size_t count = 0;
    for (;;) {
        std::unique_ptr<X509, x509_free> cert(
            PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert.get()) != 1 ||
            SSL_CTX_add_client_CA(ctx, cert.get()) != 1)
            return unexpected(openssl_error_text());
        ++count;
    }
    // The loop ends on "no start line" after the last certificate: not an error.
    ERR_clear_error();
    return count;
}

} // namespace

expected<std::shared_ptr<asio::ssl::context>, tls_setup_error>
make_server_tls_context(const server_tls_options& o) {
    using part = tls_setup_part;
    auto fail = [](part p, std::string m) { return unexpected(tls_setup_error{p, std::move(m)}); };
    ERR_clear_error();

    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                     asio::ssl::context::no_compression);
    if (o.max_version < o.min_version)
        return fail(part::versions, "max_version " + std::string(to_string(o.max_version)) +
                                        " is below min_version " +
                                        std::string(to_string(o.min_version)));
    if (SSL_CTX_set_min_proto_version(native, openssl_version(o.min_version)) != 1 ||
        SSL_CTX_set_max_proto_version(native, openssl_version(o.max_version)) != 1)
        return fail(part::versions, "cannot set protocol versions: " + openssl_error_text());

    // Certificate chain and key: read here so a missing file is named with the OS's reason.
    std::string cert = o.cert_pem;
    std::string cert_where = "inline certificate";
    if (auto problem = read_pem_file(o.cert_file, cert, cert_where))
        return fail(part::certificate, *problem);
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(cert), ec);
    if (ec) {
        ERR_clear_error();
        return fail(part::certificate,
                    cert_where + ": not a usable PEM certificate chain (" + ec.message() + ")");
    }

    detail::secret key = o.key_pem;
    std::string key_where = "inline key";
    if (auto problem = read_pem_file(o.key_file, key, key_where, detail::file_content::secret))
        return fail(part::private_key, *problem);
    // Parsed apart from installing it, so "not a key" and "not this certificate's key" differ.
    std::unique_ptr<BIO, bio_free> key_bio(
        BIO_new_mem_buf(key.reveal().data(), static_cast<int>(key.reveal().size())));
    std::unique_ptr<EVP_PKEY, pkey_free> pkey(
        key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_password, nullptr) : nullptr);
    if (!pkey)
        return fail(part::private_key, key_where + ": not a usable unencrypted PEM private key (" +
                                           openssl_error_text() + ")");
    if (SSL_CTX_use_PrivateKey(native, pkey.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
        ERR_clear_error();
        return fail(part::private_key, key_where +
                                           ": the private key does not match the certificate of " +
                                           cert_where);
    }

    // Client certificates.
    std::string ca = o.client_ca_pem;
    std::string ca_where = "inline client CA";
    if (auto problem = read_pem_file(o.client_ca_file, ca, ca_where))
        return fail(part::client_ca, *problem);
    if (!o.client_ca_file.empty() || !o.client_ca_pem.empty()) {
        auto added = add_client_cas(native, ca);
        if (!added) return fail(part::client_ca, ca_where + ": " + added.error());
        if (*added == 0) return fail(part::client_ca, ca_where + ": holds no PEM certificate");
    }
    const bool verifies = o.client_certs == client_cert_policy::verify_if_given ||
                          o.client_certs == client_cert_policy::require_and_verify;
    if (verifies && ca.empty())
        return fail(part::client_certs, "verifying client certificates needs client CAs");
    if (!o.client_allowed_sans.empty() && o.client_certs != client_cert_policy::require_any &&
        o.client_certs != client_cert_policy::require_and_verify)
        return fail(part::client_certs, "allowed client SANs need a required client certificate");

    switch (o.client_certs) {
    case client_cert_policy::none:
        ctx->set_verify_mode(asio::ssl::verify_none);
        break;
    case client_cert_policy::request:
    case client_cert_policy::verify_if_given:
        ctx->set_verify_mode(asio::ssl::verify_peer);
        break;
    case client_cert_policy::require_any:
    case client_cert_policy::require_and_verify:
        ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
        break;
    }
    if (o.client_certs != client_cert_policy::none) {
        // Required by OpenSSL for session resumption once peers are verified.
        static constexpr unsigned char sid[] = "taskwatch";
        SSL_CTX_set_session_id_context(native, sid, sizeof sid - 1);
        ctx->set_verify_callback([verifies, sans = o.client_allowed_sans](
                                     bool preverified, asio::ssl::verify_context& vc) {
            X509_STORE_CTX* store = vc.native_handle();
            if (verifies && !preverified) return false;
            // request / require_any: the chain is not judged, only presence (and SANs).
            if (sans.empty() || X509_STORE_CTX_get_error_depth(store) != 0) return true;
            return has_allowed_san(X509_STORE_CTX_get_current_cert(store), sans);
        });
    }

    if (!o.cipher_list.empty() && SSL_CTX_set_cipher_list(native, o.cipher_list.c_str()) != 1)
        return fail(part::ciphers,
                    "no usable cipher in \"" + o.cipher_list + "\": " + openssl_error_text());
    if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, o.ciphersuites.c_str()) != 1)
        return fail(part::ciphersuites, "no usable TLS 1.3 ciphersuite in \"" + o.ciphersuites +
                                            "\": " + openssl_error_text());
    if (o.prefer_server_ciphers) SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
    // SSL_CTX_set1_groups_list is a macro with a C cast; this is what it expands to.
    if (!o.groups.empty() &&
        SSL_CTX_ctrl(native, SSL_CTRL_SET_GROUPS_LIST, 0, const_cast<char*>(o.groups.c_str())) != 1)
        return fail(part::groups, "unusable groups \"" + o.groups + "\": " + openssl_error_text());
    return ctx;
}

} // namespace taskwatch::http
