#include "taskwatch/http/client.hpp"
#include "taskwatch/http/url.hpp"

#include <doctest/doctest.h>

using namespace taskwatch::http;

namespace {

endpoint must_parse(std::string_view url) {
    auto ep = parse_url(url);
    INFO("url: ", url);
    REQUIRE_MESSAGE(ep.has_value(), (ep ? std::string() : ep.error()));
    return *ep;
}

std::string parse_error(std::string_view url) {
    auto ep = parse_url(url);
    INFO("url: ", url);
    REQUIRE_FALSE(ep.has_value());
    return ep.error();
}

} // namespace

TEST_CASE("parse_url takes a bare https host with the default port and no base path") {
    auto ep = must_parse("https://modelarts.cn-north-4.myhuaweicloud.com");
    CHECK(ep.scheme == "https");
    CHECK(ep.host == "modelarts.cn-north-4.myhuaweicloud.com");
    CHECK(ep.port == 443);
    CHECK(ep.base_path.empty());
}

TEST_CASE("parse_url takes a port and a base path, dropping trailing slashes") {
    auto ep = must_parse("https://host:8443/base/");
    CHECK(ep.host == "host");
    CHECK(ep.port == 8443);
    CHECK(ep.base_path == "/base");
    CHECK(must_parse("https://host/").base_path.empty());
    CHECK(must_parse("https://host/a/b").base_path == "/a/b");
}

TEST_CASE("parse_url takes bracketed IPv6 literals and stores them without brackets") {
    auto ep = must_parse("https://[::1]:8443");
    CHECK(ep.host == "::1");
    CHECK(ep.port == 8443);
    CHECK(must_parse("https://[2001:DB8::1]").host == "2001:db8::1");
}

TEST_CASE("parse_url lower-cases scheme and host and defaults http to port 80") {
    auto ep = must_parse("HTTP://Proxy.Example:3128");
    CHECK(ep.scheme == "http");
    CHECK(ep.host == "proxy.example");
    CHECK(ep.port == 3128);
    CHECK(must_parse("http://proxy").port == 80);
    CHECK(must_parse("https://127.0.0.1:1").host == "127.0.0.1");
}

TEST_CASE("parse_url rejects garbage with a message naming the problem") {
    CHECK(parse_error("") == "not a URL (expected http:// or https://)");
    CHECK(parse_error("modelarts.example.com") == "not a URL (expected http:// or https://)");
    CHECK(parse_error("ftp://host") == "unsupported scheme \"ftp\" (expected http or https)");
    CHECK(parse_error("https://") == "missing host");
    CHECK(parse_error("https:///path") == "missing host");
    CHECK(parse_error("https://:443") == "missing host");
    CHECK(parse_error("https://host:99999") == "bad port \"99999\"");
    CHECK(parse_error("https://host:0") == "bad port \"0\"");
    CHECK(parse_error("https://host:http") == "bad port \"http\"");
    CHECK(parse_error("https://host:") == "empty port");
    CHECK(parse_error("https://[::1") == "unterminated IPv6 address");
    CHECK(parse_error("https://[not-ip]:1") == "bad IPv6 address \"not-ip\"");
    CHECK(parse_error("https://[::1]x") == "junk after IPv6 address");
    CHECK(parse_error("https://ho st") == "space or control character in URL");
    CHECK(parse_error("https://host/a\tb") == "space or control character in URL");
    CHECK(parse_error("https://host/a?b=1") == "a query is not allowed in a base URL");
    CHECK(parse_error("https://host#frag") == "a fragment is not allowed in a base URL");
    CHECK(parse_error("https://bad!host") == "bad character in host");
    CHECK(parse_error("https://.host") == "bad host \".host\"");
    CHECK(parse_error("https://a..b") == "bad host \"a..b\"");
    CHECK(parse_error("https://user:secret@host") == "credentials in the URL are not allowed");
}

