// Debian's tinyproxy as a child process on loopback: a real HTTP CONNECT proxy with basic auth,
// logging every tunnel it was asked for.
#pragma once

#include "support/files.hpp"
#include "support/process.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace taskwatch::test {

inline constexpr const char* tinyproxy_bin = "/usr/bin/tinyproxy";

/// A tinyproxy that lets 127.0.0.1 open tunnels to any port with `user`:`password`. Started
/// and accepting connections.
struct tinyproxy_process {
    temp_dir dir{"tinyproxy"};
    std::uint16_t port;
    std::optional<child_process> proc;

    tinyproxy_process(const std::string& user, const std::string& password);
    /// http://USER:PASSWORD@127.0.0.1:PORT (the credentials as given, not percent-encoded).
    std::string url(const std::string& user, const std::string& password) const;
    /// How many tunnels it was asked to open to 127.0.0.1:`to` (its log's CONNECT lines),
    /// refused ones included.
    std::size_t connects_to(std::uint16_t to) const;
};

} // namespace taskwatch::test
