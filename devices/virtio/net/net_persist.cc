#include "devices/virtio/net/net_persist.h"

#include <fmt/core.h>

#include "devices/rate_limiter_persist.h"
#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Field tags, one enum per struct. Never renumber or reuse a tag: add new ones at the end.
namespace net_config_tag {
enum : uint32_t {
    kIfaceId = 1,
    kHostDevName = 2,
    kGuestMac = 3,
    kMtu = 4,
    kRxRateLimiter = 5,
    kTxRateLimiter = 6
};
}
// The rate limiter states are optional: snapshots from before Ember saved them lack them.
namespace net_state_tag {
enum : uint32_t {
    kDeviceFeatures = 1,
    kMac = 2,
    kMtu = 3,
    kTapOffload = 4,
    kRxRateLimiter = 5,
    kTxRateLimiter = 6
};
}

constexpr const char* kNetContext = "snapshot device virtio-net";

}  // namespace

DeviceState encode_net(const NetSnapshot& s) {
    const NetConfig& c = s.net;
    FieldWriter cw;
    cw.str(net_config_tag::kIfaceId, c.iface_id);
    cw.str(net_config_tag::kHostDevName, c.host_dev_name);
    if (c.guest_mac) cw.str(net_config_tag::kGuestMac, *c.guest_mac);
    if (c.mtu) cw.u32(net_config_tag::kMtu, *c.mtu);
    write_optional_rate_limiter(cw, net_config_tag::kRxRateLimiter, c.rx_rate_limiter);
    write_optional_rate_limiter(cw, net_config_tag::kTxRateLimiter, c.tx_rate_limiter);

    FieldWriter dw;
    dw.u64(net_state_tag::kDeviceFeatures, s.device.device_features);
    dw.bytes(net_state_tag::kMac, s.device.mac);
    dw.u32(net_state_tag::kMtu, s.device.mtu);
    dw.u32(net_state_tag::kTapOffload, s.device.tap_offload);
    write_limiter_state(dw, net_state_tag::kRxRateLimiter, s.device.rx_rate_limiter);
    write_limiter_state(dw, net_state_tag::kTxRateLimiter, s.device.tx_rate_limiter);

    FieldWriter w;
    w.bytes(virtio_blob_tag::kConfig, cw.take());
    w.bytes(virtio_blob_tag::kSlot, encode_slot(s.slot));
    w.bytes(virtio_blob_tag::kDevice, dw.take());
    return make_device_blob(c.iface_id, kNetType, w);
}

Result<NetSnapshot> decode_net(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kNetType, kNetContext));
    NetSnapshot s;
    BlobReader cr = EMBER_TRY(r.nested(virtio_blob_tag::kConfig, "net"));
    NetConfig& c = s.net;
    EMBER_TRY(cr.str(net_config_tag::kIfaceId, "iface_id", c.iface_id));
    EMBER_TRY(cr.str(net_config_tag::kHostDevName, "host_dev_name", c.host_dev_name));
    EMBER_TRY(cr.optional_str(net_config_tag::kGuestMac, "guest_mac", c.guest_mac));
    EMBER_TRY(cr.optional_number(net_config_tag::kMtu, "mtu", c.mtu));
    EMBER_TRY(read_optional_rate_limiter(cr, net_config_tag::kRxRateLimiter, "rx_rate_limiter",
                                         c.rx_rate_limiter));
    EMBER_TRY(read_optional_rate_limiter(cr, net_config_tag::kTxRateLimiter, "tx_rate_limiter",
                                         c.tx_rate_limiter));
    if (c.iface_id != d.id) {
        return cr.error(
            fmt::format("iface_id \"{}\" but the blob's id is \"{}\"", c.iface_id, d.id));
    }
    BlobReader sr = EMBER_TRY(r.nested(virtio_blob_tag::kSlot, "slot"));
    s.slot = EMBER_TRY(decode_slot(sr));
    BlobReader dr = EMBER_TRY(r.nested(virtio_blob_tag::kDevice, "device"));
    EMBER_TRY(dr.u64(net_state_tag::kDeviceFeatures, "device_features", s.device.device_features));
    EMBER_TRY(dr.fixed_bytes(net_state_tag::kMac, "mac", s.device.mac));
    EMBER_TRY(dr.number(net_state_tag::kMtu, "mtu", s.device.mtu));
    EMBER_TRY(dr.number(net_state_tag::kTapOffload, "tap_offload", s.device.tap_offload));
    EMBER_TRY(read_limiter_state(dr, net_state_tag::kRxRateLimiter, "rx_rate_limiter",
                                 s.device.rx_rate_limiter));
    EMBER_TRY(read_limiter_state(dr, net_state_tag::kTxRateLimiter, "tx_rate_limiter",
                                 s.device.tx_rate_limiter));
    return s;
}

std::string summarize_net(const NetSnapshot& s) {
    const auto& m = s.device.mac;
    return fmt::format("iface \"{}\" tap {} MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}{}{}, {}",
                       s.net.iface_id, s.net.host_dev_name, m[0], m[1], m[2], m[3], m[4], m[5],
                       limiter_summary("rx limiter", s.device.rx_rate_limiter),
                       limiter_summary("tx limiter", s.device.tx_rate_limiter),
                       slot_summary(s.slot));
}

}  // namespace ember::snapshot
