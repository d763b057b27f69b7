// ARP for IPv4 over Ethernet (RFC 826): the one request the MMDS stack answers ("who has the MMDS
// address?") and the reply it builds. Only htype 1, ptype IPv4, hlen 6, plen 4 is accepted, as
// Firecracker's EthIPv4ArpFrame does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "devices/virtio/net/mmds/net_bytes.h"

namespace ember::virtio::mmds_net {

inline constexpr size_t kArpBytes = 28;
inline constexpr size_t kArpTargetIpOffset = 24;  // tpa, within the ARP payload.
inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

struct ArpPacket {
    uint16_t operation = 0;
    MacBytes sender_mac{};
    Ipv4Address sender_ip{};
    MacBytes target_mac{};
    Ipv4Address target_ip{};
};

// Nothing unless `payload` (an Ethernet payload, padding allowed) is an Ethernet/IPv4 ARP packet.
std::optional<ArpPacket> parse_arp(std::span<const uint8_t> payload);

// Writes `packet` at the start of `out` (at least kArpBytes); returns kArpBytes.
size_t write_arp(std::span<uint8_t> out, const ArpPacket& packet);

}  // namespace ember::virtio::mmds_net
