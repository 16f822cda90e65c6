// The exporter-toolkit web config file -> web_config. Key names, defaults and checks follow
// exporter-toolkit's web/tls_config.go and handler.go; what OpenSSL cannot do like Go
// (TLS below 1.2, unknown names) is an error that says so.
#include "taskwatch/web/web_config.hpp"

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/load_yaml.hpp"
#include "taskwatch/detail/message_text.hpp"
#include "taskwatch/detail/read_file.hpp"
#include "taskwatch/web/basic_auth.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>

namespace taskwatch::web {

namespace {

using detail::one_line;
using detail::quote;

struct context {
    std::string file; ///< as given, for messages
    std::string dir;  ///< absolute folder of the file
    std::vector<std::string>* referenced;
};

[[noreturn]] void fail(const context& c, int line, std::string_view path,
                       std::string_view problem) {
    std::string msg = c.file;
    if (line > 0) msg += ":" + std::to_string(line);
    msg += ": ";
    if (!path.empty()) {
        msg += path;
        msg += ": ";
    }
    msg += problem;
    throw web_config_error(one_line(msg));
}

int line_of(const YAML::Node& n) {
    auto m = n.Mark();
    return m.line >= 0 ? m.line + 1 : 0;
}

std::string join_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    return std::string(parent) + "." + std::string(key);
}

/// One value with the path and line to blame for it.
struct field {
    const context* c;
    YAML::Node node;
    int line;
    std::string path;

    [[noreturn]] void fail(std::string_view problem) const { web::fail(*c, line, path, problem); }
    [[noreturn]] void wrong_type(std::string_view expected) const {
        std::string got = node.IsScalar()     ? quote(node.Scalar())
                          : node.IsMap()      ? "a mapping"
                          : node.IsSequence() ? "a list"
                                              : "no value";
        fail("expected " + std::string(expected) + ", got " + got);
    }

    std::string string(bool allow_empty = false) const {
        if (!node.IsScalar()) wrong_type("a string");
        const std::string& s = node.Scalar();
        if (s.empty() && !allow_empty) fail("must not be empty");
        return s;
    }

    bool boolean() const {
        if (!node.IsScalar()) wrong_type("true or false");
        std::string s = node.Scalar();
        std::transform(s.begin(), s.end(), s.begin(), [](char ch) {
            return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
        });
        if (s == "true" || s == "yes" || s == "on") return true;
        if (s == "false" || s == "no" || s == "off") return false;
        wrong_type("true or false");
    }

    std::vector<field> list() const {
        if (!node.IsSequence()) wrong_type("a list");
        std::vector<field> out;
        std::size_t i = 0;
        for (const auto& elem : node) {
            int l = line_of(elem);
            out.push_back(field{c, elem, l > 0 ? l : line, path + "[" + std::to_string(i) + "]"});
            ++i;
        }
        return out;
    }

    /// A path relative to the web config's folder made absolute, and remembered for watching.
    std::string file_path() const {
        auto p = string();
        std::string abs = !p.empty() && p.front() == '/'
                              ? p
                              : (std::filesystem::path(c->dir) / p).lexically_normal().string();
        if (c->referenced) c->referenced->push_back(abs);
        return abs;
    }
};

/// A mapping: duplicate keys refused, unknown keys refused with a suggestion.
class mapping {
public:
    struct entry {
        std::string key;
        field value; ///< line and path are the key's
    };

    explicit mapping(const field& f)
        : c_(f.c)
        , path_(f.path)
        , line_(f.line) {
        if (!f.node.IsMap()) f.wrong_type("a mapping");
        std::map<std::string, int> seen;
        for (auto it = f.node.begin(); it != f.node.end(); ++it) {
            int kl = line_of(it->first);
            if (kl == 0) kl = line_;
            if (!it->first.IsScalar()) fail(*c_, kl, path_, "keys must be strings");
            std::string key = it->first.Scalar();
            if (auto [pos, inserted] = seen.emplace(key, kl); !inserted)
                fail(*c_, kl, path_,
                     "key " + quote(key) + " appears twice (first at line " +
                         std::to_string(pos->second) + ")");
            entries_.push_back(entry{key, field{c_, it->second, kl, join_path(path_, key)}});
        }
    }

