#include "taskwatch/auth/signer.hpp"

#include "taskwatch/detail/crypto.hpp"
#include "taskwatch/detail/field_text.hpp"
#include "taskwatch/detail/percent.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace taskwatch::auth {
using detail::append_hex;
using detail::append_percent_encoded;
using detail::hmac_sha256_hex;
using detail::percent_encode;
using detail::sha256_hex;
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    });
    return out;
}

template <class F> void for_each_segment(std::string_view path, F&& f) {
    std::size_t start = 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        f(path.substr(start, slash - start), slash < path.size());
        start = slash + 1;
    }
}

// encode_path() appended to `out`.
void append_encoded_path(std::string& out, std::string_view decoded_path) {
    const auto start = out.size();
    for_each_segment(decoded_path, [&](std::string_view seg, bool more) {
        append_percent_encoded(out, seg);
        if (more) out.push_back('/');
    });
    if (out.size() == start || out[start] != '/')
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(start), '/');
}

} // namespace

std::string encode_path(std::string_view decoded_path) {
    std::string out;
    out.reserve(decoded_path.size() + 8);
    append_encoded_path(out, decoded_path);
    return out;
}

std::string canonical_uri(std::string_view decoded_path) {
    std::string out = encode_path(decoded_path);
    if (out.back() != '/') out.push_back('/');
    return out;
}

std::string canonical_query_string(const query_params& query) {
    std::vector<const std::pair<std::string, std::string>*> items;
    items.reserve(query.size());
    for (const auto& kv : query)
        items.push_back(&kv);
    // Raw byte order of keys, then of values (repeated keys).
    std::sort(items.begin(), items.end(), [](const auto* a, const auto* b) {
        if (a->first != b->first) return a->first < b->first;
        return a->second < b->second;
    });
    std::string out;
    for (const auto* kv : items) {
        if (!out.empty()) out.push_back('&');
        out += percent_encode(kv->first);
        out.push_back('=');
        out += percent_encode(kv->second);
    }
    return out;
}

