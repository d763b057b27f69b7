#include "vmm/config/vm_config.h"

#include <fmt/core.h>

#include <cctype>
#include <set>

namespace ember {

Result<void> validate_id(const char* field, const std::string& id) {
    if (id.empty() || id.size() > 64) {
        return Error::invalid(field, fmt::format("must be 1 to 64 characters, got {}", id.size()));
    }
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
            // Firecracker's words (parsed_request.rs checked_id).
            return Error::invalid(
                field,
                "API Resource IDs can only contain alphanumeric characters and underscores.");
        }
    }
    return ok();
}

Result<MacAddress> parse_mac(const std::string& text) {
    // "xx:xx:xx:xx:xx:xx", two characters a byte, as Firecracker reads it (MacAddr::from_str:
    // u8::from_str_radix(.., 16) of each, which also takes "+f" for 0x0f). Not sscanf: it takes
    // spaces too, and its scanf engine is 35 KB of the static binary.
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    MacAddress mac{};
    bool valid = text.size() == 3 * mac.size() - 1;
    for (size_t i = 0; valid && i < mac.size(); ++i) {
        const int high = text[3 * i] == '+' ? 0 : hex(text[3 * i]);
        const int low = hex(text[3 * i + 1]);
        valid = high >= 0 && low >= 0 && (i + 1 == mac.size() || text[3 * i + 2] == ':');
        mac[i] = static_cast<uint8_t>(high * 16 + low);
    }
    if (!valid) return Error::invalid("guest_mac", fmt::format("'{}' is not a MAC address", text));
    return mac;
}

Result<void> TokenBucketConfig::validate() const {
    // Firecracker: a bucket with size 0 or refill_time 0 is disabled, which is valid.
    return ok();
}

Result<void> RateLimiterConfig::validate() const {
    if (bandwidth) EMBER_TRY(bandwidth->validate());
    if (ops) EMBER_TRY(ops->validate());
    return ok();
}

Result<void> BootSourceConfig::validate() const {
    if (kernel_image_path.empty()) return Error::invalid("kernel_image_path", "must not be empty");
    if (boot_args && boot_args->size() >= 2048) {
        return Error::invalid("boot_args", "longer than the 2048-byte command line limit");
    }
    return ok();
}

Result<void> MachineConfig::validate() const {
    // Firecracker's words (vmm_config/machine_config.rs), which its clients match on; one text
    // for every vCPU count it refuses, as there.
    if (vcpu_count < 1 || vcpu_count > kMaxVcpus || (smt && vcpu_count > 1 && vcpu_count % 2)) {
        return Error::invalid("vcpu_count",
                              "The vCPU number is invalid! The vCPU number can only be 1 or an "
                              "even number when SMT is enabled.");
    }
    // InvalidMemorySize: guest RAM must be whole pages (2 MiB hugetlb pages with huge_pages 2M).
    if (mem_size_mib == 0 || (huge_pages == HugePages::k2M && mem_size_mib % 2 != 0)) {
        return Error::invalid("mem_size_mib",
                              "The memory size (MiB) is either 0, or not a multiple of the "
                              "configured page size.");
    }
    return ok();
}

Result<void> MachineConfig::validate_for_boot() const {
    // Firecracker takes any u64 at the PUT/PATCH and fails when it maps the memory; Ember
    // refuses at InstanceStart what it could not map, with a reason.
    if (mem_size_mib > kMaxMemMib) {
        return Error::invalid(
            "mem_size_mib",
            fmt::format("{} MiB is larger than the 1 TiB Ember can map", mem_size_mib));
    }
    return ok();
}

Result<void> DriveConfig::validate() const {
    EMBER_TRY(validate_id("drive_id", drive_id));
    if (path_on_host.empty()) return Error::invalid("path_on_host", "must not be empty");
    if (rate_limiter) EMBER_TRY(rate_limiter->validate());
    return ok();
}

