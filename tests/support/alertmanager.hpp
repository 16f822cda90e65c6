// Debian's prometheus-alertmanager as a child process on loopback, routing every alert to one
// webhook receiver: alone, or as a member of an HA cluster (gossip on loopback, short timings).
#pragma once

#include "support/files.hpp"
#include "support/process.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace taskwatch::test {

inline constexpr const char* alertmanager_bin = "/usr/bin/prometheus-alertmanager";

/// Clustering of one Alertmanager: its own gossip port and the members it joins.
struct alertmanager_cluster {
    std::uint16_t gossip_port = 0;
    std::vector<std::uint16_t> peers; ///< the other members' gossip ports
};

/// An Alertmanager that sends every group at once (group_wait 1s) to `hook_url`, resolved
/// alerts too, trusting `ca_file` for the receiver's HTTPS. Started and answering /-/ready.
struct alertmanager_process {
    temp_dir dir{"alertmanager"};
    std::uint16_t port;
    std::optional<child_process> proc;

    /// `cluster`: nullopt runs it alone (--cluster.listen-address=). In a cluster a member
    /// waits its position times 3 s (--cluster.peer-timeout) before it notifies, so that the
    /// one before it can notify first and gossip that it did.
    alertmanager_process(const std::string& hook_url, const std::string& ca_file,
                         std::optional<alertmanager_cluster> cluster = std::nullopt);
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
    /// How many members this one sees in its cluster, itself included (GET /api/v2/status).
    std::size_t cluster_size() const;
};

} // namespace taskwatch::test
