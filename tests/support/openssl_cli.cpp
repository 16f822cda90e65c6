#include "support/openssl_cli.hpp"

#include "support/process.hpp"

#include <stdexcept>

namespace taskwatch::test {

std::string openssl_hmac_sha256_base64(std::string_view key, std::string_view message) {
    // The key goes as hex so that any byte (a decoded whsec_ secret, a newline) survives;
    // the message through printf from the environment, so no quoting can change it.
    static constexpr char digits[] = "0123456789abcdef";
    std::string key_hex;
    for (unsigned char ch : key) {
        key_hex += digits[ch >> 4];
        key_hex += digits[ch & 0xf];
    }
    auto r = run_command("/bin/sh",
                         {"-c", "printf '%s' \"$MSG\" | openssl dgst -sha256 -mac HMAC -macopt "
                                "\"hexkey:$KEY_HEX\" -binary | openssl base64 -A"},
                         {{"MSG", std::string(message)}, {"KEY_HEX", key_hex}});
    if (r.status != 0 || r.out.empty())
        throw std::runtime_error("openssl dgst failed (status " + std::to_string(r.status) +
                                 "): " + r.err);
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r'))
        r.out.pop_back();
    return r.out;
}

} // namespace taskwatch::test
