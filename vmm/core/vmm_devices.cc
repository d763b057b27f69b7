// Vmm's controller methods for drives and network interfaces: PUT before boot (checked and
// stored in the configuration), PATCH after boot (applied to the running devices).
#include <algorithm>

#include <fmt/core.h>

#include "devices/virtio/block/backend.h"
#include "devices/virtio/net/tap.h"
#include "vmm/core/virtio_from_config.h"
#include "vmm/core/vmm.h"

namespace ember {
namespace {

Error not_started(const char* what) {
    return Error(std::make_error_code(std::errc::operation_not_permitted), what,
                 "the operation is not supported before the VM started");
}

// PATCH merges: a bucket the update names replaces the stored one, the others stay.
RateLimiterConfig merged(const std::optional<RateLimiterConfig>& current,
                         const RateLimiterConfig& update) {
    RateLimiterConfig out = current.value_or(RateLimiterConfig{});
    if (update.bandwidth) out.bandwidth = update.bandwidth;
    if (update.ops) out.ops = update.ops;
    return out;
}

template <typename Item, typename Id>
void put_by_id(std::vector<Item>& items, const Item& item, Id id) {
    auto it = std::find_if(items.begin(), items.end(),
                           [&](const Item& existing) { return existing.*id == item.*id; });
    if (it != items.end()) {
        *it = item;
    } else {
        items.push_back(item);
    }
}

}  // namespace

Result<void> Vmm::put_drive(const DriveConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(require_not_started("PUT /drives"));
        EMBER_TRY(config.validate());
        // As Firecracker, the file is opened now, so a missing file (or a read-write drive on a
        // read-only file) fails this request rather than InstanceStart.
        const virtio::Access access =
            config.is_read_only ? virtio::Access::kReadOnly : virtio::Access::kReadWrite;
        (void)EMBER_TRY(virtio::DiskFile::open(config.path_on_host, access));
        VmConfig candidate = config_;
        put_by_id(candidate.drives, config, &DriveConfig::drive_id);
        EMBER_TRY(candidate.validate());  // One root device.
        config_.drives = std::move(candidate.drives);
        configured_ = true;
        return ok();
    });
}

Result<void> Vmm::put_net(const NetConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(require_not_started("PUT /network-interfaces"));
        EMBER_TRY(config.validate());
        EMBER_TRY(net_device_options(config));
        VmConfig candidate = config_;
        put_by_id(candidate.nets, config, &NetConfig::iface_id);
        EMBER_TRY(candidate.validate());  // Unique tap names.
        for (const NetConfig& other : candidate.nets) {
            if (other.iface_id != config.iface_id && config.guest_mac &&
                other.guest_mac == config.guest_mac) {
                return Error::invalid("guest_mac",
                                      fmt::format("'{}' is used twice", *config.guest_mac));
            }
        }
        // As Firecracker, the tap is opened now: a missing or busy tap fails this request.
        (void)EMBER_TRY(virtio::Tap::open(config.host_dev_name));
        config_.nets = std::move(candidate.nets);
        configured_ = true;
        return ok();
    });
}

Result<void> Vmm::patch_drive(const DriveUpdate& update) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        if (state_ == VmState::kNotStarted) return not_started("PATCH /drives");
        EMBER_TRY(validate_id("drive_id", update.drive_id));
        if (update.path_on_host && update.path_on_host->empty()) {
            return Error::invalid("path_on_host", "must not be empty");
        }
        if (update.rate_limiter) EMBER_TRY(update.rate_limiter->validate());
        auto drive = std::find_if(config_.drives.begin(), config_.drives.end(),
                                  [&](const DriveConfig& d) { return d.drive_id == update.drive_id; });
        if (drive == config_.drives.end()) {
            return Error::invalid("drive_id", fmt::format("no drive '{}'", update.drive_id));
        }
        EMBER_TRY(update_drive(machine_->devices, update));
        if (update.path_on_host) drive->path_on_host = *update.path_on_host;
        if (update.rate_limiter) drive->rate_limiter = merged(drive->rate_limiter, *update.rate_limiter);
        return ok();
    });
}

Result<void> Vmm::patch_net(const NetUpdate& update) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        if (state_ == VmState::kNotStarted) return not_started("PATCH /network-interfaces");
        EMBER_TRY(validate_id("iface_id", update.iface_id));
        if (update.rx_rate_limiter) EMBER_TRY(update.rx_rate_limiter->validate());
        if (update.tx_rate_limiter) EMBER_TRY(update.tx_rate_limiter->validate());
        auto net = std::find_if(config_.nets.begin(), config_.nets.end(),
                                [&](const NetConfig& n) { return n.iface_id == update.iface_id; });
        if (net == config_.nets.end()) {
            return Error::invalid("iface_id",
                                  fmt::format("no network interface '{}'", update.iface_id));
        }
        EMBER_TRY(update_net(machine_->devices, update));
        if (update.rx_rate_limiter) {
            net->rx_rate_limiter = merged(net->rx_rate_limiter, *update.rx_rate_limiter);
        }
        if (update.tx_rate_limiter) {
            net->tx_rate_limiter = merged(net->tx_rate_limiter, *update.tx_rate_limiter);
        }
        return ok();
    });
}

}  // namespace ember
