// Plain configuration structs with Firecracker's field names and defaults, shared by the API and
// the config file, and the one enum per concept the devices use too (CacheType, IoEngine).
// validate() checks each one on its own; cross-object rules (one root device, unique ids, taps
// and MACs) live in VmConfig::validate() only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/config/cpu_config.h"

namespace ember {

// Firecracker's TokenBucket: `size` tokens refill over `refill_time_ms`; `one_time_burst` extra
// tokens are available once at the start.
struct TokenBucketConfig {
    uint64_t size = 0;
    uint64_t one_time_burst = 0;
    uint64_t refill_time_ms = 0;

    Result<void> validate() const;
    bool operator==(const TokenBucketConfig&) const = default;
};

struct RateLimiterConfig {
    std::optional<TokenBucketConfig> bandwidth;  // Bytes.
    std::optional<TokenBucketConfig> ops;        // Requests or frames.

    Result<void> validate() const;
    bool operator==(const RateLimiterConfig&) const = default;
};

struct BootSourceConfig {
    std::string kernel_image_path;
    std::optional<std::string> boot_args;  // Unset: Firecracker's default command line.
    std::optional<std::string> initrd_path;

    Result<void> validate() const;
    bool operator==(const BootSourceConfig&) const = default;
};

// Firecracker's default kernel command line (vmm_config/boot_source.rs).
inline constexpr const char* kDefaultBootArgs =
    "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux i8042.dumbkbd "
    "swiotlb=noforce";

enum class HugePages { kNone, kTransparent, k2M };

struct MachineConfig {
    uint32_t vcpu_count = 1;
    uint64_t mem_size_mib = 128;
    bool smt = false;
    bool track_dirty_pages = false;
    HugePages huge_pages = HugePages::kNone;
    // Unset: no static template. kNone: none, or a custom one (VmConfig::cpu_config), as
    // Firecracker's GET shows it. Deprecated in Firecracker, still applied.
    std::optional<CpuTemplate> cpu_template;

    static constexpr uint32_t kMaxVcpus = 32;
    static constexpr uint64_t kMaxMemMib = 1ULL << 20;  // 1 TiB.
    // The rules Firecracker checks at PUT/PATCH /machine-config.
    Result<void> validate() const;
    // What must also hold to build the VM (checked at InstanceStart and snapshot load only).
    Result<void> validate_for_boot() const;
    bool operator==(const MachineConfig&) const = default;
};

// Writeback offers the guest a FLUSH command; Unsafe does not (Firecracker's cache_type).
enum class CacheType { kUnsafe, kWriteback };
// Sync: preadv/pwritev on the vmm thread; Async: io_uring.
enum class IoEngine { kSync, kAsync };

struct DriveConfig {
    std::string drive_id;
    std::string path_on_host;
    bool is_root_device = false;
    std::optional<std::string> partuuid;
    bool is_read_only = false;
    CacheType cache_type = CacheType::kUnsafe;
    IoEngine io_engine = IoEngine::kSync;
    std::optional<RateLimiterConfig> rate_limiter;

    Result<void> validate() const;
    bool operator==(const DriveConfig&) const = default;
};

// PATCH /drives/{id}: each set field replaces the current one.
struct DriveUpdate {
    std::string drive_id;
    std::optional<std::string> path_on_host;
    std::optional<RateLimiterConfig> rate_limiter;

    Result<void> validate() const;
};

struct NetConfig {
    std::string iface_id;
    std::string host_dev_name;
    std::optional<std::string> guest_mac;  // "aa:bb:cc:dd:ee:ff"
    std::optional<uint16_t> mtu;
    std::optional<RateLimiterConfig> rx_rate_limiter;
    std::optional<RateLimiterConfig> tx_rate_limiter;

    Result<void> validate() const;
    bool operator==(const NetConfig&) const = default;
};

struct NetUpdate {
    std::string iface_id;
    std::optional<RateLimiterConfig> rx_rate_limiter;
    std::optional<RateLimiterConfig> tx_rate_limiter;

    Result<void> validate() const;
};

struct LoggerConfig {
    std::optional<std::string> log_path;
    std::optional<std::string> level;  // Error, Warning, Info, Debug, Trace, Off.
    bool show_level = false;
    bool show_log_origin = false;
    std::optional<std::string> module;

    bool operator==(const LoggerConfig&) const = default;
};

struct MetricsConfig {
    std::string metrics_path;
    bool operator==(const MetricsConfig&) const = default;
};

struct SerialConfig {
    std::optional<std::string> serial_out_path;
    std::optional<TokenBucketConfig> rate_limiter;
    bool operator==(const SerialConfig&) const = default;
};

// PUT /mmds/config: which interfaces answer the MMDS address, and how (Firecracker's MmdsConfig).
enum class MmdsVersion { kV1, kV2 };
struct MmdsConfig {
    std::vector<std::string> network_interfaces;  // iface_ids; at least one.
    MmdsVersion version = MmdsVersion::kV1;
    std::array<uint8_t, 4> ipv4_address{169, 254, 169, 254};  // Link-local, as Firecracker's.
    bool imds_compat = false;  // IMDS text listings even for Accept: application/json.

    Result<void> validate() const;
    bool operator==(const MmdsConfig&) const = default;
};

// Everything that describes a VM before it starts; GET /vm/config renders it and the config file
// fills it.
struct VmConfig {
    std::optional<BootSourceConfig> boot_source;
    MachineConfig machine;
    std::vector<DriveConfig> drives;
    std::vector<NetConfig> nets;
    std::optional<LoggerConfig> logger;
    std::optional<MetricsConfig> metrics;
    std::optional<SerialConfig> serial;
    std::optional<MmdsConfig> mmds;
    std::optional<CpuConfig> cpu_config;  // PUT /cpu-config; replaces a static template.

    Result<void> validate() const;
    bool operator==(const VmConfig&) const = default;
};

using MacAddress = std::array<uint8_t, 6>;
// "aa:bb:cc:dd:ee:ff" (hex digits in either case): the one parser of guest_mac.
Result<MacAddress> parse_mac(const std::string& text);

// Resource ids (drive_id, iface_id): 1..64 of [A-Za-z0-9_], as Firecracker's checked_id.
Result<void> validate_id(const char* field, const std::string& id);

}  // namespace ember