TEST_CASE("split_url keeps user information, path, query and fragment apart") {
    auto u = split_url("HTTPS://us%40er:pw@Hooks.Example:8443/a/b/?x=1&y=2#top");
    REQUIRE(u.has_value());
    CHECK(u->scheme == "https");
    CHECK(u->userinfo == "us%40er:pw");
    CHECK(u->host == "hooks.example");
    CHECK(u->port == 8443);
    CHECK(u->path == "/a/b/");
    CHECK(u->query == "x=1&y=2");
    CHECK(u->has_fragment);
    CHECK_FALSE(u->is_origin());
    CHECK(u->origin().to_string() == "https://hooks.example:8443");

    auto bare = split_url("http://h");
    REQUIRE(bare.has_value());
    CHECK_FALSE(bare->port.has_value());
    CHECK(bare->origin().port == 80);
    CHECK(bare->is_origin());
    CHECK(split_url("http://h/")->is_origin());
    CHECK_FALSE(split_url("http://h/?")->is_origin());

    CHECK(split_url("h:1", "http")->scheme == "http");
    CHECK_FALSE(split_url("h:1").has_value());
}

TEST_CASE("no part of a URL with user information is quoted in an error") {
    // A "/" in the password ends the authority early: "Xq" then reads as a port, or the
    // password's "://" as the end of a scheme.
    for (std::string_view url : {"https://user:Xq/Zw@host", "https://user:Xq@host:1x",
                                 "Xq://Zw@host", "https://user:Xq@[zz]"}) {
        auto u = split_url(url);
        CAPTURE(url);
        REQUIRE_FALSE(u.has_value());
        CHECK(u.error().find("Xq") == std::string::npos);
        CHECK(u.error().find("Zw") == std::string::npos);
        CHECK(u.error().ends_with("(not shown: the URL holds credentials)"));
    }
}

TEST_CASE("a request URL keeps the path and query to send, and shows neither query nor "
          "credentials") {
    auto r = request_url_of(
        split_url("https://bot:s%3Acret@oapi.dingtalk.com/robot/send?access_token=TOKEN#x")
            .value());
    REQUIRE(r.has_value());
    CHECK(r->server.to_string() == "https://oapi.dingtalk.com");
    CHECK(r->target == "/robot/send?access_token=TOKEN");
    CHECK(r->credentials == "bot:s:cret");
    CHECK(r->to_string() == "https://oapi.dingtalk.com/robot/send");
    CHECK(request_url_of(split_url("http://h:9").value())->target == "/");
    CHECK(request_url_of(split_url("http://h?q").value())->target == "/?q");
    CHECK(request_url_of(split_url("http://%zz@h/").value()).error() ==
          "bad percent-encoding in the credentials");
    CHECK(request_url_of(split_url("http://:token@h/").value())->credentials == ":token");
}

TEST_CASE("host_header omits the scheme's default port and brackets IPv6") {
    CHECK(must_parse("https://host").host_header() == "host");
    CHECK(must_parse("https://host:443").host_header() == "host");
    CHECK(must_parse("https://host:8443").host_header() == "host:8443");
    CHECK(must_parse("http://host:80").host_header() == "host");
    CHECK(must_parse("http://host:443").host_header() == "host:443");
    CHECK(must_parse("https://[::1]").host_header() == "[::1]");
    CHECK(must_parse("https://[::1]:8443").host_header() == "[::1]:8443");
}

TEST_CASE("endpoint::to_string gives back a URL that parses to the same endpoint") {
    for (std::string_view url :
         {"https://host", "https://host:8443/base", "https://[::1]:8443", "http://proxy:3128"}) {
        auto ep = must_parse(url);
        CHECK(ep.to_string() == url);
        CHECK(must_parse(ep.to_string()) == ep);
    }
}

