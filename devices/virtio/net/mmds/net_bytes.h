// Big-endian field access and the Internet checksum (RFC 1071), shared by the frame parsers and
// builders of the MMDS stack. Callers check lengths before reading; these helpers do not.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ember::virtio::mmds_net {

using Ipv4Address = std::array<uint8_t, 4>;
using MacBytes = std::array<uint8_t, 6>;

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store_be16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// One's-complement sum of `bytes` as big-endian 16-bit words added to `sum`, not folded.
inline uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes) {
    size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) sum += load_be16(bytes.data() + i);
    if (i < bytes.size()) sum += uint32_t{bytes[i]} << 8;
    return sum;
}
inline uint16_t checksum_fold(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xffff);
}

}  // namespace ember::virtio::mmds_net
