// The exporter-toolkit web config file: what a good file gives, and the message each broken
// file gets (`FILE:LINE: key: problem`, never a hash or key bytes).
#include "support/files.hpp"
#include "support/pki.hpp"
#include "support/web_auth.hpp"
#include "taskwatch/web/basic_auth.hpp"
#include "taskwatch/web/web_config.hpp"

#include <doctest/doctest.h>

#include <array>
#include <initializer_list>

namespace {

using namespace taskwatch;

// A web config that must not load, and the one line it must fail with.
struct bad_web_config {
    const char* name; ///< what is wrong with it, for the failure report
    std::string yaml;
    std::string error;
};

// A folder with a CA, a server certificate and key, and a client CA file.
struct tls_files {
    test::temp_dir dir;
    test::test_ca ca;
    std::string cert, key, ca_file;
    tls_files() {
        auto pair = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
        cert = dir.write("tls/server.crt", pair.cert_pem);
        key = dir.write("tls/server.key", pair.key_pem);
        ca_file = dir.write("tls/ca.crt", ca.cert_pem());
    }
    web::web_config parse(const std::string& yaml) const {
        return web::parse_web_config(yaml, dir.file("web.yml"));
    }
    std::string error_of(const std::string& yaml) const {
        try {
            parse(yaml);
        } catch (const web::web_config_error& e) {
            return e.what();
        }
        return "(no error)";
    }
    // Each of `cases` fails to load with exactly its error.
    void check_errors(std::initializer_list<bad_web_config> cases) const {
        for (const auto& c : cases) {
            CAPTURE(c.name);
            CHECK(error_of(c.yaml) == c.error);
        }
    }
};

} // namespace

TEST_CASE("web config: a full file resolves paths against its folder and maps every key") {
    tls_files f;
    const auto alice = test::reference_bcrypt("alice-secret");
    const auto cfg = f.parse("tls_server_config:\n"
                             "  cert_file: tls/server.crt\n"
                             "  key_file: tls/server.key\n"
                             "  client_auth_type: RequireAndVerifyClientCert\n"
                             "  client_ca_file: tls/ca.crt\n"
                             "  client_allowed_sans: [scraper.example]\n"
                             "  min_version: TLS12\n"
                             "  max_version: TLS13\n"
                             "  cipher_suites:\n"
                             "    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
                             "    - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n"
                             "    - TLS_AES_256_GCM_SHA384\n"
                             "  prefer_server_cipher_suites: false\n"
                             "  curve_preferences: [X25519, CurveP256]\n"
                             "http_server_config:\n"
                             "  http2: true\n"
                             "  headers:\n"
                             "    X-Frame-Options: deny\n"
                             "    X-Content-Type-Options: nosniff\n"
                             "    Content-Security-Policy: \"\"\n"
                             "basic_auth_users:\n"
                             "  alice: " +
                             alice +
                             "\n"
                             "rate_limit:\n"
                             "  interval: 1s\n"
                             "  burst: 20\n");
    REQUIRE(cfg.tls);
    const auto& o = cfg.tls->options;
    CHECK(o.cert_file == f.cert);
    CHECK(o.key_file == f.key);
    CHECK(o.client_ca_file == f.ca_file);
    CHECK(o.client_certs == http::client_cert_policy::require_and_verify);
    CHECK(o.client_allowed_sans == std::vector<std::string>{"scraper.example"});
    CHECK(o.min_version == http::tls_version::tls1_2);
    CHECK(o.max_version == http::tls_version::tls1_3);
    CHECK(o.cipher_list == "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305");
    CHECK(o.ciphersuites == "TLS_AES_256_GCM_SHA384");
    CHECK_FALSE(o.prefer_server_ciphers);
    CHECK(o.groups == "X25519:P-256");
    CHECK(cfg.tls->context != nullptr);

    CHECK(cfg.http.http2);
    // Blank values are left out ("Unset if blank").
    CHECK(cfg.http.headers ==
          std::vector<std::pair<std::string, std::string>>{{"X-Frame-Options", "deny"},
                                                           {"X-Content-Type-Options", "nosniff"}});
    REQUIRE(cfg.notes.size() == 1);
    CHECK(cfg.notes[0].find("web.yml:16: http_server_config.http2: HTTP/2 is not supported") !=
          std::string::npos);
    REQUIRE(cfg.basic_auth_users.count("alice") == 1);
    CHECK(cfg.basic_auth_users.at("alice").reveal() == alice);
    CHECK(cfg.rate_limit.interval == std::chrono::seconds(1));
    CHECK(cfg.rate_limit.burst == 20);
}

