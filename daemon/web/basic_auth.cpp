// Basic authentication with bcrypt (libxcrypt) and a cache of successes.
#include "taskwatch/web/basic_auth.hpp"

#include "taskwatch/detail/base64.hpp"

#include "taskwatch/detail/crypto.hpp"

#include <crypt.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace taskwatch::web {

namespace {

bool bcrypt_base64_char(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '/';
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char ch) {
            return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
        };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Unambiguous whatever bytes the parts hold: each is length-prefixed.
std::string cache_key_of(std::string_view user, std::string_view hash, std::string_view password) {
    std::string material;
    material.reserve(user.size() + hash.size() + password.size() + 32);
    for (auto part : {user, hash, password}) {
        material += std::to_string(part.size());
        material += ':';
        material += part;
    }
    auto key = detail::sha256_hex(material);
    std::fill(material.begin(), material.end(), '\0');
    return key;
}

} // namespace

bool is_bcrypt_hash(std::string_view s) {
    if (s.size() != 60) return false;
    if (s[0] != '$' || s[1] != '2' || (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || s[3] != '$')
        return false;
    if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' || s[6] != '$') return false;
    unsigned cost = static_cast<unsigned>(s[4] - '0') * 10 + static_cast<unsigned>(s[5] - '0');
    if (cost < 4 || cost > 31) return false;
    return std::all_of(s.begin() + 7, s.end(), bcrypt_base64_char);
}

unsigned bcrypt_cost(std::string_view hash) {
    if (!is_bcrypt_hash(hash)) return 0;
    return static_cast<unsigned>(hash[4] - '0') * 10 + static_cast<unsigned>(hash[5] - '0');
}

bool bcrypt_verify(std::string_view password, std::string_view hash) {
    if (password.find('\0') != std::string_view::npos) return false;
    if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) return false;
    // A setting from crypt_gensalt is 29 characters: it must never "match" (see basic_auth).
    if (!is_bcrypt_hash(hash) && hash.size() != 29) return false;
    const std::string phrase(password);
    const std::string setting(hash);
    // 32 KiB: on the heap, zeroed as libxcrypt asks before first use.
    auto data = std::make_unique<crypt_data>();
    const char* out =
        crypt_rn(phrase.c_str(), setting.c_str(), data.get(), static_cast<int>(sizeof(crypt_data)));
    bool match = out != nullptr && out[0] != '*' && detail::constant_time_equal(out, hash);
    std::fill_n(reinterpret_cast<volatile char*>(data.get()), sizeof(crypt_data), '\0');
    return match;
}

std::string bcrypt_hash(std::string_view password, unsigned cost) {
    if (cost < 4 || cost > 31) throw std::invalid_argument("bcrypt cost must be 4..31");
    if (password.find('\0') != std::string_view::npos)
        throw std::invalid_argument("a bcrypt password cannot contain NUL");
    std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
    if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting.data(),
                         static_cast<int>(setting.size())) == nullptr)
        throw std::runtime_error(std::string("crypt_gensalt_rn: ") + std::strerror(errno));
    auto data = std::make_unique<crypt_data>();
    const std::string phrase(password);
    const char* out =
        crypt_rn(phrase.c_str(), setting.data(), data.get(), static_cast<int>(sizeof(crypt_data)));
    if (out == nullptr) throw std::runtime_error(std::string("crypt_rn: ") + std::strerror(errno));
    std::string hash(out);
    std::fill_n(reinterpret_cast<volatile char*>(data.get()), sizeof(crypt_data), '\0');
    return hash;
}

std::optional<basic_credentials> parse_basic_authorization(std::string_view value) {
    auto space = value.find(' ');
    if (space == std::string_view::npos || !iequals(value.substr(0, space), "Basic"))
        return std::nullopt;
    auto token = value.substr(space + 1);
    while (!token.empty() && token.front() == ' ')
        token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ')
        token.remove_suffix(1);
    auto decoded = detail::base64_decode(token);
    if (!decoded) return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos) {
        std::fill(decoded->begin(), decoded->end(), '\0');
        return std::nullopt;
    }
    basic_credentials out{decoded->substr(0, colon), detail::secret(decoded->substr(colon + 1))};
    std::fill(decoded->begin(), decoded->end(), '\0');
    return out;
}

basic_auth::basic_auth(std::map<std::string, detail::secret> users, std::size_t cache_capacity)
    : capacity_(std::max<std::size_t>(cache_capacity, 1)) {
    // The dummy's cost is the users' most common one, so an unknown user takes as long.
    std::map<unsigned, std::size_t> costs;
    for (auto& [user, hash] : users) {
        ++costs[bcrypt_cost(hash.reveal())];
        users_.emplace(user, std::move(hash));
    }
    unsigned cost = 10;
    std::size_t best = 0;
    for (auto [c, n] : costs)
        if (c != 0 && n >= best) {
            cost = c;
            best = n;
        }
    if (!users_.empty()) {
        std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
        if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting.data(),
                             static_cast<int>(setting.size())) != nullptr)
            dummy_setting_ = setting.data();
    }
}

std::variant<bool, basic_auth::pending> basic_auth::begin(std::string_view user,
                                                          std::string_view password) {
    pending p;
    auto it = users_.find(user);
    p.known_user = it != users_.end();
    p.hash = p.known_user ? std::string(it->second.reveal()) : dummy_setting_;
    p.cache_key = cache_key_of(user, p.hash, password);
    if (p.known_user && cache_.count(p.cache_key) != 0) {
        ++cache_hits_;
        return true;
    }
    return p;
}

bool basic_auth::finish(const pending& p, bool bcrypt_matched) {
    ++bcrypt_runs_;
    const bool ok = p.known_user && bcrypt_matched;
    if (ok) {
        // Bounded: legitimate users only, but bcrypt ignores bytes past 72, so variants exist.
        if (cache_.size() >= capacity_) cache_.clear();
        cache_.insert(p.cache_key);
    }
    return ok;
}

bool basic_auth::check(std::string_view user, std::string_view password) {
    auto step = begin(user, password);
    if (auto* verdict = std::get_if<bool>(&step)) return *verdict;
    const auto& p = std::get<pending>(step);
    return finish(p, bcrypt_verify(password, p.hash));
}

} // namespace taskwatch::web
