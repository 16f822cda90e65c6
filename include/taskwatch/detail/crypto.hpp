// SHA-256 and HMAC-SHA256 (OpenSSL), hex, and a constant-time compare: the primitives that
// request signing, webhook signatures and password checks share.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace taskwatch::detail {

using sha256_digest = std::array<unsigned char, 32>;
using md5_digest = std::array<unsigned char, 16>;

/// SHA-256 of the concatenation of `parts`.
sha256_digest sha256(std::initializer_list<std::string_view> parts);
/// MD5 of `data`: not for security, only where a format asks for it (Prometheus' hashmod).
md5_digest md5(std::string_view data);
/// HMAC-SHA256 (RFC 2104) of `data` under `key`.
sha256_digest hmac_sha256(std::string_view key, std::string_view data);

/// Lower-case hex of `n` bytes, appended to `out`.
void append_hex(std::string& out, const unsigned char* p, std::size_t n);
std::string to_hex(const unsigned char* p, std::size_t n);

/// Hex of SHA-256 / HMAC-SHA256, lower case.
std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// Compares two strings in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace taskwatch::detail
