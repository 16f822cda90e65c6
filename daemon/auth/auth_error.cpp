#include "taskwatch/auth/auth_error.hpp"

namespace taskwatch::auth {

std::string auth_error::to_string() const {
    switch (what) {
    case kind::transport:
        return transport ? transport->message : std::string("no answer from IAM");
    case kind::rejected: {
        if (!response) return "rejected by IAM";
        std::string out = "HTTP " + std::to_string(response->status) + " from IAM";
        // The body of an error is short JSON ("error": code, message): the one thing an
        // operator can act on. At most 200 bytes, control characters replaced.
        constexpr std::size_t max_chars = 200;
        if (!response->body.empty()) {
            out += ": ";
            for (char ch : std::string_view(response->body).substr(0, max_chars)) {
                const auto c = static_cast<unsigned char>(ch);
                out.push_back(c < 0x20 || c == 0x7f ? ' ' : ch);
            }
            if (response->body.size() > max_chars) out += "...";
        }
        return out;
    }
    case kind::config:
    case kind::malformed:
        break;
    }
    return detail;
}

} // namespace taskwatch::auth