    void only(std::initializer_list<std::string_view> known, std::string_view hint = {}) const {
        for (const auto& e : entries_) {
            if (std::find(known.begin(), known.end(), e.key) != known.end()) continue;
            std::string problem = "unknown key " + quote(e.key);
            // Case slips ("Cert_File") and near misses get a suggestion.
            for (auto k : known) {
                if (close_to(e.key, k)) {
                    problem += " (did you mean " + quote(k) + "?)";
                    break;
                }
            }
            if (!hint.empty()) problem += std::string("; ") + std::string(hint);
            fail(*c_, e.value.line, path_, problem);
        }
    }

    /// The key's value; a key written without a value is an error, not a default.
    std::optional<field> get(std::string_view key) const {
        for (const auto& e : entries_) {
            if (e.key != key) continue;
            if (e.value.node.IsNull()) e.value.fail("no value (remove the key to get the default)");
            return e.value;
        }
        return std::nullopt;
    }

    bool has(std::string_view key) const {
        return std::any_of(entries_.begin(), entries_.end(),
                           [&](const entry& e) { return e.key == key; });
    }

    const std::vector<entry>& entries() const { return entries_; }
    int line() const { return line_; }
    const std::string& path() const { return path_; }

private:
    static bool close_to(std::string_view a, std::string_view b) {
        if (a.size() != b.size()) {
            // One character more or less.
            if (a.size() + 1 != b.size() && b.size() + 1 != a.size()) return false;
            auto& longer = a.size() > b.size() ? a : b;
            auto& shorter = a.size() > b.size() ? b : a;
            for (std::size_t skip = 0; skip < longer.size(); ++skip) {
                std::string s(longer);
                s.erase(skip, 1);
                if (s == shorter) return true;
            }
            return false;
        }
        // One character wrong, or two neighbours swapped ("cert_fiel"), case aside.
        auto lower = [](char ch) {
            return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
        };
        std::vector<std::size_t> diff;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (lower(a[i]) != lower(b[i])) diff.push_back(i);
        if (diff.size() <= 1) return true;
        return diff.size() == 2 && diff[1] == diff[0] + 1 &&
               lower(a[diff[0]]) == lower(b[diff[1]]) && lower(a[diff[1]]) == lower(b[diff[0]]);
    }

