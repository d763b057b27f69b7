#include "vmm/core/vm_resources.h"

#include <algorithm>
#include <optional>

#include <fmt/core.h>

#include "devices/virtio/block/backend.h"
#include "devices/virtio/net/tap.h"
#include "vmm/base/file_open.h"

namespace ember {
namespace {

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

template <typename Items, typename Id>
auto find_by_id(Items& items, const std::string& wanted, Id id) -> decltype(&*items.begin()) {
    auto it = std::find_if(items.begin(), items.end(),
                           [&](const auto& existing) { return existing.*id == wanted; });
    return it == items.end() ? nullptr : &*it;
}

// Firecracker's BootSourceConfigError: "<what> file cannot be opened: <io::Error>", where the
// io::Error reads "No such file or directory (os error 2)".
Result<void> check_boot_file(const std::string& path, const char* context) {
    // Opened as a disk is: non-blocking and only if it is a regular file, so that a FIFO or a
    // device the client named cannot stall the vmm thread.
    Result<NamedFile> file = open_named_file(path, FileAccess::kReadOnly, FileKinds::kRegular,
                                             IoMode::kNonBlocking, context);
    if (file) return ok();
    const Error& e = file.error();
    std::string cause = e.code() && e.code() != std::errc::invalid_argument
                            ? fmt::format("{} (os error {})", e.code().message(), e.code().value())
                            : e.detail();
    return Error(std::error_code(), context, std::move(cause), ErrorKind::kInvalidInput);
}

// As Firecracker's build_boot_source, which opens both files when the boot source is set.
Result<void> check_boot_files(const BootSourceConfig& boot_source) {
    EMBER_TRY(check_boot_file(boot_source.kernel_image_path,
                              "Boot source error: The kernel file cannot be opened"));
    if (boot_source.initrd_path) {
        EMBER_TRY(check_boot_file(*boot_source.initrd_path,
                                  "Boot source error: The initrd file cannot be opened"));
    }
    return ok();
}

}  // namespace

Result<void> VmResources::commit(VmConfig candidate) {
    EMBER_TRY(candidate.validate());
    config_ = std::move(candidate);
    configured_ = true;
    return ok();
}

Result<void> VmResources::set_boot_source(const BootSourceConfig& boot_source) {
    VmConfig candidate = config_;
    candidate.boot_source = boot_source;
    EMBER_TRY(candidate.validate());
    EMBER_TRY(check_boot_files(boot_source));
    return commit(std::move(candidate));
}

Result<void> VmResources::set_machine_config(const MachineConfig& machine) {
    VmConfig candidate = config_;
    candidate.machine = machine;
    if (!machine.cpu_template) {
        candidate.machine.cpu_template = config_.machine.cpu_template;
    } else {
        candidate.cpu_config.reset();
        if (*machine.cpu_template == CpuTemplate::kNone) candidate.machine.cpu_template.reset();
    }
    return commit(std::move(candidate));
}

void VmResources::set_cpu_config(const CpuConfig& cpu_config) {
    config_.cpu_config = cpu_config;
    config_.machine.cpu_template = CpuTemplate::kNone;
    configured_ = true;
}

Result<void> VmResources::put_drive(const DriveConfig& drive) {
    VmConfig candidate = config_;
    put_by_id(candidate.drives, drive, &DriveConfig::drive_id);
    EMBER_TRY(candidate.validate());
    // As Firecracker, the file is opened now, so a missing file (or a read-write drive on a
    // read-only file) fails this request rather than InstanceStart. The path is the request's:
    // a failed open is invalid input, not a host failure.
    const virtio::Access access =
        drive.is_read_only ? virtio::Access::kReadOnly : virtio::Access::kReadWrite;
    if (auto file = virtio::DiskFile::open(drive.path_on_host, access); !file) {
        return file.error().with_kind(ErrorKind::kInvalidInput);
    }
    return commit(std::move(candidate));
}

Result<void> VmResources::put_net(const NetConfig& net) {
    VmConfig candidate = config_;
    put_by_id(candidate.nets, net, &NetConfig::iface_id);
    EMBER_TRY(candidate.validate());
    // As Firecracker, the tap is opened now: a missing or busy tap fails this request.
    if (auto tap = virtio::Tap::open(net.host_dev_name); !tap) {
        // Firecracker's words (NetworkInterfaceError::CreateNetworkDevice), then the cause.
        return Error(std::error_code(), "Network config error: Could not create the network device",
                     tap.error().message(), ErrorKind::kInvalidInput);
    }
    return commit(std::move(candidate));
}

Result<void> VmResources::set_mmds_config(const MmdsConfig& mmds) {
    VmConfig candidate = config_;
    candidate.mmds = mmds;
    return commit(std::move(candidate));
}

// Not boot-specific (Firecracker's boot_path stays false): its framework configures the serial
// port on every spawn, a snapshot load included.
void VmResources::set_serial(const SerialConfig& serial) { config_.serial = serial; }

Result<void> VmResources::configure(const VmConfig& config, const Apply& apply) {
    EMBER_TRY(config.validate());
    if (config.boot_source) EMBER_TRY(check_boot_files(*config.boot_source));
    EMBER_TRY(apply(config));
    std::optional<MetricsConfig> metrics = config_.metrics;
    config_ = config;
    if (!config_.metrics) config_.metrics = metrics;  // Set by --metrics-path.
    configured_ = true;
    return ok();
}

Result<void> VmResources::find_drive(const std::string& drive_id) const {
    if (find_by_id(config_.drives, drive_id, &DriveConfig::drive_id)) {
        return ok();
    }
    return Error::not_found("drive_id", fmt::format("no drive '{}'", drive_id));
}

Result<void> VmResources::find_net(const std::string& iface_id) const {
    if (find_by_id(config_.nets, iface_id, &NetConfig::iface_id)) {
        return ok();
    }
    return Error::not_found("iface_id", fmt::format("no network interface '{}'", iface_id));
}

void VmResources::record(const DriveUpdate& update) {
    DriveConfig* drive = find_by_id(config_.drives, update.drive_id, &DriveConfig::drive_id);
    if (!drive) return;
    if (update.path_on_host) drive->path_on_host = *update.path_on_host;
    if (update.rate_limiter) {
        drive->rate_limiter = merged(drive->rate_limiter, *update.rate_limiter);
    }
}

void VmResources::record(const NetUpdate& update) {
    NetConfig* net = find_by_id(config_.nets, update.iface_id, &NetConfig::iface_id);
    if (!net) return;
    if (update.rx_rate_limiter) {
        net->rx_rate_limiter = merged(net->rx_rate_limiter, *update.rx_rate_limiter);
    }
    if (update.tx_rate_limiter) {
        net->tx_rate_limiter = merged(net->tx_rate_limiter, *update.tx_rate_limiter);
    }
}

}  // namespace ember