TEST_CASE("web config: an empty file or empty sections mean plain HTTP without authentication") {
    tls_files f;
    for (const char* yaml : {"", "# nothing\n", "basic_auth_users:\ntls_server_config:\n",
                             "tls_server_config: {}\nbasic_auth_users: {}\n"}) {
        CAPTURE(yaml);
        auto cfg = f.parse(yaml);
        CHECK_FALSE(cfg.tls);
        CHECK(cfg.basic_auth_users.empty());
        CHECK(cfg.http.headers.empty());
        CHECK_FALSE(cfg.rate_limit.enabled());
    }
}

TEST_CASE("web config: inline cert and key work like the files") {
    tls_files f;
    auto pair = f.ca.issue("localhost", "DNS:localhost");
    auto indent = [](const std::string& pem) {
        std::string out;
        for (char ch : pem) {
            out += ch;
            if (ch == '\n') out += "    ";
        }
        return out;
    };
    auto cfg = f.parse("tls_server_config:\n  cert: |\n    " + indent(pair.cert_pem) +
                       "\n  key: |\n    " + indent(pair.key_pem) + "\n");
    REQUIRE(cfg.tls);
    CHECK(cfg.tls->options.cert_file.empty());
    CHECK(cfg.tls->options.cert_pem == pair.cert_pem);
    CHECK(cfg.tls->context != nullptr);
}

TEST_CASE("web config: files named by a broken file are still reported for watching") {
    tls_files f;
    std::vector<std::string> referenced;
    CHECK_THROWS_AS(web::parse_web_config("tls_server_config:\n  cert_file: tls/missing.crt\n"
                                          "  key_file: tls/server.key\n",
                                          (f.dir.file("web.yml")), &referenced),
                    web::web_config_error);
    CHECK(referenced == std::vector<std::string>{(f.dir.file("tls/missing.crt")), f.key});
}

