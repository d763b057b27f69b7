// The codec between each device's plain State struct and the snapshot file's opaque
// DeviceState blob. Every blob is a FieldWriter payload with one tagged field per member (nested
// structs as nested payloads), so that a later Ember can add fields and an older one refuses only
// what it cannot restore. decode_* checks the blob's shape (type, version, required fields, sizes,
// enum and integer ranges, at most kMaxQueues queues) and never the device's semantics, which its
// restore_state() checks; it must not crash on any bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "devices/legacy/boot_timer.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial_8250.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/net/net_device.h"
#include "devices/virtio/transport/mmio_transport.h"
#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kSerialType = "serial-8250";
inline constexpr std::string_view kI8042Type = "i8042";
inline constexpr std::string_view kCmosType = "cmos-rtc";
inline constexpr std::string_view kBootTimerType = "boot-timer";
inline constexpr std::string_view kBlockType = "virtio-block";
inline constexpr std::string_view kNetType = "virtio-net";

// The blob version every encode_* writes and the only one decode_* reads.
inline constexpr uint32_t kDeviceBlobVersion = 1;
// More queues than any Ember device has: a blob claiming more is refused before any allocation.
inline constexpr uint32_t kMaxQueues = 16;

DeviceState encode_serial(const Serial8250::State& s);  // id "serial"
Result<Serial8250::State> decode_serial(const DeviceState& d);
DeviceState encode_i8042(const I8042::State& s);  // id "i8042"
Result<I8042::State> decode_i8042(const DeviceState& d);
DeviceState encode_cmos(const Cmos::State& s);  // id "cmos"
Result<Cmos::State> decode_cmos(const DeviceState& d);
DeviceState encode_boot_timer(const BootTimer::State& s);  // id "boot-timer"
Result<BootTimer::State> decode_boot_timer(const DeviceState& d);

// Where a virtio-mmio device sat and its transport state.
struct VirtioSlotState {
    uint64_t mmio_base = 0;
    uint32_t gsi = 0;
    virtio::MmioTransportState transport;
    bool operator==(const VirtioSlotState&) const = default;
};
struct BlockSnapshot {
    DriveConfig drive;  // The whole config, rate limiter included.
    VirtioSlotState slot;
    virtio::BlockDeviceState device;
    bool operator==(const BlockSnapshot&) const = default;
};
struct NetSnapshot {
    NetConfig net;
    VirtioSlotState slot;
    virtio::NetDeviceState device;
    bool operator==(const NetSnapshot&) const = default;
};
// QueueState::reserved is not stored: it is padding and decodes as 0.
DeviceState encode_block(const BlockSnapshot& s);  // id = drive.drive_id
Result<BlockSnapshot> decode_block(const DeviceState& d);
DeviceState encode_net(const NetSnapshot& s);  // id = net.iface_id
Result<NetSnapshot> decode_net(const DeviceState& d);

// One line about a device blob of a known type for describe(), e.g. the drive, its slot and its
// queue indices; "UNREADABLE: ..." when it does not decode, an empty string for an unknown type.
std::string summarize_device(const DeviceState& d);

}  // namespace ember::snapshot
