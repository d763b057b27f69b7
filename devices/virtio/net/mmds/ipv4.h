// IPv4 (RFC 791) for the MMDS stack: a checked view of a packet the guest sent and the header of
// one the stack builds. Unlike Firecracker's dumbo, which skips over options and ignores the
// fragment fields, packets with options or fragments are refused: the stack reassembles nothing,
// and a guest's TCP to MMDS sends neither.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "devices/virtio/net/mmds/net_bytes.h"

namespace ember::virtio::mmds_net {

inline constexpr size_t kIpv4HeaderBytes = 20;
inline constexpr size_t kIpv4DstOffset = 16;
inline constexpr uint8_t kIpProtocolTcp = 6;

struct Ipv4Packet {
    Ipv4Address src{};
    Ipv4Address dst{};
    uint8_t protocol = 0;
    std::span<const uint8_t> header;   // kIpv4HeaderBytes.
    std::span<const uint8_t> payload;  // Up to the total length (Ethernet padding cut off).
};

enum class Ipv4Error { kTooShort, kVersion, kOptions, kTotalLength, kChecksum, kFragment };

// Checks the version, IHL (no options), total length against the bytes there, the header
// checksum and the fragment fields, in that order.
struct Ipv4Parse {
    std::optional<Ipv4Packet> packet;
    Ipv4Error error = Ipv4Error::kTooShort;
};
Ipv4Parse parse_ipv4(std::span<const uint8_t> bytes);

// Writes a 20-byte header with DF set and its checksum at the start of `out`.
size_t write_ipv4_header(std::span<uint8_t> out, const Ipv4Address& src, const Ipv4Address& dst,
                         uint8_t protocol, size_t payload_bytes);

}  // namespace ember::virtio::mmds_net
