#include "support/web_auth.hpp"

#include <openssl/evp.h>

#include <crypt.h>

#include <array>
#include <stdexcept>

namespace taskwatch::test {

std::string reference_bcrypt(const std::string& password) {
    std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
    if (crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting.data(), static_cast<int>(setting.size())) ==
        nullptr)
        throw std::runtime_error("crypt_gensalt_rn failed");
    crypt_data data{};
    const char* out = crypt_rn(password.c_str(), setting.data(), &data, sizeof data);
    if (out == nullptr) throw std::runtime_error("crypt_rn failed");
    return out;
}

header_list basic_auth(const std::string& user, const std::string& password) {
    const std::string in = user + ":" + password;
    std::string encoded(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    encoded.resize(static_cast<std::size_t>(n));
    return {{"Authorization", "Basic " + encoded}};
}

web_files::web_files() {
    auto pair = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    cert = dir.write("server.crt", pair.cert_pem);
    key = dir.write("server.key", pair.key_pem);
    ca_file = dir.write("ca.crt", ca.cert_pem());
    web = dir.file("web.yml");
}

std::string web_files::tls_section(const std::string& extra) {
    return "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" + extra;
}

std::string web_files::users(const std::string& user, const std::string& password) {
    return "basic_auth_users:\n  " + user + ": " + reference_bcrypt(password) + "\n";
}

} // namespace taskwatch::test
