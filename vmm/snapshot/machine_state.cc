#include "vmm/snapshot/machine_state.h"

#include <fmt/core.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "vmm/config/vm_config.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/mmds_section.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/snapshot/state_sections.h"

namespace ember::snapshot {
namespace {

static_assert(kMaxSnapshotVcpus == MachineConfig::kMaxVcpus);

Section section(SectionTag tag, uint32_t flags, std::vector<uint8_t> payload) {
    return Section{
        .tag = static_cast<uint32_t>(tag), .flags = flags, .payload = std::move(payload)};
}

// A section that may appear once; a second copy is refused rather than silently winning.
template <typename T>
Result<void> take_once(std::optional<T>& slot, Result<T> decoded, const char* name) {
    if (slot) return Error::invalid("duplicate snapshot section", name);
    slot = EMBER_TRY(std::move(decoded));
    return ok();
}

Result<void> check_vcpus(const MachineInfo& machine, std::vector<kvm::VcpuState>& vcpus) {
    if (machine.vcpu_count < 1 || machine.vcpu_count > kMaxSnapshotVcpus) {
        return Error::invalid(
            "snapshot machine state invalid",
            fmt::format("{} vCPUs, must be 1 to {}", machine.vcpu_count, kMaxSnapshotVcpus));
    }
    if (vcpus.size() != machine.vcpu_count) {
        return Error::invalid("snapshot state inconsistent",
                              fmt::format("machine has {} vCPUs, file holds state for {}",
                                          machine.vcpu_count, vcpus.size()));
    }
    std::sort(vcpus.begin(), vcpus.end(),
              [](const kvm::VcpuState& a, const kvm::VcpuState& b) { return a.index < b.index; });
    for (size_t i = 0; i < vcpus.size(); ++i) {
        if (vcpus[i].index != i) {
            return Error::invalid("snapshot state inconsistent",
                                  fmt::format("vCPU indices are not 0..{}", vcpus.size() - 1));
        }
    }
    return ok();
}

Result<void> check_memory(const MachineInfo& machine, std::vector<MemoryRegionState>& regions) {
    if (regions.empty()) return Error::invalid("snapshot state inconsistent", "no memory regions");
    std::sort(regions.begin(), regions.end(),
              [](const MemoryRegionState& a, const MemoryRegionState& b) { return a.gpa < b.gpa; });
    uint64_t total = 0;
    for (size_t i = 0; i < regions.size(); ++i) {
        const MemoryRegionState& r = regions[i];
        bool aligned = r.gpa % kPageSize == 0 && r.size_bytes % kPageSize == 0 &&
                       r.file_offset % kPageSize == 0;
        bool wraps = r.gpa + r.size_bytes < r.gpa || r.file_offset + r.size_bytes < r.file_offset;
        if (r.size_bytes == 0 || !aligned || wraps) {
            return Error::invalid("snapshot memory region invalid",
                                  fmt::format("gpa {:#x} size {:#x} file offset {:#x}", r.gpa,
                                              r.size_bytes, r.file_offset));
        }
        if (i > 0 && regions[i - 1].gpa + regions[i - 1].size_bytes > r.gpa) {
            return Error::invalid("snapshot memory regions overlap",
                                  fmt::format("at gpa {:#x}", r.gpa));
        }
        total += r.size_bytes;
    }
    // Sorted by file offset, two regions share file bytes only if two neighbours do.
    std::vector<const MemoryRegionState*> by_offset;
    by_offset.reserve(regions.size());
    for (const MemoryRegionState& r : regions) by_offset.push_back(&r);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return a->file_offset < b->file_offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const MemoryRegionState& o = *by_offset[i - 1];
        if (o.file_offset + o.size_bytes > by_offset[i]->file_offset) {
            return Error::invalid("snapshot memory regions share file bytes",
                                  fmt::format("file offset {:#x}", by_offset[i]->file_offset));
        }
    }
    if (total != machine.mem_size_mib << 20) {
        return Error::invalid("snapshot state inconsistent",
                              fmt::format("memory regions hold {} MiB, machine has {} MiB",
                                          total >> 20, machine.mem_size_mib));
    }
    return ok();
}

// Ids are unique per device type only: a drive may be called "serial". Sorted by (type, id), a
// duplicate sits next to its twin.
Result<void> check_devices(const std::vector<DeviceState>& devices) {
    std::vector<const DeviceState*> sorted;
    sorted.reserve(devices.size());
    for (const DeviceState& d : devices) sorted.push_back(&d);
    auto key = [](const DeviceState* d) { return std::tie(d->type, d->id); };
    std::sort(sorted.begin(), sorted.end(),
              [&key](const auto* a, const auto* b) { return key(a) < key(b); });
    for (size_t i = 1; i < sorted.size(); ++i) {
        if (key(sorted[i - 1]) == key(sorted[i])) {
            return Error::invalid("duplicate snapshot device",
                                  sorted[i]->type + " \"" + sorted[i]->id + "\"");
        }
    }
    return ok();
}

// Refuses one more section of a kind that already has `limit`, before decoding it.
Result<void> check_count(size_t count, size_t limit, const char* what) {
    if (count < limit) return ok();
    return Error::invalid("snapshot state has too many sections",
                          fmt::format("more than {} {} sections", limit, what));
}

}  // namespace

