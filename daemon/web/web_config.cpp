// The exporter-toolkit web config file -> web_config. Key names, defaults and checks follow
// exporter-toolkit's web/tls_config.go and handler.go; what OpenSSL cannot do like Go
// (TLS below 1.2, unknown names) is an error that says so.
#include "taskwatch/web/web_config.hpp"

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/read_file.hpp"
#include "taskwatch/detail/yaml_reader.hpp"
#include "taskwatch/web/basic_auth.hpp"

#include <algorithm>
#include <array>
#include <filesystem>

namespace taskwatch::web {

namespace {

using detail::quote;

using detail::yaml::field;
using detail::yaml::mapping;

struct context {
    detail::yaml::source src;
    std::vector<std::string>* referenced;
};

// A path relative to the web config's folder made absolute, and remembered for watching.
std::string file_path(const context& c, const field& f) {
    auto p = f.string();
    std::string abs = !p.empty() && p.front() == '/'
                          ? p
                          : (std::filesystem::path(c.src.dir) / p).lexically_normal().string();
    if (c.referenced) c.referenced->push_back(abs);
    return abs;
}

// A section that may be written empty (`basic_auth_users:`), as the toolkit allows.
std::optional<mapping> section(const mapping& parent, std::string_view key) {
    for (const auto& e : parent.entries()) {
        if (e.key != key) continue;
        if (e.value.is_null()) return std::nullopt;
        return mapping(e.value);
    }
    return std::nullopt;
}

struct cipher_name {
    std::string_view go;
    std::string_view openssl;
    bool tls13;
};

// Go's crypto/tls CipherSuites(): the secure suites, the only names the toolkit accepts.
constexpr std::array<cipher_name, 17> cipher_names{{
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", false},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", false},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", false},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true},
}};

// The toolkit's curve names (Go tls.CurveID) -> OpenSSL group names.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> curve_names{{
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
}};

struct client_auth_name {
    std::string_view name;
    http::client_cert_policy policy;
};
constexpr std::array<client_auth_name, 6> client_auth_names{{
    {"NoClientCert", http::client_cert_policy::none},
    {"RequestClientCert", http::client_cert_policy::request},
    {"RequireAnyClientCert", http::client_cert_policy::require_any},
    {"RequireClientCert", http::client_cert_policy::require_any}, // the toolkit's old spelling
    {"VerifyClientCertIfGiven", http::client_cert_policy::verify_if_given},
    {"RequireAndVerifyClientCert", http::client_cert_policy::require_and_verify},
}};

http::tls_version tls_version_of(const field& f) {
    auto s = f.string();
    if (s == "TLS12") return http::tls_version::tls1_2;
    if (s == "TLS13") return http::tls_version::tls1_3;
    if (s == "TLS10" || s == "TLS11")
        f.fail(s + " is not supported: taskwatch serves TLS 1.2 and 1.3 only (use TLS12 or TLS13)");
    f.fail("unknown TLS version " + quote(s) + " (expected TLS12 or TLS13)");
}

// Where each TLS setup failure is blamed: the key that holds the file or value.
struct tls_keys {
    std::optional<field> cert, key, client_ca, client_auth, min_version, max_version, ciphers,
        curves;
    field section;
};

[[noreturn]] void blame(const tls_keys& k, const http::tls_setup_error& e) {
    using part = http::tls_setup_part;
    const std::optional<field>* at = nullptr;
    switch (e.part) {
    case part::certificate:
        at = &k.cert;
        break;
    case part::private_key:
        at = &k.key;
        break;
    case part::client_ca:
        at = &k.client_ca;
        break;
    case part::client_certs:
        at = &k.client_auth;
        break;
    case part::versions:
        at = k.max_version ? &k.max_version : &k.min_version;
        break;
    case part::ciphers:
    case part::ciphersuites:
        at = &k.ciphers;
        break;
    case part::groups:
        at = &k.curves;
        break;
    }
    if (at != nullptr && *at) (*at)->fail(e.message);
    k.section.fail(e.message);
}

// A PEM source: the file key or the inline key, at most one of them.
void pem_source(const context& c, const mapping& m, std::string_view file_key,
                std::string_view inline_key, std::string& file, std::string* text,
                detail::secret* secret_text, std::optional<field>& blame_at) {
    auto f = m.get(file_key);
    auto t = m.get(inline_key);
    if (f && t)
        t->fail("give either " + std::string(file_key) + " or " + std::string(inline_key) +
                ", not both");
    if (f) {
        file = file_path(c, *f);
        blame_at = f;
    } else if (t) {
        // Inline PEM: never echo it (a key is a secret, and a certificate is long).
        if (!t->node().is_scalar()) t->wrong_type("a PEM string");
        if (t->text().empty()) t->fail("must not be empty");
        if (text) *text = t->text();
        if (secret_text) *secret_text = detail::secret(std::string(t->text()));
        blame_at = t;
    }
}

