// Firecracker's "mmds" metrics group (src/vmm/src/logger/metrics.rs MmdsMetrics), field for field
// and in its order. The stack counts all but the two token counters, which belong to the MMDS
// service (V2 sessions); Firecracker's group is global, so the VMM sums every device's counters
// with the service's into the one "mmds" group.
#pragma once

#include <cstdint>

namespace ember::virtio::mmds_net {

struct MmdsCounters {
    uint64_t rx_accepted = 0;          // Frames the device diverted to the stack.
    uint64_t rx_accepted_err = 0;      // TCP segments that did not parse or not to port 80.
    uint64_t rx_accepted_unusual = 0;  // Non-TCP IPv4, ARP other than a request, odd segments.
    uint64_t rx_bad_eth = 0;           // Frames whose Ethernet, ARP or IPv4 layer is malformed.
    uint64_t rx_invalid_token = 0;     // The service's.
    uint64_t rx_no_token = 0;          // The service's.
    uint64_t rx_count = 0;             // TCP segments handled.
    uint64_t tx_bytes = 0;             // Bytes of the frames given to the guest.
    uint64_t tx_count = 0;             // Frames the stack wrote.
    uint64_t tx_errors = 0;            // Frames it could not write (no room).
    uint64_t tx_frames = 0;            // Frames given to the guest.
    uint64_t connections_created = 0;
    uint64_t connections_destroyed = 0;

    template <typename F>
    void visit(F&& f) const {
        f("rx_accepted", rx_accepted);
        f("rx_accepted_err", rx_accepted_err);
        f("rx_accepted_unusual", rx_accepted_unusual);
        f("rx_bad_eth", rx_bad_eth);
        f("rx_invalid_token", rx_invalid_token);
        f("rx_no_token", rx_no_token);
        f("rx_count", rx_count);
        f("tx_bytes", tx_bytes);
        f("tx_count", tx_count);
        f("tx_errors", tx_errors);
        f("tx_frames", tx_frames);
        f("connections_created", connections_created);
        f("connections_destroyed", connections_destroyed);
    }

    MmdsCounters& operator+=(const MmdsCounters& o) {
        rx_accepted += o.rx_accepted;
        rx_accepted_err += o.rx_accepted_err;
        rx_accepted_unusual += o.rx_accepted_unusual;
        rx_bad_eth += o.rx_bad_eth;
        rx_invalid_token += o.rx_invalid_token;
        rx_no_token += o.rx_no_token;
        rx_count += o.rx_count;
        tx_bytes += o.tx_bytes;
        tx_count += o.tx_count;
        tx_errors += o.tx_errors;
        tx_frames += o.tx_frames;
        connections_created += o.connections_created;
        connections_destroyed += o.connections_destroyed;
        return *this;
    }
};

}  // namespace ember::virtio::mmds_net
