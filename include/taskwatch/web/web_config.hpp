// The `web_config_file` of the HTTP server, in the Prometheus exporter-toolkit format
// (docs/web-configuration.md there): TLS, client certificates, extra response headers,
// basic-auth users with bcrypt hashes, a request rate limit.
#pragma once

#include "taskwatch/config/settings.hpp"
#include "taskwatch/detail/secret.hpp"
#include "taskwatch/http/server_tls.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::web {

/// A web config file that cannot be used. what() is one line, `FILE:LINE: KEY.PATH: problem`
/// (or `FILE: problem`), like the main config's errors, and never holds a hash, a key or a
/// password. A config_error, so whoever reports config errors reports these too.
class web_config_error : public config::config_error {
public:
    using config::config_error::config_error;
};

/// `tls_server_config`, resolved: paths absolute, names mapped to OpenSSL's, context built.
struct tls_server_config {
    /// What the context was made from (paths absolute; inline PEM kept in `cert_pem` etc.).
    http::server_tls_options options;
    /// Ready for new connections; made when the file was loaded.
    std::shared_ptr<boost::asio::ssl::context> context;
};

struct http_server_config {
    bool http2 = true; ///< accepted for compatibility; the server speaks HTTP/1.1 only
    /// Extra response headers (the five the toolkit allows), blank values left out.
    std::vector<std::pair<std::string, std::string>> headers;
};

/// A token bucket over all requests: `burst` at once, then one per `interval`. Off when 0.
struct rate_limit_config {
    std::chrono::milliseconds interval{0};
    unsigned burst = 0;
    bool enabled() const { return interval.count() > 0; }
};

struct web_config {
    std::string source_path; ///< as given
    std::optional<tls_server_config> tls;
    http_server_config http;
    /// user -> bcrypt hash ($2a$, $2b$ or $2y$). Empty: no authentication.
    std::map<std::string, detail::secret> basic_auth_users;
    rate_limit_config rate_limit;
    /// Things accepted but not honoured, one log line each (e.g. http2).
    std::vector<std::string> notes;
};

/// Parses `yaml_text` as the web config file `source_path`: relative paths resolve against
/// its folder; the files it names are read and the TLS context is built. Unknown keys, a
/// missing key_file, an unreadable certificate, a hash that is not bcrypt, TLS below 1.2...
/// all throw web_config_error. `referenced` (when given) receives every file the text names,
/// also when it throws, so a caller can watch them for a fix.
web_config parse_web_config(std::string_view yaml_text, const std::string& source_path,
                            std::vector<std::string>* referenced = nullptr);

/// Reads `path` and parses it. Throws web_config_error (`PATH: cannot read: ...` and the like).
web_config load_web_config(const std::string& path, std::vector<std::string>* referenced = nullptr);

/// The OpenSSL name of a Go cipher-suite name (crypto/tls CipherSuites(), the secure ones),
/// or "" when unknown. `tls13` tells which list it belongs to.
std::string_view openssl_cipher_name(std::string_view go_name, bool* tls13 = nullptr);

} // namespace taskwatch::web
