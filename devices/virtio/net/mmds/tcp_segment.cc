#include "devices/virtio/net/mmds/tcp_segment.h"

#include <algorithm>

#include "devices/virtio/net/mmds/ipv4.h"

namespace ember::virtio::mmds_net {
namespace {

constexpr uint8_t kOptionEnd = 0;
constexpr uint8_t kOptionNop = 1;
constexpr uint8_t kOptionMss = 2;

// Walks the options once; false when one is malformed.
bool parse_options(std::span<const uint8_t> options, TcpSegment& segment) {
    size_t i = 0;
    while (i < options.size()) {
        const uint8_t kind = options[i];
        if (kind == kOptionEnd) break;
        if (kind == kOptionNop) {
            ++i;
            continue;
        }
        if (i + 1 >= options.size()) return false;
        const size_t len = options[i + 1];
        if (len < 2 || len > options.size() - i) return false;
        if (kind == kOptionMss && len == kTcpMssOptionBytes) {
            segment.mss = load_be16(options.data() + i + 2);
        }
        i += len;
    }
    return true;
}

}  // namespace

std::optional<TcpSegment> parse_tcp(std::span<const uint8_t> bytes) {
    if (bytes.size() < kTcpHeaderBytes) return std::nullopt;
    const uint8_t* p = bytes.data();
    const size_t header = size_t{static_cast<uint8_t>(p[12] >> 4)} * 4;
    if (header < kTcpHeaderBytes || header > bytes.size()) return std::nullopt;
    TcpSegment segment;
    segment.src_port = load_be16(p);
    segment.dst_port = load_be16(p + 2);
    segment.seq = load_be32(p + 4);
    segment.ack = load_be32(p + 8);
    segment.flags = static_cast<uint8_t>(p[13] & 0x3f);
    segment.window = load_be16(p + 14);
    if (!parse_options(bytes.subspan(kTcpHeaderBytes, header - kTcpHeaderBytes), segment)) {
        return std::nullopt;
    }
    segment.payload = bytes.subspan(header);
    return segment;
}

size_t write_tcp(std::span<uint8_t> out, const TcpSegmentOut& segment, const Ipv4Address& src,
                 const Ipv4Address& dst) {
    uint8_t* p = out.data();
    const size_t header = kTcpHeaderBytes + (segment.mss ? kTcpMssOptionBytes : 0);
    store_be16(p, segment.src_port);
    store_be16(p + 2, segment.dst_port);
    store_be32(p + 4, segment.seq);
    store_be32(p + 8, segment.ack);
    p[12] = static_cast<uint8_t>((header / 4) << 4);
    p[13] = segment.flags;
    store_be16(p + 14, segment.window);
    store_be16(p + 16, 0);  // Checksum, below.
    store_be16(p + 18, 0);  // Urgent pointer.
    if (segment.mss) {
        p[20] = kOptionMss;
        p[21] = kTcpMssOptionBytes;
        store_be16(p + 22, *segment.mss);
    }
    std::copy(segment.payload.begin(), segment.payload.end(), p + header);
    const size_t len = header + segment.payload.size();
    // RFC 9293 §3.1: the sum covers a pseudo-header of the addresses, protocol and length.
    uint64_t sum = checksum_add(0, src);
    sum = checksum_add(sum, dst);
    sum += kIpProtocolTcp;
    sum += len;
    sum = checksum_add(sum, out.first(len));
    store_be16(p + 16, checksum_fold(sum));
    return len;
}

}  // namespace ember::virtio::mmds_net
