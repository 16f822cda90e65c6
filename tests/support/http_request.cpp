#include "support/http_request.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace taskwatch::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const bhttp::request<bhttp::string_body>& req,
                               http_reply& out) {
    auto [wec, wn] = co_await bhttp::async_write(stream, req, use_tuple);
    if (wec) {
        out.error = wec;
        co_return;
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (rec) {
        out.error = rec;
        co_return;
    }
    out.status = parser.get().result_int();
    out.headers = parser.get().base();
    out.body = parser.get().body();
}

// References are safe: the caller's io_context runs this to its end or is destroyed with it.
asio::awaitable<void> connect_and_exchange(const server_address& to, asio::ssl::context& ctx,
                                           const bhttp::request<bhttp::string_body>& req,
                                           http_reply& out) {
    auto ex = co_await asio::this_coro::executor;
    tcp::endpoint ep(asio::ip::make_address(to.ip), to.port);
    if (to.ca_file.empty()) {
        beast::tcp_stream s(ex);
        auto [ec] = co_await s.async_connect(ep, use_tuple);
        if (ec) {
            out.error = ec;
            co_return;
        }
        co_await exchange(s, req, out);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> s(ex, ctx);
    // SSL_set_tlsext_host_name is a macro with an old-style cast: call what it expands to.
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
    co_await exchange(s, req, out);
}

} // namespace

http_reply http_request(const server_address& to, bhttp::verb method, std::string target,
                        header_list headers, std::string body, std::chrono::milliseconds timeout) {
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

    asio::co_spawn(io, connect_and_exchange(to, ctx, req, out), asio::detached);
    io.run_for(timeout);
    if (!io.stopped()) {
        out.error = asio::error::timed_out;
        out.status = 0;
    }
    return out;
}

http_reply signed_request(const server_address& to, const signing_key& key, bhttp::verb method,
                          const std::string& path, const auth::query_params& query,
                          header_list headers, std::string body,
                          std::optional<std::string> sdk_date, std::chrono::milliseconds timeout) {
    const auto date = sdk_date.value_or(auth::format_sdk_date(std::chrono::system_clock::now()));
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auth::header_list signed_headers(headers.begin(), headers.end());
    const std::string method_name(bhttp::to_string(method));
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