tls_server_config parse_tls(const context& c, const mapping& m) {
    m.only({"cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
            "client_ca_file", "client_allowed_sans", "min_version", "max_version", "cipher_suites",
            "prefer_server_cipher_suites", "curve_preferences"});
    tls_server_config out;
    auto& o = out.options;
    tls_keys keys{{}, {}, {}, {}, {}, {}, {}, {}, m.as_field()};

    auto require_pem = [&](std::string_view file_key, std::string_view inline_key) {
        if (!m.has(file_key) && !m.has(inline_key))
            m.fail("missing required key " + quote(file_key) + " (or inline " + quote(inline_key) +
                   ")");
    };
    require_pem("cert_file", "cert");
    require_pem("key_file", "key");
    pem_source(c, m, "cert_file", "cert", o.cert_file, &o.cert_pem, nullptr, keys.cert);
    pem_source(c, m, "key_file", "key", o.key_file, nullptr, &o.key_pem, keys.key);
    pem_source(c, m, "client_ca_file", "client_ca", o.client_ca_file, &o.client_ca_pem, nullptr,
               keys.client_ca);
    const bool has_ca = !o.client_ca_file.empty() || !o.client_ca_pem.empty();

    std::string auth_name = "NoClientCert";
    if (auto f = m.get("client_auth_type")) {
        keys.client_auth = f;
        auth_name = f->string();
        auto it = std::find_if(client_auth_names.begin(), client_auth_names.end(),
                               [&](const client_auth_name& n) { return n.name == auth_name; });
        if (it == client_auth_names.end())
            f->fail("unknown client_auth_type " + quote(auth_name) +
                    " (expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
                    "VerifyClientCertIfGiven or RequireAndVerifyClientCert)");
        o.client_certs = it->policy;
    }
    using policy = http::client_cert_policy;
    if (has_ca && o.client_certs == policy::none)
        (keys.client_auth ? *keys.client_auth : *keys.client_ca)
            .fail("client CAs are configured but client_auth_type is NoClientCert (set "
                  "client_auth_type: RequireAndVerifyClientCert)");
    if ((o.client_certs == policy::verify_if_given ||
         o.client_certs == policy::require_and_verify) &&
        !has_ca)
        keys.client_auth->fail(auth_name +
                               " needs client_ca_file (or inline client_ca) to verify against");

    if (auto f = m.get("client_allowed_sans")) {
        for (const auto& item : f->list())
            o.client_allowed_sans.push_back(item.string());
        if (!o.client_allowed_sans.empty() && o.client_certs != policy::require_any &&
            o.client_certs != policy::require_and_verify)
            f->fail("needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert "
                    "(otherwise a client may send no certificate to match)");
    }

    if (auto f = m.get("min_version")) {
        keys.min_version = f;
        o.min_version = tls_version_of(*f);
    }
    if (auto f = m.get("max_version")) {
        keys.max_version = f;
        o.max_version = tls_version_of(*f);
        if (o.max_version < o.min_version)
            f->fail("is below min_version (" + std::string(http::to_string(o.min_version)) + ")");
    }

    if (auto f = m.get("cipher_suites")) {
        keys.ciphers = f;
        std::string tls12, tls13;
        for (const auto& item : f->list()) {
            auto name = item.string();
            bool is13 = false;
            auto ossl = openssl_cipher_name(name, &is13);
            if (ossl.empty())
                item.fail("unknown or insecure cipher suite " + quote(name) +
                          " (Go crypto/tls names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
            auto& list = is13 ? tls13 : tls12;
            if (!list.empty()) list += ':';
            list += ossl;
        }
        o.cipher_list = tls12;
        o.ciphersuites = tls13;
    }
    if (auto f = m.get("prefer_server_cipher_suites")) o.prefer_server_ciphers = f->boolean();
    if (auto f = m.get("curve_preferences")) {
        keys.curves = f;
        std::string groups;
        for (const auto& item : f->list()) {
            auto name = item.string();
            auto it = std::find_if(curve_names.begin(), curve_names.end(),
                                   [&](const auto& p) { return p.first == name; });
            if (it == curve_names.end())
                item.fail("unknown curve " + quote(name) +
                          " (expected CurveP256, CurveP384, CurveP521 or X25519)");
            if (!groups.empty()) groups += ':';
            groups += it->second;
        }
        o.groups = groups;
    }

    auto ctx = http::make_server_tls_context(o);
    if (!ctx) blame(keys, ctx.error());
    out.context = *ctx;
    return out;
}

// exporter-toolkit's extraHTTPHeaders: only these, and some only with these values.
struct allowed_header {
    std::string_view name;
    std::array<std::string_view, 2> values; ///< empty: any value
};
constexpr std::array<allowed_header, 5> allowed_headers{{
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff", {}}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}},
}};

http_server_config parse_http(const mapping& m, std::vector<std::string>& notes) {
    m.only({"http2", "headers"});
    http_server_config out;
    if (auto f = m.get("http2")) {
        out.http2 = f->boolean();
        if (out.http2)
            notes.push_back(f->message("HTTP/2 is not supported; the server speaks HTTP/1.1"));
    }
    if (auto headers = section(m, "headers")) {
        for (const auto& e : headers->entries()) {
            auto it = std::find_if(allowed_headers.begin(), allowed_headers.end(),
                                   [&](const allowed_header& h) { return h.name == e.key; });
            if (it == allowed_headers.end())
                e.value.fail("HTTP header " + quote(e.key) +
                             " can not be configured (allowed: Strict-Transport-Security, "
                             "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
                             "Content-Security-Policy)");
            auto value = e.value.is_null() ? std::string() : e.value.string(true);
            for (unsigned char ch : detail::bytes_of(value))
                if (ch < 0x20 || ch == 0x7f) e.value.fail("control characters are not allowed");
            if (value.empty()) continue; // "Unset if blank"
            if (!it->values[0].empty() &&
                std::find(it->values.begin(), it->values.end(), value) == it->values.end()) {
                std::string expected = quote(it->values[0]);
                if (!it->values[1].empty()) expected += " or " + quote(it->values[1]);
                e.value.fail("invalid value " + quote(value) + " (expected " + expected + ")");
            }
            out.headers.emplace_back(e.key, value);
        }
    }
    return out;
}

std::map<std::string, detail::secret> parse_users(const mapping& m) {
    std::map<std::string, detail::secret> out;
    for (const auto& e : m.entries()) {
        // The path names the user, never the hash.
        if (e.key.find(':') != std::string::npos)
            e.value.fail("a user name cannot contain \":\" (Basic authentication splits there)");
        if (!e.value.node().is_scalar() || e.value.text().empty())
            e.value.fail("expected the bcrypt hash of the user's password");
        const std::string hash(e.value.text());
        if (!is_bcrypt_hash(hash))
            e.value.fail("the password hash of user " + quote(e.key) +
                         " is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04-31, 60 characters; "
                         "make one with htpasswd -nBC 10 \"\" | tr -d ':\\n')");
        out.emplace(std::string(e.key), detail::secret(hash));
    }
    return out;
}

rate_limit_config parse_rate_limit(const mapping& m) {
    m.only({"interval", "burst"});
    rate_limit_config out;
    if (auto f = m.get("interval")) out.interval = f->parsed("a duration", config::parse_duration);
    std::optional<field> burst_at = m.get("burst");
    if (burst_at) out.burst = static_cast<unsigned>(burst_at->integer(0, 999'999'999));
    if (out.enabled() && out.burst == 0) {
        if (burst_at)
            burst_at->fail("must be at least 1 when interval is set (0 would refuse everything)");
        m.fail("missing required key \"burst\" (needed when interval is set)");
    }
    return out;
}

} // namespace

