// Credentials for tests of the daemon's web server, made independently of the code under test:
// bcrypt hashes straight from libxcrypt, Basic authorization headers, and a folder holding a CA,
// a server certificate for 127.0.0.1 and the web config file that names them.
#pragma once

#include "support/files.hpp"
#include "support/http_request.hpp"
#include "support/pki.hpp"

#include <string>

namespace taskwatch::test {

/// A $2b$ bcrypt hash of `password` at cost 4 (fast), from libxcrypt directly.
std::string reference_bcrypt(const std::string& password);

/// An Authorization: Basic header for `user` and `password`.
header_list basic_auth(const std::string& user, const std::string& password);

/// A folder with a CA (ca.crt), a server certificate and key for localhost and 127.0.0.1
/// (server.crt, server.key), and where a web.yml naming them goes.
struct web_files {
    temp_dir dir{"web-files"};
    test_ca ca;
    std::string ca_file, cert, key, web;

    web_files();
    /// The tls_server_config section naming server.crt and server.key, plus `extra` lines.
    static std::string tls_section(const std::string& extra = "");
    /// A basic_auth_users section with one user.
    static std::string users(const std::string& user, const std::string& password);
};

} // namespace taskwatch::test
