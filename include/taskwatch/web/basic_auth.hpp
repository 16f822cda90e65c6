// HTTP Basic authentication against bcrypt hashes (libxcrypt), with a cache of successful
// checks: bcrypt costs ~60 ms at cost 10 and Prometheus scrapes every 15 s.
#pragma once

#include "taskwatch/detail/secret.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <variant>

namespace taskwatch::web {

/// A well-formed bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost 04..31, `$`, then
/// 53 characters of bcrypt's base64 (`./A-Za-z0-9`): 60 characters in all.
bool is_bcrypt_hash(std::string_view s);
/// The cost of a well-formed bcrypt hash, else 0.
unsigned bcrypt_cost(std::string_view hash);

/// Checks `password` against `hash` with libxcrypt's crypt_rn (thread-safe: no static
/// buffer) and compares the result in constant time. Slow on purpose. False when the hash is
/// not bcrypt, when the password holds a NUL byte (crypt would stop reading there) or is
/// longer than libxcrypt accepts.
bool bcrypt_verify(std::string_view password, std::string_view hash);

/// A new `$2b$` hash of `password` at `cost` (4..31) with a random salt (crypt_gensalt_rn).
/// Throws std::invalid_argument on a bad cost, std::runtime_error if libxcrypt fails.
std::string bcrypt_hash(std::string_view password, unsigned cost);

/// `Authorization: Basic` credentials.
struct basic_credentials {
    std::string user;
    detail::secret password;
};

/// Parses an Authorization header value: `Basic <base64(user:password)>`, scheme in any
/// case. nullopt for another scheme, bad base64 or no colon.
std::optional<basic_credentials> parse_basic_authorization(std::string_view value);

/// The users of one web config and the cache of checks that succeeded against them.
/// Not thread-safe: one owner (the io_context's thread). The slow bcrypt step can run on
/// another thread: begin() says what to compute, finish() takes its result.
class basic_auth {
public:
    /// `users`: user -> bcrypt hash, already validated (is_bcrypt_hash).
    explicit basic_auth(std::map<std::string, detail::secret> users,
                        std::size_t cache_capacity = 1024);

    /// False when there are no users: then nothing is checked.
    bool enabled() const noexcept { return !users_.empty(); }

    /// What bcrypt must compute for a check the cache could not answer. For an unknown user
    /// it runs against a dummy salt of the users' usual cost, so timing does not tell which
    /// users exist; the verdict is then false whatever bcrypt says.
    struct pending {
        std::string cache_key; ///< SHA-256 of (user, hash, password); holds no secret
        std::string hash;      ///< the user's hash, or the dummy setting
        bool known_user = false;
    };

    /// A verdict at once (a cached success) or the bcrypt work still to do.
    std::variant<bool, pending> begin(std::string_view user, std::string_view password);
    /// The verdict once bcrypt ran: true only for a known user whose hash matched.
    /// Successes are cached; failures never are, so a wrong password always costs a bcrypt.
    bool finish(const pending& p, bool bcrypt_matched);

    /// begin + bcrypt_verify on this thread + finish.
    bool check(std::string_view user, std::string_view password);

    std::uint64_t cache_hits() const noexcept { return cache_hits_; }
    std::uint64_t bcrypt_runs() const noexcept { return bcrypt_runs_; }
    std::size_t cached() const noexcept { return cache_.size(); }

private:
    std::map<std::string, detail::secret, std::less<>> users_;
    std::string dummy_setting_;
    std::size_t capacity_;
    std::unordered_set<std::string> cache_;
    std::uint64_t cache_hits_ = 0;
    std::uint64_t bcrypt_runs_ = 0;
};

} // namespace taskwatch::web
