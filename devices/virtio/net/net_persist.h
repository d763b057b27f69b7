// The virtio-net snapshot blob: the interface's whole configuration, its virtio-mmio slot
// (mmio_persist.h) and the net device's own state, as three nested payloads (see
// vmm/persist/device_blob.h for the envelope and what decoding checks).
#pragma once

#include <string>
#include <string_view>

#include "devices/virtio/net/net_device.h"
#include "devices/virtio/transport/mmio_persist.h"
#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kNetType = "virtio-net";

struct NetSnapshot {
    NetConfig net;
    VirtioSlotState slot;
    virtio::NetDeviceState device;
    bool operator==(const NetSnapshot&) const = default;
};

DeviceState encode_net(const NetSnapshot& s);  // id = net.iface_id
Result<NetSnapshot> decode_net(const DeviceState& d);
// One line for describe(): the interface, its tap and MAC, the limiters' tokens and the slot.
std::string summarize_net(const NetSnapshot& s);

}  // namespace ember::snapshot
