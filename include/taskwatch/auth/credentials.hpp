// Where ModelArts credentials come from: files (systemd LoadCredential first), then the
// Huawei SDK environment variables. Resolution reads files but never prints their bytes.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/detail/secret.hpp"
#include "taskwatch/http/url.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace taskwatch::auth {

/// AK/SK, optionally temporary (with a security token sent as X-Security-Token).
struct aksk_credentials {
    std::string access_key; ///< an identifier (sent in Authorization), not a secret
    detail::secret secret_key;
    std::optional<detail::secret> security_token;
    bool operator==(const aksk_credentials&) const = default;
};

/// IAM password login; the token it yields is scoped to a project and cached by the caller.
struct token_credentials {
    http::endpoint iam_endpoint; ///< https://iam.<region>.myhuaweicloud.com
    std::string domain_name;
    std::string user_name;
    detail::secret password;
    bool operator==(const token_credentials&) const = default;
};

using credentials = std::variant<aksk_credentials, token_credentials>;

/// Looks up an environment variable; nullopt when unset. Passed in so tests need not
/// touch the process environment.
using environment = std::function<std::optional<std::string>(std::string_view name)>;

/// The real process environment (::getenv).
environment process_environment();

/// What went wrong, as a key of the `modelarts.auth` section (or empty for the
/// section itself) and a message that never contains secret bytes.
struct credentials_problem {
    std::string key;
    std::string message;
};

/// `modelarts.auth` for `type: aksk`, before any file is read.
struct aksk_source {
    std::optional<std::string> ak_file;
    std::optional<std::string> sk_file;
    std::optional<std::string> security_token_file;
};

/// `modelarts.auth` for `type: token`, before any file is read.
struct token_source {
    std::optional<std::string> iam_endpoint;
    std::optional<std::string> domain_name;
    std::optional<std::string> user_name;
    std::optional<std::string> password_file;
};

/// Where a relative credential path is looked for, in order: $CREDENTIALS_DIRECTORY
/// (when set and non-empty), then `config_dir`. An absolute path is the only candidate.
std::vector<std::string> credential_path_candidates(std::string_view path,
                                                    std::string_view config_dir,
                                                    const environment& env);

/// Reads a secret file found by credential_path_candidates(): the first candidate that
/// exists is read (an unreadable one is an error, not skipped). Trailing whitespace and
/// newlines are trimmed; an empty result, a file over 64 KiB, or a control character
/// inside are errors. The message names the path(s) and the reason, never the contents.
expected<detail::secret, std::string>
read_secret_file(std::string_view path, std::string_view config_dir, const environment& env);

/// AK/SK: `ak_file` + `sk_file` (+ optional `security_token_file`); when neither file
/// key is set, HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK (+ HUAWEICLOUD_SDK_SECURITY_TOKEN,
/// taken only together with keys from the environment). Setting one file key without
/// the other, or a token file without key files, is an error.
expected<aksk_credentials, credentials_problem>
resolve_aksk(const aksk_source& src, std::string_view config_dir, const environment& env);

/// IAM token: `iam_endpoint` (else HUAWEICLOUD_SDK_IAM_ENDPOINT, else derived from the
/// ModelArts endpoint), `domain_name`, `user_name`, `password_file`, all required.
expected<token_credentials, credentials_problem>
resolve_token(const token_source& src, const http::endpoint& modelarts_endpoint,
              std::string_view config_dir, const environment& env);

/// https://iam.<region>.myhuaweicloud.com for https://modelarts.<region>.myhuaweicloud.com
/// (or .myhuaweicloud.cn); nullopt for any other endpoint.
std::optional<http::endpoint> default_iam_endpoint(const http::endpoint& modelarts_endpoint);

} // namespace taskwatch::auth
