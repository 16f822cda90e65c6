#include "taskwatch/modelarts/error_body.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>

namespace taskwatch::modelarts {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 3> code_keys{"error_code", "errorCode", "code"};
constexpr std::array<std::string_view, 4> message_keys{"error_msg", "errorMsg", "error_message",
                                                       "message"};
constexpr std::array<std::string_view, 2> request_id_keys{"request_id", "requestId"};

std::optional<std::string> scalar_text(const json::value& v) {
    if (const json::string* s = v.if_string()) {
        if (s->empty()) return std::nullopt;
        return std::string(s->data(), s->size());
    }
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    if (v.is_double()) {
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        if (ec == std::errc{}) return std::string(buf, end);
    }
    return std::nullopt;
}

template <std::size_t N>
std::optional<std::string> first_of(const json::object& o,
                                    const std::array<std::string_view, N>& keys) {
    for (std::string_view k : keys) {
        if (const json::value* v = o.if_contains(k)) {
            if (auto text = scalar_text(*v)) return text;
        }
    }
    return std::nullopt;
}

// "APIGW.0301" and "APIG.0301" are the same gateway code; yields "0301" for either.
std::optional<std::string_view> gateway_suffix(std::string_view code) noexcept {
    for (std::string_view prefix : {std::string_view("APIGW."), std::string_view("APIG.")}) {
        if (code.starts_with(prefix)) return code.substr(prefix.size());
    }
    return std::nullopt;
}

} // namespace

std::optional<api_error_body> parse_api_error(const json::value& body) {
    const json::object* top = body.if_object();
    if (top == nullptr) return std::nullopt;
    const json::object* nested = nullptr;
    if (const json::value* e = top->if_contains("error")) nested = e->if_object();

    auto find = [&](const auto& keys) {
        auto found = first_of(*top, keys);
        if (!found && nested != nullptr) found = first_of(*nested, keys);
        return found;
    };
    auto code = find(code_keys);
    auto message = find(message_keys);
    if (!code && !message) return std::nullopt;
    auto request_id = find(request_id_keys);
    return api_error_body{code.value_or(""), message.value_or(""), request_id.value_or("")};
}

std::optional<api_error_body> parse_api_error(std::string_view body) {
    unsigned char arena[2048]; // error bodies are small: usually no heap at all
    json::monotonic_resource mr(arena, sizeof arena);
    json::error_code ec;
    const json::value doc = json::parse(body, ec, &mr);
    if (ec) return std::nullopt;
    return parse_api_error(doc);
}

bool error_code_is(std::string_view code, std::string_view expected) noexcept {
    const auto have = gateway_suffix(code);
    if (const auto want = gateway_suffix(expected)) return have && *have == *want;
    if (expected.find('.') == std::string_view::npos) return have && *have == expected;
    return code == expected;
}

} // namespace taskwatch::modelarts