std::vector<uint8_t> encode_machine_state(const MachineState& state) {
    // Everything format 1.x writes is needed to restore: an older reader must refuse, not skip.
    constexpr uint32_t kMust = kSectionMustUnderstand;
    StateFile file;
    file.sections.push_back(section(SectionTag::kCreator, 0, encode_creator_info(state.creator)));
    file.sections.push_back(
        section(SectionTag::kMachine, kMust, encode_machine_info(state.machine)));
    file.sections.push_back(section(SectionTag::kVm, kMust, encode_vm_state(state.vm)));
    for (const kvm::VcpuState& vcpu : state.vcpus) {
        file.sections.push_back(section(SectionTag::kVcpu, kMust, encode_vcpu_state(vcpu)));
    }
    for (const MemoryRegionState& region : state.memory) {
        file.sections.push_back(
            section(SectionTag::kMemoryRegion, kMust, encode_memory_region(region)));
    }
    for (const DeviceState& device : state.devices) {
        file.sections.push_back(section(SectionTag::kDevice, kMust, encode_device_state(device)));
    }
    // Only with MMDS, so other snapshots stay loadable by Embers of format 1.0; an older Ember
    // must refuse one with MMDS rather than restore a guest whose metadata service is gone.
    if (state.mmds) {
        file.sections.push_back(section(SectionTag::kMmds, kMust, encode_mmds_config(*state.mmds)));
    }
    return encode_state_file(file);
}

Result<MachineState> decode_machine_state(std::span<const uint8_t> bytes) {
    StateFile file = EMBER_TRY(decode_state_file(bytes));
    std::optional<MachineInfo> machine;
    std::optional<kvm::VmState> vm;
    std::optional<CreatorInfo> creator;
    MachineState state;
    for (const Section& s : file.sections) {
        switch (static_cast<SectionTag>(s.tag)) {
            case SectionTag::kMachine:
                EMBER_TRY(take_once(machine, decode_machine_info(s.payload), "machine"));
                break;
            case SectionTag::kVm: EMBER_TRY(take_once(vm, decode_vm_state(s.payload), "VM")); break;
            case SectionTag::kCreator:
                EMBER_TRY(take_once(creator, decode_creator_info(s.payload), "creator"));
                break;
            case SectionTag::kMmds:
                EMBER_TRY(take_once(state.mmds, decode_mmds_config(s.payload), "MMDS"));
                break;
            case SectionTag::kVcpu:
                EMBER_TRY(check_count(state.vcpus.size(), kMaxSnapshotVcpus, "vCPU"));
                state.vcpus.push_back(EMBER_TRY(decode_vcpu_state(s.payload)));
                break;
            case SectionTag::kMemoryRegion:
                EMBER_TRY(check_count(state.memory.size(), kMaxMemoryRegions, "memory region"));
                state.memory.push_back(EMBER_TRY(decode_memory_region(s.payload)));
                break;
            case SectionTag::kDevice:
                EMBER_TRY(check_count(state.devices.size(), kMaxDevices, "device"));
                state.devices.push_back(EMBER_TRY(decode_device_state(s.payload)));
                break;
            default:
                // Written by a later Ember: skip it, unless the writer said it cannot be ignored.
                if (s.flags & kSectionMustUnderstand) {
                    return Error::invalid("snapshot needs a newer Ember",
                                          fmt::format("section tag {} (format {}.{}) is unknown",
                                                      s.tag, file.major, file.minor));
                }
                break;
        }
    }
    if (!machine) return Error::invalid("snapshot section missing", "machine");
    if (!vm) return Error::invalid("snapshot section missing", "VM");
    state.machine = *machine;
    state.vm = *vm;
    if (creator) state.creator = *creator;
    EMBER_TRY(check_vcpus(state.machine, state.vcpus));
    EMBER_TRY(check_memory(state.machine, state.memory));
    EMBER_TRY(check_devices(state.devices));
    return state;
}

Result<void> save(const std::string& path, const MachineState& state) {
    std::vector<uint8_t> bytes = encode_machine_state(state);
    return write_state_file(path, bytes);
}

Result<MachineState> load(const std::string& path) {
    std::vector<uint8_t> bytes = EMBER_TRY(read_state_file(path));
    Result<MachineState> state = decode_machine_state(bytes);
    if (!state) {
        Error& e = state.error();
        return Error(e.code(), e.context(), e.detail().empty() ? path : path + ": " + e.detail());
    }
    return state;
}

}  // namespace ember::snapshot