    const context* c_;
    std::string path_;
    int line_;
    std::vector<entry> entries_;
};

// A section that may be written empty (`basic_auth_users:`), as the toolkit allows.
std::optional<mapping> section(const mapping& parent, std::string_view key) {
    for (const auto& e : parent.entries()) {
        if (e.key != key) continue;
        if (e.value.node.IsNull()) return std::nullopt;
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
void pem_source(const mapping& m, std::string_view file_key, std::string_view inline_key,
                std::string& file, std::string* text, detail::secret* secret_text,
                std::optional<field>& blame_at) {
    auto f = m.get(file_key);
    auto t = m.get(inline_key);
    if (f && t)
        t->fail("give either " + std::string(file_key) + " or " + std::string(inline_key) +
                ", not both");
    if (f) {
        file = f->file_path();
        blame_at = f;
    } else if (t) {
        // Inline PEM: never echo it (a key is a secret, and a certificate is long).
        if (!t->node.IsScalar()) t->wrong_type("a PEM string");
        if (t->node.Scalar().empty()) t->fail("must not be empty");
        if (text) *text = t->node.Scalar();
        if (secret_text) *secret_text = detail::secret(t->node.Scalar());
        blame_at = t;
    }
}

tls_server_config parse_tls(const context& c, const mapping& m, const field& at) {
    m.only({"cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
            "client_ca_file", "client_allowed_sans", "min_version", "max_version", "cipher_suites",
            "prefer_server_cipher_suites", "curve_preferences"});
    tls_server_config out;
    auto& o = out.options;
    tls_keys keys{{}, {}, {}, {}, {}, {}, {}, {}, at};

    auto require_pem = [&](std::string_view file_key, std::string_view inline_key) {
        if (!m.has(file_key) && !m.has(inline_key))
            fail(c, m.line(), m.path(),
                 "missing required key " + quote(file_key) + " (or inline " + quote(inline_key) +
                     ")");
    };
    require_pem("cert_file", "cert");
    require_pem("key_file", "key");
    pem_source(m, "cert_file", "cert", o.cert_file, &o.cert_pem, nullptr, keys.cert);
    pem_source(m, "key_file", "key", o.key_file, nullptr, &o.key_pem, keys.key);
    pem_source(m, "client_ca_file", "client_ca", o.client_ca_file, &o.client_ca_pem, nullptr,
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
            notes.push_back(f->c->file + ":" + std::to_string(f->line) + ": " + f->path +
                            ": HTTP/2 is not supported; the server speaks HTTP/1.1");
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
            auto value = e.value.node.IsNull() ? std::string() : e.value.string(true);
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
        if (!e.value.node.IsScalar() || e.value.node.Scalar().empty())
            e.value.fail("expected the bcrypt hash of the user's password");
        const std::string& hash = e.value.node.Scalar();
        if (!is_bcrypt_hash(hash))
            e.value.fail("the password hash of user " + quote(e.key) +
                         " is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04-31, 60 characters; "
                         "make one with htpasswd -nBC 10 \"\" | tr -d ':\\n')");
        out.emplace(e.key, detail::secret(hash));
    }
    return out;
}

rate_limit_config parse_rate_limit(const context& c, const mapping& m) {
    m.only({"interval", "burst"});
    rate_limit_config out;
    if (auto f = m.get("interval")) {
        if (!f->node.IsScalar()) f->wrong_type("a duration");
        auto d = config::parse_duration(f->node.Scalar());
        if (!d) f->fail(d.error());
        out.interval = *d;
    }
    std::optional<field> burst_at = m.get("burst");
    if (burst_at) {
        auto s = burst_at->string();
        unsigned long v = 0;
        bool ok = !s.empty() && s.size() <= 9 &&
                  std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (ok) v = std::stoul(s);
        if (!ok) burst_at->fail("expected a whole number, got " + quote(s));
        out.burst = static_cast<unsigned>(v);
    }
    if (out.enabled() && out.burst == 0) {
        if (burst_at)
            burst_at->fail("must be at least 1 when interval is set (0 would refuse everything)");
        fail(c, m.line(), m.path(), "missing required key \"burst\" (needed when interval is set)");
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
                            std::vector<std::string>* referenced) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(std::filesystem::path(source_path), ec);
    context c{source_path, ec ? std::string(".") : abs.lexically_normal().parent_path().string(),
              referenced};

    std::vector<YAML::Node> docs;
    try {
        docs = detail::load_all_yaml(yaml_text);
    } catch (const YAML::Exception& e) {
        std::string problem = "YAML syntax error: " + e.msg;
        if (e.mark.column >= 0) problem += " (column " + std::to_string(e.mark.column + 1) + ")";
        fail(c, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", problem);
    }
    std::erase_if(docs, [](const YAML::Node& d) { return d.IsNull(); });
    if (docs.size() > 1) fail(c, line_of(docs[1]), "", "more than one YAML document");

    web_config out;
    out.source_path = source_path;
    if (docs.empty()) return out; // an empty file: plain HTTP, no authentication

    field root_field{&c, docs.front(), std::max(line_of(docs.front()), 1), ""};
    mapping root(root_field);
    root.only({"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});

    if (auto users = section(root, "basic_auth_users")) out.basic_auth_users = parse_users(*users);
    if (auto http_cfg = section(root, "http_server_config"))
        out.http = parse_http(*http_cfg, out.notes);
    if (auto rl = section(root, "rate_limit")) out.rate_limit = parse_rate_limit(c, *rl);
    if (auto tls = section(root, "tls_server_config"); tls && !tls->entries().empty()) {
        field at{&c, {}, tls->line(), tls->path()};
        out.tls = parse_tls(c, *tls, at);
    }
    return out;
}

web_config load_web_config(const std::string& path, std::vector<std::string>* referenced) {
    auto text = detail::read_regular_file(path, detail::web_config_file_limit);
    if (!text) throw web_config_error(one_line(path + ": cannot read: " + text.error().message));
    return parse_web_config(*text, path, referenced);
}

} // namespace taskwatch::web