std::string_view openssl_cipher_name(std::string_view go_name, bool* tls13) {
    for (const auto& c : cipher_names) {
        if (c.go != go_name) continue;
        if (tls13) *tls13 = c.tls13;
        return c.openssl;
    }
    return {};
}

web_config parse_web_config(std::string_view yaml_text, const std::string& source_path,
                            std::vector<std::string>* referenced) try {
    const context c{detail::yaml::source::of(source_path), referenced};
    const detail::yaml::document doc(c.src, yaml_text);

    web_config out;
    out.source_path = source_path;
    const auto root_field = doc.root();
    if (!root_field) return out; // an empty file: plain HTTP, no authentication

    mapping root(*root_field);
    root.only({"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});

    if (auto users = section(root, "basic_auth_users")) out.basic_auth_users = parse_users(*users);
    if (auto http_cfg = section(root, "http_server_config"))
        out.http = parse_http(*http_cfg, out.notes);
    if (auto rl = section(root, "rate_limit")) out.rate_limit = parse_rate_limit(*rl);
    if (auto tls = section(root, "tls_server_config"); tls && !tls->entries().empty())
        out.tls = parse_tls(c, *tls);
    return out;
} catch (const detail::yaml::read_error& e) {
    throw web_config_error(e.what());
}

web_config load_web_config(const std::string& path, std::vector<std::string>* referenced) {
    return parse_web_config(
        detail::yaml::file_text<web_config_error>(path, detail::web_config_file_limit), path,
        referenced);
}

} // namespace taskwatch::web
