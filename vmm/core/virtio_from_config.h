// The virtio devices of a VM from its configuration: the translation of drive and network-
// interface configuration into device options, the device made from one configured drive or
// interface and attached in the next virtio-mmio window (boot and snapshot restore both attach
// through these), and the PATCH updates of running devices.
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
#include "vmm/mmds/responder.h"

namespace ember {

// Size 0 (no bucket): no limit.
TokenBucketParams token_bucket_params(const std::optional<TokenBucketConfig>& bucket);
// PATCH semantics: an absent bucket stays as it is; size or refill time 0 disables it.
BucketUpdate bucket_update(const std::optional<TokenBucketConfig>& bucket);

virtio::BlockDeviceOptions block_device_options(const DriveConfig& drive);
Result<virtio::NetDeviceOptions> net_device_options(const NetConfig& net);
// The MMDS endpoint of `net` when the MMDS configuration names it: `service` at the configured
// address. Nothing otherwise, or without a service.
std::optional<virtio::NetMmdsOptions> net_mmds_options(const NetConfig& net,
                                                       const std::optional<MmdsConfig>& mmds,
                                                       mmds::Responder* service);

// A drive or network interface from its configuration, as a device in the next virtio-mmio
// window with its event sources watched on `loop`. Boot and restore both come here; restore
// then checks the window and applies the saved state.
Result<DeviceManager::Attached<virtio::BlockDevice>> attach_drive(const DriveConfig& drive,
                                                                  DeviceManager& devices,
                                                                  const GuestMemory& memory,
                                                                  EventLoop& loop);
Result<DeviceManager::Attached<virtio::NetDevice>> attach_net(
    const NetConfig& net, DeviceManager& devices, const GuestMemory& memory, EventLoop& loop,
    std::optional<virtio::NetMmdsOptions> mmds = std::nullopt);

// Every drive (the root drive first, so that it is /dev/vda as in Firecracker) and network
// interface of `config`, in that order, logging each. The interfaces config.mmds names answer
// MMDS through `mmds_service` (which outlives the devices).
Result<void> attach_virtio_devices(const VmConfig& config, DeviceManager& devices,
                                   const GuestMemory& memory, EventLoop& loop,
                                   mmds::Responder* mmds_service = nullptr);

// PATCH /drives/{id} and /network-interfaces/{id} on a running VM: a device call under the
// transport's mutex.
Result<void> update_drive(DeviceManager& devices, const DriveUpdate& update);
Result<void> update_net(DeviceManager& devices, const NetUpdate& update);

}  // namespace ember
