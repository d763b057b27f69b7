#include "devices/virtio/net/mmds/arp.h"

#include <algorithm>

namespace ember::virtio::mmds_net {
namespace {

constexpr uint16_t kHardwareEthernet = 1;
constexpr uint16_t kProtocolIpv4 = 0x0800;

}  // namespace

std::optional<ArpPacket> parse_arp(std::span<const uint8_t> payload) {
    if (payload.size() < kArpBytes) return std::nullopt;
    const uint8_t* p = payload.data();
    if (load_be16(p) != kHardwareEthernet || load_be16(p + 2) != kProtocolIpv4 || p[4] != 6 ||
        p[5] != 4) {
        return std::nullopt;
    }
    ArpPacket arp;
    arp.operation = load_be16(p + 6);
    std::copy_n(p + 8, 6, arp.sender_mac.begin());
    std::copy_n(p + 14, 4, arp.sender_ip.begin());
    std::copy_n(p + 18, 6, arp.target_mac.begin());
    std::copy_n(p + kArpTargetIpOffset, 4, arp.target_ip.begin());
    return arp;
}

size_t write_arp(std::span<uint8_t> out, const ArpPacket& packet) {
    uint8_t* p = out.data();
    store_be16(p, kHardwareEthernet);
    store_be16(p + 2, kProtocolIpv4);
    p[4] = 6;
    p[5] = 4;
    store_be16(p + 6, packet.operation);
    std::copy(packet.sender_mac.begin(), packet.sender_mac.end(), p + 8);
    std::copy(packet.sender_ip.begin(), packet.sender_ip.end(), p + 14);
    std::copy(packet.target_mac.begin(), packet.target_mac.end(), p + 18);
    std::copy(packet.target_ip.begin(), packet.target_ip.end(), p + kArpTargetIpOffset);
    return kArpBytes;
}

}  // namespace ember::virtio::mmds_net
