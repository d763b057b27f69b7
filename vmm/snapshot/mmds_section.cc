#include "vmm/snapshot/mmds_section.h"

#include <fmt/core.h>

#include <string_view>

#include "vmm/persist/state_fields.h"

namespace ember::snapshot {
namespace {

// Field tags. Fields added later must be read with Presence::kOptional.
constexpr uint32_t kVersion = 1, kInterfaces = 2, kIpv4 = 3, kImdsCompat = 4;
// Interface ids are [A-Za-z0-9_] (validate_id), so a comma separates them unambiguously.
constexpr char kSeparator = ',';

constexpr uint32_t version_number(MmdsVersion v) { return v == MmdsVersion::kV2 ? 2 : 1; }

}  // namespace

std::vector<uint8_t> encode_mmds_config(const MmdsConfig& config) {
    std::string ifaces;
    for (const std::string& id : config.network_interfaces) {
        if (!ifaces.empty()) ifaces += kSeparator;
        ifaces += id;
    }
    FieldWriter w;
    w.u32(kVersion, version_number(config.version));
    w.str(kInterfaces, ifaces);
    w.pod(kIpv4, config.ipv4_address);
    w.u32(kImdsCompat, config.imds_compat ? 1 : 0);
    return w.take();
}

Result<MmdsConfig> decode_mmds_config(std::span<const uint8_t> payload) {
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "MMDS"));
    MmdsConfig config;
    uint32_t version = 0;
    std::string ifaces;
    uint32_t imds_compat = 0;
    EMBER_TRY(r.u32(kVersion, version, Presence::kRequired));
    EMBER_TRY(r.str(kInterfaces, ifaces, Presence::kRequired));
    EMBER_TRY(r.pod(kIpv4, config.ipv4_address, Presence::kRequired));
    EMBER_TRY(r.u32(kImdsCompat, imds_compat, Presence::kRequired));
    if (version != 1 && version != 2) {
        return Error::invalid("snapshot MMDS state invalid", fmt::format("version {}", version));
    }
    config.version = version == 2 ? MmdsVersion::kV2 : MmdsVersion::kV1;
    config.imds_compat = imds_compat != 0;
    // Linear: each id is checked as it is split off.
    std::string_view rest = ifaces;
    while (!rest.empty()) {
        size_t end = rest.find(kSeparator);
        std::string id(rest.substr(0, end));
        Result<void> valid = validate_id("network_interfaces", id);
        if (!valid) return valid.error().within("snapshot MMDS state invalid");
        config.network_interfaces.push_back(std::move(id));
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        if (end != std::string_view::npos && rest.empty()) {
            return Error::invalid("snapshot MMDS state invalid", "an empty interface id");
        }
    }
    Result<void> valid = config.validate();
    if (!valid) return valid.error().within("snapshot MMDS state invalid");
    return config;
}

std::string summarize_mmds_config(const MmdsConfig& config) {
    std::string ifaces;
    for (const std::string& id : config.network_interfaces) ifaces += " " + id;
    const auto& ip = config.ipv4_address;
    return fmt::format("V{}, interfaces{}, {}.{}.{}.{}, imds_compat {}",
                       version_number(config.version), ifaces, ip[0], ip[1], ip[2], ip[3],
                       config.imds_compat ? "on" : "off");
}

}  // namespace ember::snapshot
