#include "vmm/config/vm_config.h"

#include <fmt/core.h>

#include <cctype>
#include <cstdio>
#include <set>

namespace ember {

Result<void> validate_id(const char* field, const std::string& id) {
    if (id.empty() || id.size() > 64) {
        return Error::invalid(field, fmt::format("must be 1 to 64 characters, got {}", id.size()));
    }
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
            return Error::invalid(field,
                                  fmt::format("'{}' may hold only letters, digits and '_'", id));
        }
    }
    return ok();
}

Result<MacAddress> parse_mac(const std::string& text) {
    unsigned b[6];
    char tail = 0;
    if (text.size() != 17 || std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1],
                                         &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
        return Error::invalid("guest_mac", fmt::format("'{}' is not a MAC address", text));
    }
    MacAddress mac{};
    for (size_t i = 0; i < mac.size(); ++i) mac[i] = static_cast<uint8_t>(b[i]);
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
    if (vcpu_count < 1 || vcpu_count > kMaxVcpus) {
        return Error::invalid("vcpu_count",
                              fmt::format("must be 1 to {}, got {}", kMaxVcpus, vcpu_count));
    }
    if (smt && vcpu_count > 1 && vcpu_count % 2 != 0) {
        return Error::invalid("vcpu_count", "must be 1 or even when smt is enabled");
    }
    if (mem_size_mib == 0) return Error::invalid("mem_size_mib", "must be greater than 0");
    if (mem_size_mib > (1ULL << 20)) return Error::invalid("mem_size_mib", "larger than 1 TiB");
    // Firecracker's InvalidMemorySize: guest RAM must be whole 2 MiB hugetlb pages.
    if (huge_pages == HugePages::k2M && mem_size_mib % 2 != 0) {
        return Error::invalid("mem_size_mib",
                              fmt::format("{} is not a multiple of the configured page size (2 MiB "
                                          "with huge_pages 2M)",
                                          mem_size_mib));
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
    if (roots > 1) return Error::invalid("is_root_device", "only one drive can be the root device");
    ids.clear();
    std::set<std::string> taps;
    std::set<std::string> macs;
    for (const NetConfig& n : nets) {
        EMBER_TRY(n.validate());
        if (!ids.insert(n.iface_id).second) {
            return Error::invalid("iface_id", fmt::format("'{}' is used twice", n.iface_id));
        }
        if (!taps.insert(n.host_dev_name).second) {
            return Error::invalid("host_dev_name",
                                  fmt::format("'{}' is used twice", n.host_dev_name));
        }
        // Compared as written, as PUT /network-interfaces always has.
        if (n.guest_mac && !macs.insert(*n.guest_mac).second) {
            return Error::invalid("guest_mac", fmt::format("'{}' is used twice", *n.guest_mac));
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
