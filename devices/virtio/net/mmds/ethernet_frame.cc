#include "devices/virtio/net/mmds/ethernet_frame.h"

#include <algorithm>

namespace ember::virtio::mmds_net {

std::optional<EthernetFrame> parse_ethernet(std::span<const uint8_t> frame) {
    if (frame.size() < kEthernetHeaderBytes) return std::nullopt;
    EthernetFrame eth;
    std::copy_n(frame.data(), 6, eth.dst.begin());
    std::copy_n(frame.data() + 6, 6, eth.src.begin());
    eth.ethertype = load_be16(frame.data() + 12);
    eth.payload = frame.subspan(kEthernetHeaderBytes);
    return eth;
}

size_t write_ethernet_header(std::span<uint8_t> out, const MacBytes& dst, const MacBytes& src,
                             uint16_t ethertype) {
    std::copy(dst.begin(), dst.end(), out.data());
    std::copy(src.begin(), src.end(), out.data() + 6);
    store_be16(out.data() + 12, ethertype);
    return kEthernetHeaderBytes;
}

}  // namespace ember::virtio::mmds_net
