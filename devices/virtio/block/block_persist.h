// The virtio-block snapshot blob: the drive's whole configuration, its virtio-mmio slot
// (mmio_persist.h) and the block device's own state, as three nested payloads (see
// vmm/persist/device_blob.h for the envelope and what decoding checks).
#pragma once

#include <string>
#include <string_view>

#include "devices/virtio/block/block_device.h"
#include "devices/virtio/transport/mmio_persist.h"
#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kBlockType = "virtio-block";

struct BlockSnapshot {
    DriveConfig drive;  // The whole config, rate limiter included.
    VirtioSlotState slot;
    virtio::BlockDeviceState device;
    bool operator==(const BlockSnapshot&) const = default;
};

DeviceState encode_block(const BlockSnapshot& s);  // id = drive.drive_id
Result<BlockSnapshot> decode_block(const DeviceState& d);
// One line for describe(): the drive, its engine and size, the limiter's tokens and the slot.
std::string summarize_block(const BlockSnapshot& s);

}  // namespace ember::snapshot
