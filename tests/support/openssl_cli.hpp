// Reference values computed outside taskwatch's code, by the `openssl` command: signature tests
// compare taskwatch's HMACs with these rather than with numbers copied from its own output.
#pragma once

#include <string>
#include <string_view>

namespace taskwatch::test {

/// base64(HMAC-SHA256(key, message)) as `openssl dgst -mac HMAC | openssl base64` computes it.
/// Throws std::runtime_error when the command fails. `message` may not contain NUL bytes.
std::string openssl_hmac_sha256_base64(std::string_view key, std::string_view message);

} // namespace taskwatch::test