std::string format_sdk_date(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[20];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_sdk_date(std::string_view s) {
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
    auto num = [&](std::size_t pos, std::size_t n, int& out) {
        out = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    int y, mo, d, h, mi, se;
    if (!num(0, 4, y) || !num(4, 2, mo) || !num(6, 2, d) || !num(9, 2, h) || !num(11, 2, mi) ||
        !num(13, 2, se))
        return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
    return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
}

signature sign(const sign_request& req, std::string_view ak, std::string_view sk) {
    signature out;
    out.sdk_date = std::string(req.sdk_date);

    // Lower-cased, trimmed headers; a caller's X-Sdk-Date wins.
    std::vector<std::pair<std::string, std::string>> hs;
    bool unsigned_body = false;
    bool has_date = false;
    if (req.headers) {
        for (const auto& [name, value] : *req.headers) {
            auto n = lower(name);
            if (n == "host") continue;
            if (n == "x-sdk-date") {
                out.sdk_date = std::string(detail::trim_ows(value));
                has_date = true;
            }
            if (n == "x-sdk-content-sha256" && detail::trim_ows(value) == unsigned_payload)
                unsigned_body = true;
            hs.emplace_back(std::move(n), std::string(detail::trim_ows(value)));
        }
    }
    hs.emplace_back("host", std::string(req.host));
    if (!has_date) hs.emplace_back("x-sdk-date", out.sdk_date);
    std::stable_sort(hs.begin(), hs.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });

    for (const auto& [n, v] : hs) {
        out.canonical_headers += n;
        out.canonical_headers.push_back(':');
        out.canonical_headers += v;
        out.canonical_headers.push_back('\n');
        if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
        out.signed_headers += n;
    }

    out.canonical_uri = canonical_uri(req.path);
    static const query_params no_query;
    out.canonical_query = canonical_query_string(req.query ? *req.query : no_query);
    // Most requests are GETs: the empty body's hash is a constant.
    static constexpr std::string_view empty_body_hash =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    out.payload_hash = unsigned_body      ? std::string(unsigned_payload)
                       : req.body.empty() ? std::string(empty_body_hash)
                                          : sha256_hex(req.body);

    out.canonical_request.reserve(256 + out.canonical_headers.size());
    out.canonical_request += req.method;
    out.canonical_request += '\n';
    out.canonical_request += out.canonical_uri;
    out.canonical_request += '\n';
    out.canonical_request += out.canonical_query;
    out.canonical_request += '\n';
    out.canonical_request += out.canonical_headers;
    out.canonical_request += '\n';
    out.canonical_request += out.signed_headers;
    out.canonical_request += '\n';
    out.canonical_request += out.payload_hash;

    out.string_to_sign =
        std::string(algorithm) + "\n" + out.sdk_date + "\n" + sha256_hex(out.canonical_request);
    out.signature_hex = hmac_sha256_hex(sk, out.string_to_sign);
    out.authorization = std::string(algorithm) + " Access=" + std::string(ak) +
                        ", SignedHeaders=" + out.signed_headers +
                        ", Signature=" + out.signature_hex;
    return out;
}

std::string sign_authorization(const sign_request& req, std::string_view ak, std::string_view sk) {
    // sign() without its intermediate strings: every request is signed, and they were a third
    // of its cost. Scratch space is per thread and reused; views point into `names`, which is
    // sized before the first view is taken.
    struct entry {
        std::string_view name;  // lower-case
        std::string_view value; // trimmed
    };
    thread_local std::string names, canonical, to_sign;
    thread_local std::vector<entry> hs;
    hs.clear();
    names.clear();
    canonical.clear();

    std::size_t name_bytes = 16;
    if (req.headers)
        for (const auto& h : *req.headers)
            name_bytes += h.first.size();
    names.reserve(name_bytes);

    std::string_view sdk_date = req.sdk_date;
    bool unsigned_body = false;
    bool has_date = false;
    if (req.headers) {
        for (const auto& [name, value] : *req.headers) {
            const auto start = names.size();
            for (char ch : name)
                names.push_back(static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch));
            const std::string_view n(names.data() + start, name.size());
            if (n == "host") continue;
            const auto v = detail::trim_ows(value);
            if (n == "x-sdk-date") {
                sdk_date = v;
                has_date = true;
            }
            if (n == "x-sdk-content-sha256" && v == unsigned_payload) unsigned_body = true;
            hs.push_back({n, v});
        }
    }
    hs.push_back({"host", req.host});
    if (!has_date) hs.push_back({"x-sdk-date", sdk_date});
    std::stable_sort(hs.begin(), hs.end(),
                     [](const entry& a, const entry& b) { return a.name < b.name; });

    // CanonicalRequest: method, URI, query, headers, signed headers, payload hash.
    canonical += req.method;
    canonical += '\n';
    append_encoded_path(canonical, req.path);
    if (canonical.back() != '/') canonical.push_back('/');
    canonical += '\n';
    if (req.query && !req.query->empty()) canonical += canonical_query_string(*req.query);
    canonical += '\n';
    for (const auto& h : hs) {
        canonical += h.name;
        canonical += ':';
        canonical += h.value;
        canonical += '\n';
    }
    canonical += '\n';
    const auto signed_start = canonical.size();
    for (const auto& h : hs) {
        if (canonical.size() != signed_start) canonical += ';';
        canonical += h.name;
    }
    const auto signed_end = canonical.size();
    canonical += '\n';
    if (unsigned_body)
        canonical += unsigned_payload;
    else if (req.body.empty())
        canonical += "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    else
        canonical += sha256_hex(req.body);

    const auto digest = detail::sha256({canonical});
    to_sign.clear();
    to_sign += algorithm;
    to_sign += '\n';
    to_sign += sdk_date;
    to_sign += '\n';
    append_hex(to_sign, digest.data(), digest.size());

    const auto sig = hmac_sha256_hex(sk, to_sign);
    const auto signed_headers =
        std::string_view(canonical).substr(signed_start, signed_end - signed_start);
    std::string out;
    out.reserve(algorithm.size() + ak.size() + signed_headers.size() + sig.size() + 40);
    out += algorithm;
    out += " Access=";
    out += ak;
    out += ", SignedHeaders=";
    out += signed_headers;
    out += ", Signature=";
    out += sig;
    return out;
}

std::optional<authorization_header> parse_authorization(std::string_view value) {
    value = detail::trim_ows(value);
    if (value.substr(0, algorithm.size()) != algorithm) return std::nullopt;
    value.remove_prefix(algorithm.size());
    if (value.empty() || value.front() != ' ') return std::nullopt;
    authorization_header out;
    bool have_access = false, have_signed = false, have_sig = false;
    while (!value.empty()) {
        auto comma = value.find(',');
        auto part = detail::trim_ows(value.substr(0, comma));
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        auto eq = part.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        auto key = part.substr(0, eq);
        auto val = part.substr(eq + 1);
        if (key == "Access") {
            out.access_key = std::string(val);
            have_access = true;
        } else if (key == "SignedHeaders") {
            std::size_t start = 0;
            while (start <= val.size()) {
                auto semi = val.find(';', start);
                if (semi == std::string_view::npos) semi = val.size();
                out.signed_headers.emplace_back(val.substr(start, semi - start));
                start = semi + 1;
            }
            have_signed = true;
        } else if (key == "Signature") {
            out.signature_hex = std::string(val);
            have_sig = true;
        }
    }
    if (!have_access || !have_signed || !have_sig || out.access_key.empty()) return std::nullopt;
    return out;
}

} // namespace taskwatch::auth
