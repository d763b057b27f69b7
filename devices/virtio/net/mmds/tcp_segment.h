// TCP segments (RFC 9293 §3.1) for the MMDS stack: a checked view of a segment the guest sent and
// the writer of the segments the stack sends, checksum included.
// The checksum of a received segment is not verified, as in Firecracker's dumbo: with
// VIRTIO_NET_F_CSUM the guest hands over segments whose checksum is only partial (the host was
// to finish it), and the bytes never crossed a wire, only guest memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "devices/virtio/net/mmds/net_bytes.h"

namespace ember::virtio::mmds_net {

inline constexpr size_t kTcpHeaderBytes = 20;
inline constexpr size_t kTcpMssOptionBytes = 4;
// RFC 9293 §3.7.1: the MSS to assume when the SYN carries none (Firecracker's MSS_DEFAULT).
inline constexpr uint16_t kTcpDefaultMss = 536;

enum TcpFlag : uint8_t {
    kTcpFin = 0x01,
    kTcpSyn = 0x02,
    kTcpRst = 0x04,
    kTcpPsh = 0x08,
    kTcpAck = 0x10,
};

struct TcpSegment {
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    std::optional<uint16_t> mss;  // From a SYN's options.
    std::span<const uint8_t> payload;

    bool has(uint8_t flag) const { return (flags & flag) != 0; }
    // Sequence space the segment occupies: its payload plus one each for SYN and FIN.
    uint32_t seq_len() const {
        return static_cast<uint32_t>(payload.size()) + (has(kTcpSyn) ? 1 : 0) +
               (has(kTcpFin) ? 1 : 0);
    }
};

// Nothing when `bytes` is shorter than the header, the data offset points outside it or below
// 20 bytes, or an option's length runs past the header.
std::optional<TcpSegment> parse_tcp(std::span<const uint8_t> bytes);

struct TcpSegmentOut {
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    std::optional<uint16_t> mss;  // Written as the one option (on SYN-ACK).
    std::span<const uint8_t> payload;
};

// Writes the segment at the start of `out` (room for header, option and payload checked by the
// caller) with its checksum over the IPv4 pseudo-header; returns its length.
size_t write_tcp(std::span<uint8_t> out, const TcpSegmentOut& segment, const Ipv4Address& src,
                 const Ipv4Address& dst);

// Serial number arithmetic (RFC 1982): a comes before b.
inline bool seq_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace ember::virtio::mmds_net
