#include "devices/virtio/net/mmds/ipv4.h"

#include <algorithm>

namespace ember::virtio::mmds_net {
namespace {

constexpr uint16_t kFlagMoreFragments = 0x2000;
constexpr uint16_t kFlagDontFragment = 0x4000;
constexpr uint16_t kFragmentOffsetMask = 0x1fff;
constexpr uint8_t kDefaultTtl = 64;

}  // namespace

Ipv4Parse parse_ipv4(std::span<const uint8_t> bytes) {
    if (bytes.size() < kIpv4HeaderBytes) return {std::nullopt, Ipv4Error::kTooShort};
    const uint8_t* p = bytes.data();
    if ((p[0] >> 4) != 4) return {std::nullopt, Ipv4Error::kVersion};
    if ((p[0] & 0x0f) != kIpv4HeaderBytes / 4) return {std::nullopt, Ipv4Error::kOptions};
    const size_t total = load_be16(p + 2);
    if (total < kIpv4HeaderBytes || total > bytes.size()) {
        return {std::nullopt, Ipv4Error::kTotalLength};
    }
    if (checksum_fold(checksum_add(0, bytes.first(kIpv4HeaderBytes))) != 0) {
        return {std::nullopt, Ipv4Error::kChecksum};
    }
    if (load_be16(p + 6) & (kFlagMoreFragments | kFragmentOffsetMask)) {
        return {std::nullopt, Ipv4Error::kFragment};
    }
    Ipv4Packet packet;
    packet.protocol = p[9];
    std::copy_n(p + 12, 4, packet.src.begin());
    std::copy_n(p + kIpv4DstOffset, 4, packet.dst.begin());
    packet.header = bytes.first(kIpv4HeaderBytes);
    packet.payload = bytes.subspan(kIpv4HeaderBytes, total - kIpv4HeaderBytes);
    return {packet, Ipv4Error::kTooShort};
}

size_t write_ipv4_header(std::span<uint8_t> out, const Ipv4Address& src, const Ipv4Address& dst,
                         uint8_t protocol, size_t payload_bytes) {
    uint8_t* p = out.data();
    p[0] = 0x45;
    p[1] = 0;
    store_be16(p + 2, static_cast<uint16_t>(kIpv4HeaderBytes + payload_bytes));
    store_be16(p + 4, 0);
    store_be16(p + 6, kFlagDontFragment);
    p[8] = kDefaultTtl;
    p[9] = protocol;
    store_be16(p + 10, 0);
    std::copy(src.begin(), src.end(), p + 12);
    std::copy(dst.begin(), dst.end(), p + kIpv4DstOffset);
    store_be16(p + 10, checksum_fold(checksum_add(0, out.first(kIpv4HeaderBytes))));
    return kIpv4HeaderBytes;
}

}  // namespace ember::virtio::mmds_net
