#include "vmm/core/virtio_from_config.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include <fmt/core.h>

#include "vmm/base/log.h"

namespace ember {

TokenBucketParams token_bucket_params(const std::optional<TokenBucketConfig>& bucket) {
    if (!bucket) return {};
    return TokenBucketParams{.size = bucket->size,
                             .one_time_burst = bucket->one_time_burst,
                             .refill_time_ms = bucket->refill_time_ms};
}

BucketUpdate bucket_update(const std::optional<TokenBucketConfig>& bucket) {
    if (!bucket) return BucketUpdate::none();
    return BucketUpdate::from(token_bucket_params(bucket));
}

virtio::BlockDeviceOptions block_device_options(const DriveConfig& drive) {
    virtio::BlockDeviceOptions options;
    options.drive_id = drive.drive_id;
    options.path = drive.path_on_host;
    options.access = drive.is_read_only ? virtio::Access::kReadOnly : virtio::Access::kReadWrite;
    options.cache = drive.cache_type;
    options.engine = drive.io_engine;
    if (drive.rate_limiter) {
        options.bandwidth = token_bucket_params(drive.rate_limiter->bandwidth);
        options.ops = token_bucket_params(drive.rate_limiter->ops);
    }
    return options;
}

Result<virtio::NetDeviceOptions> net_device_options(const NetConfig& net) {
    virtio::NetDeviceOptions options;
    options.iface_id = net.iface_id;
    if (net.guest_mac) options.guest_mac = EMBER_TRY(parse_mac(*net.guest_mac));
    options.mtu = net.mtu;
    if (net.rx_rate_limiter) {
        options.rx_bandwidth = token_bucket_params(net.rx_rate_limiter->bandwidth);
        options.rx_ops = token_bucket_params(net.rx_rate_limiter->ops);
    }
    if (net.tx_rate_limiter) {
        options.tx_bandwidth = token_bucket_params(net.tx_rate_limiter->bandwidth);
        options.tx_ops = token_bucket_params(net.tx_rate_limiter->ops);
    }
    return options;
}

std::optional<virtio::NetMmdsOptions> net_mmds_options(const NetConfig& net,
                                                       const std::optional<MmdsConfig>& mmds,
                                                       mmds::Responder* service) {
    if (!mmds || service == nullptr) return std::nullopt;
    const std::vector<std::string>& ifaces = mmds->network_interfaces;
    if (std::find(ifaces.begin(), ifaces.end(), net.iface_id) == ifaces.end()) return std::nullopt;
    return virtio::NetMmdsOptions{.responder = service, .ipv4 = mmds->ipv4_address};
}

namespace {

// Places a device made for `Device` and keeps its type in the handle.
template <typename Device>
Result<DeviceManager::Attached<Device>> attach(std::unique_ptr<Device> device,
                                               DeviceManager& devices, const GuestMemory& memory,
                                               EventLoop& loop) {
    Device* typed = device.get();
    DeviceManager::AttachedVirtio added =
        EMBER_TRY(devices.add_virtio_device(std::move(device), memory, loop));
    return DeviceManager::Attached<Device>{typed, added.transport, added.slot};
}

}  // namespace

Result<DeviceManager::Attached<virtio::BlockDevice>> attach_drive(const DriveConfig& drive,
                                                                  DeviceManager& devices,
                                                                  const GuestMemory& memory,
                                                                  EventLoop& loop) {
    auto device = virtio::BlockDevice::create(block_device_options(drive));
    if (!device) return device.error().within("attach drive", drive.drive_id);
    return attach(std::move(*device), devices, memory, loop);
}

Result<DeviceManager::Attached<virtio::NetDevice>> attach_net(
    const NetConfig& net, DeviceManager& devices, const GuestMemory& memory, EventLoop& loop,
    std::optional<virtio::NetMmdsOptions> mmds) {
    virtio::NetDeviceOptions options = EMBER_TRY(net_device_options(net));
    options.mmds = mmds;
    auto tap = virtio::Tap::open(net.host_dev_name);
    if (!tap) return tap.error().within("attach network interface", net.iface_id);
    auto device = virtio::NetDevice::create(options, std::move(*tap));
    if (!device) return device.error().within("attach network interface", net.iface_id);
    return attach(std::move(*device), devices, memory, loop);
}

Result<void> attach_virtio_devices(const VmConfig& config, DeviceManager& devices,
                                   const GuestMemory& memory, EventLoop& loop,
                                   mmds::Responder* mmds_service) {
    // The kernel names virtio disks in probe order, which is the command-line order.
    std::vector<const DriveConfig*> drives;
    for (const DriveConfig& drive : config.drives) {
        if (drive.is_root_device) drives.push_back(&drive);
    }
    for (const DriveConfig& drive : config.drives) {
        if (!drive.is_root_device) drives.push_back(&drive);
    }
    for (const DriveConfig* drive : drives) {
        auto block = EMBER_TRY(attach_drive(*drive, devices, memory, loop));
        EMBER_INFO("Drive {}: {} ({}, {} sectors)", drive->drive_id, drive->path_on_host,
                   drive->is_read_only ? "read-only" : "read-write",
                   block.device->capacity_sectors());
    }
    for (const NetConfig& net : config.nets) {
        std::optional<virtio::NetMmdsOptions> mmds =
            net_mmds_options(net, config.mmds, mmds_service);
        EMBER_TRY(attach_net(net, devices, memory, loop, mmds));
        EMBER_INFO("Network interface {}: tap {}{}", net.iface_id, net.host_dev_name,
                   mmds ? ", answers MMDS" : "");
    }
    return ok();
}

Result<void> update_drive(DeviceManager& devices, const DriveUpdate& update) {
    auto block = devices.find<virtio::BlockDevice>(update.drive_id);
    if (!block) return Error::invalid("drive_id", fmt::format("no drive '{}'", update.drive_id));
    std::lock_guard lock(block->transport->mutex());
    // The completion eventfd is the device's, so a new file changes nothing in the event loop.
    if (update.path_on_host) EMBER_TRY(block->device->update_disk(*update.path_on_host));
    if (update.rate_limiter) {
        block->device->update_rate_limiter(bucket_update(update.rate_limiter->bandwidth),
                                           bucket_update(update.rate_limiter->ops));
    }
    return ok();
}

Result<void> update_net(DeviceManager& devices, const NetUpdate& update) {
    auto net = devices.find<virtio::NetDevice>(update.iface_id);
    if (!net) {
        return Error::invalid("iface_id",
                              fmt::format("no network interface '{}'", update.iface_id));
    }
    const std::optional<RateLimiterConfig>& rx = update.rx_rate_limiter;
    const std::optional<RateLimiterConfig>& tx = update.tx_rate_limiter;
    std::lock_guard lock(net->transport->mutex());
    net->device->update_rate_limiters(rx ? bucket_update(rx->bandwidth) : BucketUpdate::none(),
                                      rx ? bucket_update(rx->ops) : BucketUpdate::none(),
                                      tx ? bucket_update(tx->bandwidth) : BucketUpdate::none(),
                                      tx ? bucket_update(tx->ops) : BucketUpdate::none());
    return ok();
}

}  // namespace ember
