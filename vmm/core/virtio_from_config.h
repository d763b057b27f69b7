// The virtio-mmio devices of a VM from its configuration: drives become virtio-blk devices (the
// root drive first, so that it is /dev/vda as in Firecracker), network interfaces virtio-net
// devices over their tap. Also the PATCH updates of running devices and the translation from
// the configuration structs to the devices' options.
// Thread: the vmm thread.
#pragma once

#include <optional>

#include "devices/rate_limiter.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/net/net_device.h"
#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/device_manager.h"
#include "vmm/core/event_loop.h"
#include "vmm/memory/guest_memory.h"

namespace ember {

// Size 0 (no bucket): no limit.
TokenBucketParams token_bucket_params(const std::optional<TokenBucketConfig>& bucket);
// PATCH semantics: an absent bucket stays as it is; size or refill time 0 disables it.
BucketUpdate bucket_update(const std::optional<TokenBucketConfig>& bucket);

virtio::BlockDeviceOptions block_device_options(const DriveConfig& drive);
Result<virtio::NetDeviceOptions> net_device_options(const NetConfig& net);

// Creates every drive and network interface of `config` and attaches them through `devices`.
Result<void> attach_virtio_devices(const VmConfig& config, DeviceManager& devices,
                                   const GuestMemory& memory, EventLoop& loop);

// PATCH /drives/{id} and /network-interfaces/{id} on a running VM.
Result<void> update_drive(DeviceManager& devices, const DriveUpdate& update);
Result<void> update_net(DeviceManager& devices, const NetUpdate& update);

}  // namespace ember
