// Test support: one HTTP(S) request on a fresh connection, with a deadline, verifying the
// server against a CA file; and the same signed with AK/SK. Header-only (one e2e binary).
#pragma once

#include "taskwatch/auth/signer.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace taskwatch::test {

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
inline http_reply http_request(const server_address& to, boost::beast::http::verb method,
                               std::string target,
                               std::vector<std::pair<std::string, std::string>> headers = {},
                               std::string body = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace bhttp = beast::http;
    using tcp = asio::ip::tcp;
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

    asio::io_context io;
    http_reply out;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (!to.ca_file.empty()) {
        ctx.load_verify_file(to.ca_file);
        ctx.set_verify_mode(asio::ssl::verify_peer);
    }
    if (!to.client_cert_file.empty()) {
        ctx.use_certificate_chain_file(to.client_cert_file);
        ctx.use_private_key_file(to.client_key_file, asio::ssl::context::pem);
    }
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, to.host_header());
    for (const auto& [k, v] : headers)
        req.set(k, v);
    req.body() = std::move(body);
    if (!req.body().empty() || method == bhttp::verb::post || method == bhttp::verb::put ||
        method == bhttp::verb::patch)
        req.prepare_payload();
    req.keep_alive(false);
    tcp::endpoint ep(asio::ip::make_address(to.ip), to.port);

    auto exchange = [&](auto& stream) -> asio::awaitable<void> {
        auto [wec, wn] = co_await bhttp::async_write(stream, req, use_tuple);
        if (wec) {
            out.error = wec;
            co_return;
        }
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64u << 20);
        if (method == bhttp::verb::head) parser.skip(true);
        auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
        if (rec) {
            out.error = rec;
            co_return;
        }
        out.status = parser.get().result_int();
        out.headers = parser.get().base();
        out.body = parser.get().body();
    };

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            if (to.ca_file.empty()) {
                beast::tcp_stream s(io);
                auto [ec] = co_await s.async_connect(ep, use_tuple);
                if (ec) {
                    out.error = ec;
                    co_return;
                }
                co_await exchange(s);
            } else {
                beast::ssl_stream<beast::tcp_stream> s(io, ctx);
                // SSL_set_tlsext_host_name is a macro with an old-style cast: call what it expands
                // to.
                SSL_ctrl(s.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>("localhost"));
                s.set_verify_callback(asio::ssl::host_name_verification(to.ip));
                auto [ec] = co_await beast::get_lowest_layer(s).async_connect(ep, use_tuple);
                if (ec) {
                    out.error = ec;
                    co_return;
                }
                auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
                if (hec) {
                    out.error = hec;
                    co_return;
                }
                co_await exchange(s);
            }
        },
        asio::detached);
    io.run_for(timeout);
    if (!io.stopped()) {
        out.error = asio::error::timed_out;
        out.status = 0;
    }
    return out;
}

struct signing_key {
    std::string ak;
    std::string sk;
};

/// The same request signed SDK-HMAC-SHA256 as the real client would sign it. `path` is
/// decoded; `query` pairs are decoded and sent in canonical order. `sdk_date` overrides now.
inline http_reply signed_request(const server_address& to, const signing_key& key,
                                 boost::beast::http::verb method, const std::string& path,
                                 const auth::query_params& query = {},
                                 std::vector<std::pair<std::string, std::string>> headers = {},
                                 std::string body = {}, std::optional<std::string> sdk_date = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto date = sdk_date.value_or(auth::format_sdk_date(std::chrono::system_clock::now()));
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auth::header_list signed_headers(headers.begin(), headers.end());
    const std::string method_name(boost::beast::http::to_string(method));
    const auto host = to.host_header();
    auth::sign_request sr;
    sr.method = method_name;
    sr.host = host;
    sr.path = path;
    sr.query = &query;
    sr.headers = &signed_headers;
    sr.body = body;
    sr.sdk_date = date;
    auto sig = auth::sign(sr, key.ak, key.sk);
    headers.emplace_back("X-Sdk-Date", date);
    headers.emplace_back("Authorization", sig.authorization);
    std::string target = auth::encode_path(path);
    if (!query.empty()) target += "?" + auth::canonical_query_string(query);
    return http_request(to, method, target, std::move(headers), std::move(body), timeout);
}

} // namespace taskwatch::test
