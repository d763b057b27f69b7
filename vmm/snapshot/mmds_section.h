// The MMDS section of a state file (format 1.1): the MMDS configuration, as Firecracker's
// MmdsState carries its version, so the restored interfaces answer MMDS as before. The data
// store is not in it: the orchestrator puts it again after the load, as with Firecracker.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"

namespace ember::snapshot {

std::vector<uint8_t> encode_mmds_config(const MmdsConfig& config);
// Refuses what PUT /mmds/config refuses (no interface, an address that is not link-local, an id
// that is not one) and an unknown version.
Result<MmdsConfig> decode_mmds_config(std::span<const uint8_t> payload);
// "V2, interfaces eth0 eth1, 169.254.169.254, imds_compat off", for --describe-snapshot.
std::string summarize_mmds_config(const MmdsConfig& config);

}  // namespace ember::snapshot
