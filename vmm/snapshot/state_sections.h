// Encoding and decoding of each state file section on its own. machine_state.cc assembles them;
// describe.cc decodes them one by one to print what a file holds.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {

std::vector<uint8_t> encode_machine_info(const MachineInfo& info);
std::vector<uint8_t> encode_vm_state(const kvm::VmState& vm);
std::vector<uint8_t> encode_vcpu_state(const kvm::VcpuState& vcpu);
std::vector<uint8_t> encode_memory_region(const MemoryRegionState& region);
std::vector<uint8_t> encode_device_state(const DeviceState& device);
std::vector<uint8_t> encode_creator_info(const CreatorInfo& creator);

Result<MachineInfo> decode_machine_info(std::span<const uint8_t> payload);
Result<kvm::VmState> decode_vm_state(std::span<const uint8_t> payload);
Result<kvm::VcpuState> decode_vcpu_state(std::span<const uint8_t> payload);
Result<MemoryRegionState> decode_memory_region(std::span<const uint8_t> payload);
Result<DeviceState> decode_device_state(std::span<const uint8_t> payload);
Result<CreatorInfo> decode_creator_info(std::span<const uint8_t> payload);

}  // namespace ember::snapshot