TEST_CASE("parse_proxy_url decodes credentials and never repeats them in errors") {
    auto p = parse_proxy_url("http://al%40ice:p%3Ass@proxy:3128");
    REQUIRE(p.has_value());
    CHECK(p->server.host == "proxy");
    CHECK(p->server.port == 3128);
    CHECK(p->credentials == "al@ice:p:ss");

    auto bare = parse_proxy_url("proxy.local:8080");
    REQUIRE(bare.has_value());
    CHECK(bare->server.scheme == "http");
    CHECK(bare->server.port == 8080);
    CHECK(bare->credentials.empty());

    auto https = parse_proxy_url("https://proxy:3128");
    REQUIRE_FALSE(https.has_value());
    CHECK(https.error() == "proxy URL: only http:// proxies are supported");

    auto bad = parse_proxy_url("http://user:hunter2@proxy:99999");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().find("hunter2") == std::string::npos);
    CHECK(bad.error().find("bad port") != std::string::npos);

    // '/' in a password cuts the authority short; the message must still not leak it.
    auto cut = parse_proxy_url("http://user:hun/ter2@proxy:3128");
    REQUIRE_FALSE(cut.has_value());
    CHECK(cut.error().find("hun") == std::string::npos);

    auto path = parse_proxy_url("http://proxy:3128/x");
    REQUIRE_FALSE(path.has_value());
    CHECK(path.error() == "proxy URL: a path is not allowed");
    CHECK(parse_proxy_url("http://proxy:3128/").has_value());
    CHECK(parse_proxy_url("http://proxy:3128?x").error() == "proxy URL: a query is not allowed");
    CHECK(parse_proxy_url("http://:pw@proxy:3128").error() ==
          "proxy URL: empty user name before \"@\"");
}

TEST_CASE("no_proxy_matches exact names, domain suffixes, IPs, ports and '*'") {
    CHECK(no_proxy_matches("example.com", "example.com", 443));
    CHECK(no_proxy_matches("example.com", "api.example.com", 443));
    CHECK(no_proxy_matches(".example.com", "api.example.com", 443));
    CHECK(no_proxy_matches(".example.com", "example.com", 443));
    CHECK_FALSE(no_proxy_matches("example.com", "badexample.com", 443));
    CHECK_FALSE(no_proxy_matches("example.com", "example.com.evil", 443));
    CHECK(no_proxy_matches(" foo , Example.COM ", "example.com", 443));
    CHECK(no_proxy_matches("10.0.0.1", "10.0.0.1", 443));
    CHECK_FALSE(no_proxy_matches("0.0.1", "10.0.0.1", 443));
    CHECK(no_proxy_matches("::1", "::1", 443));
    CHECK(no_proxy_matches("[::1]:8443", "::1", 8443));
    CHECK_FALSE(no_proxy_matches("[::1]:8443", "::1", 443));
    CHECK(no_proxy_matches("host:8443", "host", 8443));
    CHECK_FALSE(no_proxy_matches("host:8443", "host", 443));
    CHECK(no_proxy_matches("*", "anything", 1));
    CHECK_FALSE(no_proxy_matches("", "localhost", 443));
    // Honoured only as listed: localhost is proxied unless NO_PROXY names it.
    CHECK_FALSE(no_proxy_matches("example.com", "localhost", 443));
    CHECK_FALSE(no_proxy_matches("example.com", "127.0.0.1", 443));
}

TEST_CASE("failure kinds have stable metric label names") {
    CHECK(to_string(failure::dns) == "dns");
    CHECK(to_string(failure::connect) == "connect");
    CHECK(to_string(failure::proxy) == "proxy");
    CHECK(to_string(failure::tls) == "tls");
    CHECK(to_string(failure::timeout) == "timeout");
    CHECK(to_string(failure::io) == "io");
    CHECK(to_string(failure::protocol) == "protocol");
    CHECK(to_string(failure::body_too_large) == "body_too_large");
    CHECK(to_string(failure::cancelled) == "cancelled");
}
