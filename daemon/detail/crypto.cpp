#include "taskwatch/detail/crypto.hpp"

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

namespace taskwatch::detail {
namespace {
constexpr char hex_lower[] = "0123456789abcdef";
} // namespace

void append_hex(std::string& out, const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(hex_lower[p[i] >> 4]);
        out.push_back(hex_lower[p[i] & 0xf]);
    }
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    std::string out;
    out.reserve(n * 2);
    append_hex(out, p, n);
    return out;
}

namespace {

// SHA-256 through OpenSSL's low-level interface. The EVP interface of OpenSSL 3 fetches the
// algorithm and allocates a fresh context on every EVP_DigestInit_ex; a request hashes three
// times (canonical request, HMAC inner and outer), and that was three allocations and a
// provider dispatch each. SHA256_Init and friends are deprecated in 3.0, not removed, and
// compute the same digest with the context on the stack.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void sha256_of(std::initializer_list<std::string_view> parts, unsigned char* out) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    for (auto p : parts)
        SHA256_Update(&ctx, p.data(), p.size());
    SHA256_Final(out, &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}
#pragma GCC diagnostic pop

// HMAC (RFC 2104) over sha256_of; block size 64.
void hmac_sha256_raw(std::string_view key, std::string_view data, unsigned char* out) {
    unsigned char k0[64] = {};
    if (key.size() > sizeof k0) {
        unsigned char hashed[32];
        sha256_of({key}, hashed);
        std::memcpy(k0, hashed, sizeof hashed);
        OPENSSL_cleanse(hashed, sizeof hashed);
    } else {
        std::memcpy(k0, key.data(), key.size());
    }
    unsigned char ipad[64], opad[64];
    for (std::size_t i = 0; i < sizeof k0; ++i) {
        ipad[i] = static_cast<unsigned char>(k0[i] ^ 0x36);
        opad[i] = static_cast<unsigned char>(k0[i] ^ 0x5c);
    }
    const auto view = [](const unsigned char* p, std::size_t n) {
        return std::string_view(reinterpret_cast<const char*>(p), n);
    };
    unsigned char inner[32];
    sha256_of({view(ipad, sizeof ipad), data}, inner);
    sha256_of({view(opad, sizeof opad), view(inner, sizeof inner)}, out);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
}

} // namespace

std::string sha256_hex(std::string_view data) {
    unsigned char md[32];
    sha256_of({data}, md);
    return to_hex(md, sizeof md);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    unsigned char md[32];
    hmac_sha256_raw(key, data, md);
    return to_hex(md, sizeof md);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

sha256_digest sha256(std::initializer_list<std::string_view> parts) {
    sha256_digest out;
    sha256_of(parts, out.data());
    return out;
}

md5_digest md5(std::string_view data) {
    md5_digest out{};
    unsigned int len = 0;
    // One-shot EVP: MD5 is hashed once per task key and discovery listing, not per request.
    EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
    return out;
}

sha256_digest hmac_sha256(std::string_view key, std::string_view data) {
    sha256_digest out;
    hmac_sha256_raw(key, data, out.data());
    return out;
}

} // namespace taskwatch::detail
