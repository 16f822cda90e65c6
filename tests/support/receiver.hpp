// A webhook receiver for end-to-end tests: tests/support/webhook_receiver.py as a child
// process over HTTPS with its own certificate from a test CA, verifying Standard Webhooks
// signatures itself, and what it received, read from its log.
#pragma once

#include "support/files.hpp"
#include "support/pki.hpp"
#include "support/process.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace taskwatch::test {

/// One request the receiver got: {"n","path","query","id","timestamp","signature_ok","status",
/// "body","headers"}.
using received = boost::json::object;

class receiver_process {
public:
    /// `args`: the receiver's answering options (--script, --status, --hang, --body,
    /// --retry-after, --secret ...). Its certificate comes from `ca`, for 127.0.0.1.
    receiver_process(const test_ca& ca, const std::vector<std::string>& args);

    /// https://127.0.0.1:PORT`path`
    std::string url(const std::string& path = "/hook") const;
    std::uint16_t port() const noexcept { return port_; }
    /// Every request so far, in arrival order.
    std::vector<received> requests() const;
    /// The webhook-ids of the requests answered with 2xx, in arrival order.
    std::vector<std::string> accepted_ids() const;

    temp_dir dir{"receiver"};
    std::optional<child_process> proc;

private:
    std::uint16_t port_ = 0;
};

/// The source folder's path of a test support file (for the receiver script).
std::string support_file(const std::string& name);

} // namespace taskwatch::test
