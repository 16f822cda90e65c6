// One HTTP(S) request on a fresh connection, from a test's thread with its own io_context and a
// deadline, verifying the server against a CA file; and the same signed with AK/SK as the real
// client signs it.
#pragma once

#include "taskwatch/auth/signer.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskwatch::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
    unsigned status = 0; ///< 0 when no response came (see error)
    boost::beast::http::fields headers;
    std::string body;
    boost::system::error_code error; ///< transport failure, or timed_out

    std::string header(std::string_view name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string{} : std::string(it->value());
    }
};

struct server_address {
    std::uint16_t port = 0;
    std::string ca_file;            ///< empty: plain HTTP
    std::string client_cert_file{}; ///< TLS client certificate (PEM chain); empty: none
    std::string client_key_file{};
    std::string ip = "127.0.0.1";
    std::string host_header() const { return ip + ":" + std::to_string(port); }
};

/// Sends one request on its own connection and reads the answer, within `timeout`.
http_reply http_request(const server_address& to, boost::beast::http::verb method,
                        std::string target, header_list headers = {}, std::string body = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

struct signing_key {
    std::string ak;
    std::string sk;
};

/// The same request signed SDK-HMAC-SHA256 as the real client would sign it. `path` is
/// decoded; `query` pairs are decoded and sent in canonical order. `sdk_date` overrides now.
http_reply signed_request(const server_address& to, const signing_key& key,
                          boost::beast::http::verb method, const std::string& path,
                          const auth::query_params& query = {}, header_list headers = {},
                          std::string body = {}, std::optional<std::string> sdk_date = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace taskwatch::test
