#include "taskwatch/auth/credentials.hpp"

#include "taskwatch/detail/bytes.hpp"
#include "taskwatch/detail/read_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace taskwatch::auth {
using detail::secret;

namespace {

using detail::wipe;

bool is_trailing_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void trim_trailing(std::string& s) {
    std::size_t n = s.size();
    while (n > 0 && is_trailing_space(s[n - 1]))
        --n;
    // Overwrite the trimmed tail first: resize alone would leave the bytes in the buffer.
    for (std::size_t i = n; i < s.size(); ++i)
        s[i] = 0;
    s.resize(n);
}

bool has_control_character(std::string_view s) {
    for (unsigned char c : detail::bytes_of(s))
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// Empty variables count as unset, as a shell `VAR= cmd` usually means "no value".
std::optional<std::string> lookup(const environment& env, std::string_view name) {
    if (!env) return std::nullopt;
    auto v = env(name);
    if (!v || v->empty()) return std::nullopt;
    return v;
}

// Reads one candidate; `missing` set tells the caller to try the next one.
expected<secret, std::string> read_one(const std::string& file, bool& missing) {
    auto r =
        detail::read_regular_file(file, detail::secret_file_limit, detail::file_content::secret);
    if (!r) {
        missing = r.error().os_error == ENOENT || r.error().os_error == ENOTDIR;
        return unexpected{"cannot read " + file + ": " + r.error().message};
    }
    missing = false;
    std::string buf = std::move(*r);
    trim_trailing(buf);
    if (buf.empty()) return unexpected{file + " is empty"};
    if (has_control_character(buf)) {
        wipe(buf);
        return unexpected{file +
                          " holds more than one line or a control character; expected one line"};
    }
    secret out{buf};
    wipe(buf);
    return out;
}

// An environment value used as a credential: trimmed like a file, one line.
expected<std::string, std::string> env_value(std::string value, std::string_view name) {
    trim_trailing(value);
    if (value.empty())
        return unexpected{"the environment variable " + std::string(name) + " is blank"};
    if (has_control_character(value)) {
        wipe(value);
        return unexpected{"the environment variable " + std::string(name) +
                          " holds more than one line or a control character"};
    }
    return value;
}

expected<http::endpoint, std::string> https_endpoint(std::string_view url) {
    auto parts = http::split_url(url);
    if (!parts) return unexpected{parts.error()};
    if (parts->scheme != "https") return unexpected{std::string("must be an https:// URL")};
    if (parts->userinfo) return unexpected{std::string("must not contain user information")};
    if (!parts->is_origin())
        return unexpected{std::string("must be https://HOST[:PORT] without a path")};
    return parts->origin();
}

} // namespace

environment process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

std::vector<std::string> credential_path_candidates(std::string_view path,
                                                    std::string_view config_dir,
                                                    const environment& env) {
    std::vector<std::string> out;
    if (!path.empty() && path.front() == '/') {
        out.emplace_back(path);
        return out;
    }
    auto join = [&](std::string_view dir) {
        std::string p(dir);
        if (!p.empty() && p.back() != '/') p += '/';
        p += path;
        return p;
    };
    if (auto creds = lookup(env, "CREDENTIALS_DIRECTORY")) out.push_back(join(*creds));
    out.push_back(config_dir.empty() ? std::string(path) : join(config_dir));
    return out;
}

expected<secret, std::string> read_secret_file(std::string_view path, std::string_view config_dir,
                                               const environment& env) {
    if (path.empty()) return unexpected{std::string("empty file name")};
    auto candidates = credential_path_candidates(path, config_dir, env);
    for (const auto& file : candidates) {
        bool missing = false;
        auto r = read_one(file, missing);
        if (r || !missing) return r;
    }
    if (candidates.size() == 1)
        return unexpected{"cannot read " + candidates.front() + ": " + errno_text(ENOENT)};
    std::string looked;
    for (const auto& c : candidates)
        looked += (looked.empty() ? "" : ", ") + c;
    return unexpected{"cannot read " + std::string(path) + ": " + errno_text(ENOENT) +
                      " (looked in " + looked + ")"};
}

expected<aksk_credentials, credentials_problem>
resolve_aksk(const aksk_source& src, std::string_view config_dir, const environment& env) {
    aksk_credentials out;
    if (!src.ak_file && !src.sk_file) {
        if (src.security_token_file)
            return unexpected{
                credentials_problem{"security_token_file", "needs ak_file and sk_file beside it"}};
        auto ak = lookup(env, "HUAWEICLOUD_SDK_AK");
        auto sk = lookup(env, "HUAWEICLOUD_SDK_SK");
        if (!ak && !sk)
            return unexpected{credentials_problem{"", "no credentials: set ak_file and sk_file, or "
                                                      "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK "
                                                      "in the environment"}};
        if (!ak)
            return unexpected{
                credentials_problem{"", "HUAWEICLOUD_SDK_SK is set but HUAWEICLOUD_SDK_AK is not"}};
        if (!sk)
            return unexpected{
                credentials_problem{"", "HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not"}};
        auto ak_v = env_value(std::move(*ak), "HUAWEICLOUD_SDK_AK");
        if (!ak_v) return unexpected{credentials_problem{"", ak_v.error()}};
        auto sk_v = env_value(std::move(*sk), "HUAWEICLOUD_SDK_SK");
        wipe(*sk);
        if (!sk_v) return unexpected{credentials_problem{"", sk_v.error()}};
        out.access_key = std::move(*ak_v);
        out.secret_key = secret{*sk_v};
        wipe(*sk_v);
        if (auto token = lookup(env, "HUAWEICLOUD_SDK_SECURITY_TOKEN")) {
            auto t = env_value(std::move(*token), "HUAWEICLOUD_SDK_SECURITY_TOKEN");
            wipe(*token);
            if (!t) return unexpected{credentials_problem{"", t.error()}};
            out.security_token = secret{*t};
            wipe(*t);
        }
        return out;
    }
    if (!src.ak_file)
        return unexpected{
            credentials_problem{"ak_file", "missing: sk_file needs ak_file beside it"}};
    if (!src.sk_file)
        return unexpected{
            credentials_problem{"sk_file", "missing: ak_file needs sk_file beside it"}};
    auto ak = read_secret_file(*src.ak_file, config_dir, env);
    if (!ak) return unexpected{credentials_problem{"ak_file", ak.error()}};
    out.access_key = std::string(ak->reveal());
    auto sk = read_secret_file(*src.sk_file, config_dir, env);
    if (!sk) return unexpected{credentials_problem{"sk_file", sk.error()}};
    out.secret_key = std::move(*sk);
    if (src.security_token_file) {
        auto t = read_secret_file(*src.security_token_file, config_dir, env);
        if (!t) return unexpected{credentials_problem{"security_token_file", t.error()}};
        out.security_token = std::move(*t);
    }
    return out;
}

expected<token_credentials, credentials_problem>
resolve_token(const token_source& src, const http::endpoint& modelarts_endpoint,
              std::string_view config_dir, const environment& env) {
    token_credentials out;
    if (src.iam_endpoint) {
        auto ep = https_endpoint(*src.iam_endpoint);
        if (!ep) return unexpected{credentials_problem{"iam_endpoint", ep.error()}};
        out.iam_endpoint = std::move(*ep);
    } else if (auto from_env = lookup(env, "HUAWEICLOUD_SDK_IAM_ENDPOINT")) {
        auto ep = https_endpoint(*from_env);
        if (!ep)
            return unexpected{credentials_problem{
                "iam_endpoint",
                "the environment variable HUAWEICLOUD_SDK_IAM_ENDPOINT " + ep.error()}};
        out.iam_endpoint = std::move(*ep);
    } else if (auto derived = default_iam_endpoint(modelarts_endpoint)) {
        out.iam_endpoint = std::move(*derived);
    } else {
        return unexpected{credentials_problem{
            "iam_endpoint", "missing, and it cannot be derived from modelarts.endpoint " +
                                modelarts_endpoint.to_string() +
                                " (only from https://modelarts.<region>.myhuaweicloud.com)"}};
    }
    if (!src.domain_name || src.domain_name->empty())
        return unexpected{
            credentials_problem{"domain_name", "missing (required with type: token)"}};
    if (!src.user_name || src.user_name->empty())
        return unexpected{credentials_problem{"user_name", "missing (required with type: token)"}};
    if (!src.password_file)
        return unexpected{
            credentials_problem{"password_file", "missing (required with type: token)"}};
    out.domain_name = *src.domain_name;
    out.user_name = *src.user_name;
    auto pw = read_secret_file(*src.password_file, config_dir, env);
    if (!pw) return unexpected{credentials_problem{"password_file", pw.error()}};
    out.password = std::move(*pw);
    return out;
}

std::optional<http::endpoint> default_iam_endpoint(const http::endpoint& modelarts_endpoint) {
    if (modelarts_endpoint.scheme != "https") return std::nullopt;
    constexpr std::string_view prefix = "modelarts.";
    std::string_view h = modelarts_endpoint.host; // lower-case
    if (!h.starts_with(prefix)) return std::nullopt;
    h.remove_prefix(prefix.size());
    std::string_view region;
    for (std::string_view suffix : {".myhuaweicloud.com", ".myhuaweicloud.cn"})
        if (h.ends_with(suffix)) region = h.substr(0, h.size() - suffix.size());
    if (region.empty()) return std::nullopt;
    for (char c : region)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return std::nullopt;
    return http::endpoint{"https", "iam." + std::string(region) + ".myhuaweicloud.com", 443, {}};
}

} // namespace taskwatch::auth
