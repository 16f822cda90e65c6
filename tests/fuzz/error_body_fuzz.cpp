// Fuzzes the API error body and the classification of a non-2xx response from its status,
// headers and body. Input: "STATUS\nName: value\n...\n\nBODY"; without the blank line the whole
// input is the body of a 400. The error body parser gets the body alone as well.
#include "taskwatch/modelarts/api_error.hpp"
#include "taskwatch/modelarts/error_body.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace taskwatch;
    std::string_view in(reinterpret_cast<const char*>(data), size);

    taskwatch::http::response res;
    res.status = 400;
    if (const auto split = in.find("\n\n"); split != std::string_view::npos) {
        std::string_view head = in.substr(0, split);
        res.body = std::string(in.substr(split + 2));
        bool first = true;
        while (!head.empty()) {
            const auto eol = head.find('\n');
            const auto line = head.substr(0, eol);
            head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
            if (first) {
                first = false;
                unsigned status = 0;
                std::from_chars(line.data(), line.data() + line.size(), status);
                res.status = status;
                continue;
            }
            const auto colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0) continue;
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
            try {
                res.headers.insert(line.substr(0, colon), value);
            } catch (const std::exception&) {
                // Beast refuses some names and values (CR, LF); a real response cannot hold them.
            }
        }
    } else {
        res.body = std::string(in);
    }

    const auto body = modelarts::parse_api_error(res.body);
    if (body) (void)modelarts::error_code_is(body->error_code, "APIGW.0301");
    const auto e = modelarts::classify_response(res);
    (void)e.to_string();
    (void)modelarts::is_token_rejection(e);
    const auto retry = res.headers.find(boost::beast::http::field::retry_after);
    if (retry != res.headers.end()) {
        const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'475'200));
        const auto delay = modelarts::parse_retry_after(retry->value(), now);
        if (delay && delay->count() < 0) {
            std::fprintf(stderr, "negative Retry-After delay\n");
            std::abort();
        }
    }
    return 0;
}