TEST_CASE("web config: each broken file gets a message naming file, line, key and problem") {
    tls_files f;
    const std::string file = (f.dir.file("web.yml"));
    const std::string tls_ok = "tls_server_config:\n  cert_file: tls/server.crt\n"
                               "  key_file: tls/server.key\n";

    SUBCASE("unknown keys, with a suggestion when one is close") {
        f.check_errors({
            {"a misspelt section", "basic_auth_user:\n  a: b\n",
             file + ":1: unknown key \"basic_auth_user\" (did you mean \"basic_auth_users\"?)"},
            {"a misspelt TLS key", tls_ok + "  certfile: x\n",
             file + ":4: tls_server_config: unknown key \"certfile\" (did you mean "
                    "\"cert_file\"?)"},
            {"an unknown rate_limit key", "rate_limit:\n  every: 1s\n",
             file + ":2: rate_limit: unknown key \"every\""},
            // Two letters swapped: the key two edits away, not "cert" that it starts with.
            {"two letters swapped", "tls_server_config:\n  cert_fiel: x\n",
             file + ":2: tls_server_config: unknown key \"cert_fiel\" (did you mean "
                    "\"cert_file\"?)"},
            // Case slips too, worded as the main config words them (one reader for both).
            {"a case slip", "tls_server_config:\n  Cert_File: x\n",
             file + ":2: tls_server_config: unknown key \"Cert_File\" (did you mean "
                    "\"cert_file\"?)"},
        });
    }
    SUBCASE("text must be UTF-8, in keys and values, as in the main config") {
        f.check_errors({
            {"in a value",
             "tls_server_config:\n  cert_file: \"tls/\xffserver.crt\"\n  key_file: "
             "tls/server.key\n",
             file + ":2: tls_server_config.cert_file: not valid UTF-8 (byte 0xff at offset 4)"},
            {"in a key", "http_server_config:\n  headers:\n    \"X-\xc3\x28\": v\n",
             file + ":3: http_server_config.headers: a key is not valid UTF-8 (byte 0xc3 at "
                    "offset 2)"},
        });
    }
    SUBCASE("missing key_file") {
        CHECK(f.error_of("tls_server_config:\n  cert_file: tls/server.crt\n") ==
              file + ":1: tls_server_config: missing required key \"key_file\" (or inline "
                     "\"key\")");
    }
    SUBCASE("an unreadable or unusable certificate or key") {
        CHECK(
            f.error_of("tls_server_config:\n  cert_file: nope.crt\n  key_file: tls/server.key\n") ==
            file + ":2: tls_server_config.cert_file: cannot read " + (f.dir.file("nope.crt")) +
                ": No such file or directory");
        auto junk = f.dir.write("junk.crt", "not a certificate\n");
        auto msg = f.error_of("tls_server_config:\n  cert_file: junk.crt\n  key_file: "
                              "tls/server.key\n");
        CHECK(msg.starts_with(file + ":2: tls_server_config.cert_file: " + junk +
                              ": not a usable PEM certificate chain"));
        auto other = f.ca.issue("other", "DNS:other");
        f.dir.write("other.key", other.key_pem);
        msg =
            f.error_of("tls_server_config:\n  cert_file: tls/server.crt\n  key_file: other.key\n");
        CHECK(msg == file + ":3: tls_server_config.key_file: " + (f.dir.file("other.key")) +
                         ": the private key does not match the certificate of " + f.cert);
        CHECK(msg.find("PRIVATE KEY") == std::string::npos);
        CHECK(f.error_of("tls_server_config:\n  cert_file: tls/server.crt\n  cert: x\n  key_file: "
                         "tls/server.key\n") ==
              file + ":3: tls_server_config.cert: give either cert_file or cert, not both");
    }
    SUBCASE("a hash that is not bcrypt: the user is named, the hash never shown") {
        const std::string sha512 = "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/"
                                   "jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/";
        auto msg = f.error_of("basic_auth_users:\n  alice: " + test::reference_bcrypt("x") +
                              "\n  bob: " + sha512 + "\n");
        CHECK(msg.starts_with(file + ":3: basic_auth_users.bob: the password hash of user "
                                     "\"bob\" is not a bcrypt hash"));
        CHECK(msg.find("saltsalt") == std::string::npos);
        CHECK(f.error_of("basic_auth_users:\n  carol: plaintext-password\n")
                  .find("plaintext-password") == std::string::npos);
        CHECK(f.error_of("basic_auth_users:\n  \"a:b\": " + test::reference_bcrypt("x") + "\n") ==
              file + ":2: basic_auth_users.a:b: a user name cannot contain \":\" (Basic "
                     "authentication splits there)");
    }
    SUBCASE("TLS versions below 1.2, unknown ones, max below min") {
        f.check_errors({
            {"TLS 1.1", tls_ok + "  min_version: TLS11\n",
             file + ":4: tls_server_config.min_version: TLS11 is not supported: taskwatch "
                    "serves TLS 1.2 and 1.3 only (use TLS12 or TLS13)"},
            {"an unknown version", tls_ok + "  min_version: TLS14\n",
             file + ":4: tls_server_config.min_version: unknown TLS version \"TLS14\" "
                    "(expected TLS12 or TLS13)"},
            {"max below min", tls_ok + "  min_version: TLS13\n  max_version: TLS12\n",
             file + ":5: tls_server_config.max_version: is below min_version (TLS 1.3)"},
        });
    }
    SUBCASE("cipher suites and curves by Go name only") {
        f.check_errors({
            {"an insecure cipher suite",
             tls_ok + "  cipher_suites:\n    - TLS_RSA_WITH_AES_128_GCM_SHA256\n"
                      "    - TLS_RSA_WITH_RC4_128_SHA\n",
             file + ":6: tls_server_config.cipher_suites[1]: unknown or insecure cipher suite "
                    "\"TLS_RSA_WITH_RC4_128_SHA\" (Go crypto/tls names, e.g. "
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"},
            {"an OpenSSL curve name", tls_ok + "  curve_preferences: [P-256]\n",
             file + ":4: tls_server_config.curve_preferences[0]: unknown curve \"P-256\" "
                    "(expected CurveP256, CurveP384, CurveP521 or X25519)"},
        });
    }
    SUBCASE("client certificates: a policy that verifies needs CAs, CAs need a policy") {
        auto empty_ca = f.dir.write("empty-ca.crt", "\n");
        f.check_errors({
            {"a verifying policy without CAs",
             tls_ok + "  client_auth_type: RequireAndVerifyClientCert\n",
             file + ":4: tls_server_config.client_auth_type: RequireAndVerifyClientCert needs "
                    "client_ca_file (or inline client_ca) to verify against"},
            {"CAs without a policy", tls_ok + "  client_ca_file: tls/ca.crt\n",
             file + ":4: tls_server_config.client_ca_file: client CAs are configured but "
                    "client_auth_type is NoClientCert (set client_auth_type: "
                    "RequireAndVerifyClientCert)"},
            {"an unknown policy", tls_ok + "  client_auth_type: Always\n",
             file + ":4: tls_server_config.client_auth_type: unknown client_auth_type "
                    "\"Always\" (expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
                    "VerifyClientCertIfGiven or RequireAndVerifyClientCert)"},
            {"a CA file without certificates",
             tls_ok + "  client_auth_type: RequireAndVerifyClientCert\n"
                      "  client_ca_file: empty-ca.crt\n",
             file + ":5: tls_server_config.client_ca_file: " + empty_ca +
                 ": holds no PEM certificate"},
        });
        CHECK(f.error_of(tls_ok + "  client_auth_type: VerifyClientCertIfGiven\n"
                                  "  client_ca_file: tls/ca.crt\n  client_allowed_sans: [a]\n")
                  .starts_with(file + ":6: tls_server_config.client_allowed_sans: needs "
                                      "client_auth_type RequireAnyClientCert or"));
    }
    SUBCASE("headers: only the toolkit's five, with its values") {
        f.check_errors({
            {"a header not in the five", "http_server_config:\n  headers:\n    Server: x\n",
             file + ":3: http_server_config.headers.Server: HTTP header \"Server\" can not be "
                    "configured (allowed: Strict-Transport-Security, X-Content-Type-Options, "
                    "X-Frame-Options, X-XSS-Protection, Content-Security-Policy)"},
            {"a value not allowed", "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
             file + ":3: http_server_config.headers.X-Frame-Options: invalid value \"allow\" "
                    "(expected \"deny\" or \"sameorigin\")"},
            {"http2 not a boolean", "http_server_config:\n  http2: maybe\n",
             file + ":2: http_server_config.http2: expected true or false, got \"maybe\""},
        });
    }
    SUBCASE("rate limit, YAML syntax, duplicates") {
        f.check_errors({
            {"a burst of 0", "rate_limit:\n  interval: 1s\n  burst: 0\n",
             file + ":3: rate_limit.burst: must be at least 1 when interval is set (0 would "
                    "refuse everything)"},
            {"a burst that is no integer", "rate_limit:\n  interval: 1s\n  burst: many\n",
             file + ":3: rate_limit.burst: expected an integer, got \"many\""},
            {"a burst too large", "rate_limit:\n  interval: 1s\n  burst: 1000000000\n",
             file + ":3: rate_limit.burst: must be between 0 and 999999999, got \"1000000000\""},
            {"a mapping for the interval", "rate_limit:\n  interval: {a: 1}\n  burst: 3\n",
             file + ":2: rate_limit.interval: expected a duration, got a mapping"},
            {"a key twice", tls_ok + "  key_file: tls/server.key\n",
             file + ":4: tls_server_config: key \"key_file\" appears twice (first at line 3)"},
            {"a list for the document", "- a\n- b\n", file + ":1: expected a mapping, got a list"},
        });
        CHECK(f.error_of("rate_limit:\n  interval: 1.5s\n  burst: 3\n")
                  .starts_with(file + ":2: rate_limit.interval: "));
        auto syntax = f.error_of("basic_auth_users: [\n");
        CHECK(syntax.starts_with(file + ":"));
        CHECK(syntax.find(": YAML syntax error") != std::string::npos);
    }
    SUBCASE("a line starting with a comma (yaml-cpp 0.7's LoadAll looped forever on it)") {
        f.check_errors({
            {"in the first document", ",basic_auth_users:\n  a: b\n",
             file + ":1: YAML syntax error: did not find expected node content (column 1)"},
            {"in a later document", "rate_limit:\n  burst: 3\n---\n,\n",
             file + ":4: YAML syntax error: did not find expected node content (column 1)"},
        });
    }
}

TEST_CASE("web config: load_web_config names the file it cannot read") {
    test::temp_dir dir;
    const std::string expected =
        (dir.file("absent.yml")) + ": cannot read: No such file or directory";
    CHECK_THROWS_WITH_AS(web::load_web_config(dir.file("absent.yml")), expected.c_str(),
                         web::web_config_error);
}

TEST_CASE("web config: every Go cipher-suite name maps to a cipher OpenSSL knows") {
    tls_files f;
    std::string list;
    for (const char* name :
         {"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA",
          "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
          "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
          "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
          "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
          "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
          "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
          "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
        CAPTURE(name);
        CHECK_FALSE(web::openssl_cipher_name(name).empty());
        // One at a time: OpenSSL refuses a list in which it knows no cipher.
        CHECK_NOTHROW(f.parse("tls_server_config:\n  cert_file: tls/server.crt\n  key_file: "
                              "tls/server.key\n  cipher_suites: [" +
                              std::string(name) + "]\n"));
    }
}

TEST_CASE("bcrypt: hashes are recognised by shape, $2a$/$2b$/$2y$ only") {
    const auto h = test::reference_bcrypt("pw");
    CHECK(web::is_bcrypt_hash(h));
    CHECK(web::bcrypt_cost(h) == 4);
    CHECK(web::is_bcrypt_hash("$2y$" + h.substr(4)));
    CHECK(web::is_bcrypt_hash("$2a$" + h.substr(4)));
    CHECK_FALSE(web::is_bcrypt_hash("$2x$" + h.substr(4)));
    CHECK_FALSE(web::is_bcrypt_hash("$2b$03$" + h.substr(7)));
    CHECK_FALSE(web::is_bcrypt_hash("$2b$32$" + h.substr(7)));
    CHECK_FALSE(web::is_bcrypt_hash(h.substr(0, 59)));
    CHECK_FALSE(web::is_bcrypt_hash(h.substr(0, 59) + "!"));
    CHECK_FALSE(web::is_bcrypt_hash("$1$abc$def"));
    CHECK_FALSE(web::is_bcrypt_hash(""));
}

TEST_CASE("bcrypt: the right password verifies, wrong ones do not, whatever the $2 variant") {
    const auto h = test::reference_bcrypt("correct horse");
    CHECK(web::bcrypt_verify("correct horse", h));
    CHECK_FALSE(web::bcrypt_verify("correct horsE", h));
    CHECK_FALSE(web::bcrypt_verify("correct hors", h));
    CHECK_FALSE(web::bcrypt_verify("", h));
    // htpasswd writes $2y$: the same algorithm.
    CHECK(web::bcrypt_verify("correct horse", "$2y$" + h.substr(4)));
    // crypt() would stop at the NUL and see "correct horse".
    CHECK_FALSE(web::bcrypt_verify(std::string("correct horse\0evil", 18), h));
    CHECK_FALSE(web::bcrypt_verify("correct horse", "not a hash"));

    const auto made = web::bcrypt_hash("made here", 4);
    CHECK(made.starts_with("$2b$04$"));
    CHECK(web::bcrypt_verify("made here", made));
    CHECK_THROWS_AS(web::bcrypt_hash("x", 3), std::invalid_argument);
}

TEST_CASE("basic auth: right password passes, wrong and unknown fail, the cache never lets a wrong "
          "password through") {
    std::map<std::string, detail::secret> users;
    users.emplace("alice", detail::secret(test::reference_bcrypt("alice-pw")));
    users.emplace("bob", detail::secret(test::reference_bcrypt("bob-pw")));
    web::basic_auth a(std::move(users));
    REQUIRE(a.enabled());

    CHECK(a.check("alice", "alice-pw"));
    CHECK(a.bcrypt_runs() == 1);
    CHECK(a.check("alice", "alice-pw")); // from the cache
    CHECK(a.bcrypt_runs() == 1);
    CHECK(a.cache_hits() == 1);

    CHECK_FALSE(a.check("alice", "wrong"));
    CHECK_FALSE(a.check("alice", "alice-pw "));
    CHECK_FALSE(a.check("alice", "alice-p"));
    CHECK_FALSE(a.check("bob", "alice-pw"));   // another user's password
    CHECK_FALSE(a.check("carol", "alice-pw")); // unknown user
    CHECK_FALSE(a.check("Alice", "alice-pw")); // user names are exact
    CHECK(a.bcrypt_runs() == 7);               // every failure ran bcrypt: none was cached
    CHECK_FALSE(a.check("alice", "wrong"));    // and a repeated failure still does
    CHECK(a.bcrypt_runs() == 8);
    CHECK(a.cached() == 1);
    CHECK(a.check("bob", "bob-pw"));
    CHECK(a.cached() == 2);
}

TEST_CASE("basic auth: a cache entry belongs to one hash: the same password against a new hash is "
          "checked again") {
    const auto old_hash = test::reference_bcrypt("pw");
    std::map<std::string, detail::secret> users;
    users.emplace("alice", detail::secret(old_hash));
    web::basic_auth a(users);
    auto first = a.begin("alice", "pw");
    REQUIRE(std::holds_alternative<web::basic_auth::pending>(first));
    auto key_old = std::get<web::basic_auth::pending>(first).cache_key;

    std::map<std::string, detail::secret> changed;
    changed.emplace("alice", detail::secret(test::reference_bcrypt("pw")));
    web::basic_auth b(changed);
    auto second = b.begin("alice", "pw");
    REQUIRE(std::holds_alternative<web::basic_auth::pending>(second));
    CHECK(std::get<web::basic_auth::pending>(second).cache_key != key_old);
    // The key is a digest: it does not contain the password.
    CHECK(key_old.find("pw") == std::string::npos);
    CHECK(key_old.size() == 64);
}

TEST_CASE("basic auth: with no users nothing is enabled") {
    web::basic_auth a({});
    CHECK_FALSE(a.enabled());
}

TEST_CASE("Authorization: Basic parses user and password, and refuses the rest") {
    auto c = web::parse_basic_authorization("Basic YWxpY2U6c2VjcmV0"); // alice:secret
    REQUIRE(c);
    CHECK(c->user == "alice");
    CHECK(c->password.reveal() == "secret");

    c = web::parse_basic_authorization("basic YTpiOmM="); // a:b:c, scheme in any case
    REQUIRE(c);
    CHECK(c->user == "a");
    CHECK(c->password.reveal() == "b:c");

    c = web::parse_basic_authorization("Basic OnB3"); // ":pw": empty user
    REQUIRE(c);
    CHECK(c->user.empty());

    CHECK_FALSE(web::parse_basic_authorization(""));
    CHECK_FALSE(web::parse_basic_authorization("Bearer YWxpY2U6c2VjcmV0"));
    CHECK_FALSE(web::parse_basic_authorization("Basic"));
    CHECK_FALSE(web::parse_basic_authorization("Basic YWxpY2U="));          // "alice": no colon
    CHECK_FALSE(web::parse_basic_authorization("Basic YWxpY2U6c2VjcmV0=")); // bad padding
    CHECK_FALSE(web::parse_basic_authorization("Basic YWxp*2U6c2VjcmV0"));
    CHECK_FALSE(web::parse_basic_authorization("Basic YW=xpY2U6"));
}
