// DeviceState: one device's state in a snapshot, as an opaque blob its owner encodes and decodes.
// The state file (vmm/snapshot) stores it without looking inside; each device's *_persist.cc
// next to the device fills it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::snapshot {

// A device's state as an opaque blob its owner encodes (with FieldWriter, ideally) and decodes;
// `version` is the owner's own, so a device can evolve its blob without a format bump.
struct DeviceState {
    std::string id;    // "rootfs", "eth0", "serial"
    std::string type;  // "virtio-block", "virtio-net", "serial-8250"
    uint32_t version = 0;
    std::vector<uint8_t> data;
    bool operator==(const DeviceState&) const = default;
};

}  // namespace ember::snapshot
