// Ethernet II framing (IEEE 802.3 with an EtherType) for the MMDS stack: the view of a frame the
// guest sent and the header of a frame the stack builds. 802.1Q tags are not parsed: a tagged
// frame is never for MMDS and goes to the tap, as in Firecracker.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "devices/virtio/net/mmds/net_bytes.h"

namespace ember::virtio::mmds_net {

inline constexpr size_t kEthernetHeaderBytes = 14;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;

struct EthernetFrame {
    MacBytes dst{};
    MacBytes src{};
    uint16_t ethertype = 0;
    std::span<const uint8_t> payload;
};

// Nothing when the frame is shorter than its header.
std::optional<EthernetFrame> parse_ethernet(std::span<const uint8_t> frame);

// Writes the header at the start of `out` (at least kEthernetHeaderBytes); returns its length.
size_t write_ethernet_header(std::span<uint8_t> out, const MacBytes& dst, const MacBytes& src,
                             uint16_t ethertype);

}  // namespace ember::virtio::mmds_net