Result<void> DriveUpdate::validate() const {
    EMBER_TRY(validate_id("drive_id", drive_id));
    if (path_on_host && path_on_host->empty()) {
        return Error::invalid("path_on_host", "must not be empty");
    }
    if (rate_limiter) EMBER_TRY(rate_limiter->validate());
    return ok();
}

Result<void> NetUpdate::validate() const {
    EMBER_TRY(validate_id("iface_id", iface_id));
    if (rx_rate_limiter) EMBER_TRY(rx_rate_limiter->validate());
    if (tx_rate_limiter) EMBER_TRY(tx_rate_limiter->validate());
    return ok();
}

Result<void> NetConfig::validate() const {
    EMBER_TRY(validate_id("iface_id", iface_id));
    if (host_dev_name.empty() || host_dev_name.size() >= 16) {
        return Error::invalid("host_dev_name", "must be 1 to 15 characters (IFNAMSIZ)");
    }
    if (guest_mac) EMBER_TRY(parse_mac(*guest_mac));
    if (mtu && (*mtu < 68)) return Error::invalid("mtu", "must be 68 to 65535");
    if (rx_rate_limiter) EMBER_TRY(rx_rate_limiter->validate());
    if (tx_rate_limiter) EMBER_TRY(tx_rate_limiter->validate());
    return ok();
}

// Firecracker's MmdsConfigError texts; its tests match on them.
constexpr const char* kMmdsConfigError = "MMDS config error";

Result<void> MmdsConfig::validate() const {
    if (network_interfaces.empty()) {
        return Error::invalid(kMmdsConfigError,
                              "The list of network interface IDs that allow forwarding MMDS "
                              "requests is empty.");
    }
    // Firecracker's is_link_local_valid: 169.254.0.0/16 without its first and last /24, which
    // RFC 3927 reserves.
    const auto& ip = ipv4_address;
    if (ip[0] != 169 || ip[1] != 254 || ip[2] == 0 || ip[2] == 255) {
        return Error::invalid(kMmdsConfigError, "The MMDS IPv4 address is not link local.");
    }
    return ok();
}

Result<void> VmConfig::validate() const {
    if (boot_source) EMBER_TRY(boot_source->validate());
    EMBER_TRY(machine.validate());
    std::set<std::string> ids;
    int roots = 0;
    for (const DriveConfig& d : drives) {
        EMBER_TRY(d.validate());
        if (!ids.insert(d.drive_id).second) {
            return Error::invalid("drive_id", fmt::format("'{}' is used twice", d.drive_id));
        }
        roots += d.is_root_device ? 1 : 0;
    }
    if (roots > 1) return Error::invalid("is_root_device", "A root block device already exists!");
    ids.clear();
    std::set<std::string> taps;
    std::set<std::string> macs;
    for (const NetConfig& n : nets) {
        EMBER_TRY(n.validate());
        if (!ids.insert(n.iface_id).second) {
            return Error::invalid("iface_id", fmt::format("'{}' is used twice", n.iface_id));
        }
        if (!taps.insert(n.host_dev_name).second) {
            // Firecracker fails to open the tap a second time (EBUSY) and says so this way.
            return Error::invalid("host_dev_name",
                                  fmt::format("Could not create the network device: Open tap "
                                              "device failed: {} is already used by another "
                                              "network interface.",
                                              n.host_dev_name));
        }
        // Compared as written, as PUT /network-interfaces always has.
        if (n.guest_mac && !macs.insert(*n.guest_mac).second) {
            return Error::invalid(
                "guest_mac", fmt::format("The MAC address is already in use: {}", *n.guest_mac));
        }
    }
    if (mmds) {
        EMBER_TRY(mmds->validate());
        for (const std::string& iface : mmds->network_interfaces) {
            if (!ids.contains(iface)) {
                return Error::invalid(kMmdsConfigError,
                                      "The list of network interface IDs provided contains at "
                                      "least one ID that does not correspond to any existing "
                                      "network interface.");
            }
        }
    }
    return ok();
}

}  // namespace ember
