// Loopback ports for tests that must name a port before the server that takes it starts.
#pragma once

#include <cstdint>

namespace taskwatch::test {

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released):
/// another process may take it first, rarely. Prefer listening on port 0 where the code allows.
std::uint16_t free_port();

} // namespace taskwatch::test
