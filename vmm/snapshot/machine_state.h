// MachineState: everything a snapshot restores apart from guest memory contents, as plain structs,
// and its state file: snapshot::save(path, state) and snapshot::load(path). load() checks the whole
// file (container, every section, cross-section consistency) before returning anything, so a
// caller that gets a MachineState can apply it without finding a problem half way. Its checks are
// O(n log n) in the counts below, each bounded and refused as soon as a file exceeds it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/kvm/vcpu_state.h"
#include "vmm/kvm/vm_state.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

// The machine configuration the VM was built with (Firecracker's vm_info).
struct MachineInfo {
    uint32_t vcpu_count = 1;
    uint64_t mem_size_mib = 128;
    bool smt = false;
    std::string huge_pages = "None";  // Firecracker's names: None, 2M.
};

// One guest RAM region and where its bytes sit in the memory file.
struct MemoryRegionState {
    uint64_t gpa = 0;
    uint64_t size_bytes = 0;
    uint64_t file_offset = 0;
    bool operator==(const MemoryRegionState&) const = default;
};

// Who wrote the file; informational only.
struct CreatorInfo {
    std::string ember_version;
    uint64_t created_unix_seconds = 0;
};

struct MachineState {
    MachineInfo machine;
    // As Firecracker's MmdsState: the MMDS configuration, never its data store (the orchestrator
    // puts that again after the load). Absent in snapshots of VMs without MMDS and of older Embers.
    std::optional<MmdsConfig> mmds;
    kvm::VmState vm;
    std::vector<kvm::VcpuState> vcpus;  // In vCPU index order.
    std::vector<MemoryRegionState> memory;
    std::vector<DeviceState> devices;
    CreatorInfo creator;
};

// What one state file may hold. vCPUs: MachineConfig::kMaxVcpus. Memory regions: Ember writes two
// (below and above the 32-bit MMIO gap). Devices: Ember has at most 23 (4 legacy ones and one
// virtio device per free legacy GSI). Device ids are 1 to 64 characters in the API, as types are.
inline constexpr uint32_t kMaxSnapshotVcpus = 32;
inline constexpr size_t kMaxMemoryRegions = 64;
inline constexpr size_t kMaxDevices = 64;
inline constexpr size_t kMaxDeviceNameBytes = 64;

// Section tags of format 1.x. Never reuse a number.
enum class SectionTag : uint32_t {
    kMachine = 1,
    kVm = 2,
    kVcpu = 3,
    kMemoryRegion = 4,
    kDevice = 5,
    kCreator = 6,
    kMmds = 7,  // Since format 1.1; only in snapshots of VMs with MMDS.
};

std::vector<uint8_t> encode_machine_state(const MachineState& state);
Result<MachineState> decode_machine_state(std::span<const uint8_t> bytes);

Result<void> save(const std::string& path, const MachineState& state);
Result<MachineState> load(const std::string& path);

}  // namespace ember::snapshot
