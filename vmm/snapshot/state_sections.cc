#include "vmm/snapshot/state_sections.h"

#include <fmt/core.h>

#include "vmm/persist/state_fields.h"

namespace ember::snapshot {
namespace {

// Field tags inside each section. Fields added later must be read with Presence::kOptional.
namespace machine_field {
constexpr uint32_t kVcpuCount = 1, kMemSizeMib = 2, kSmt = 3, kHugePages = 4;
}
namespace vm_field {
constexpr uint32_t kPicMaster = 1, kPicSlave = 2, kIoapic = 3, kPit = 4, kClock = 5,
                   kHostRealtimeNs = 6;  // Since Ember's clock_realtime; absent before.
}
namespace vcpu_field {
constexpr uint32_t kIndex = 1, kRegs = 2, kSregs = 3, kFpu = 4, kXsave = 5, kXcrs = 6, kMsrs = 7,
                   kLapic = 8, kMpState = 9, kEvents = 10, kDebugregs = 11, kCpuid = 12,
                   kTscKhz = 13;
}
namespace region_field {
constexpr uint32_t kGpa = 1, kSize = 2, kFileOffset = 3;
}
namespace device_field {
constexpr uint32_t kId = 1, kType = 2, kVersion = 3, kData = 4;
}
namespace creator_field {
constexpr uint32_t kEmberVersion = 1, kCreatedUnixSeconds = 2;
}

constexpr Presence kReq = Presence::kRequired;
constexpr Presence kOpt = Presence::kOptional;

}  // namespace

std::vector<uint8_t> encode_machine_info(const MachineInfo& info) {
    using namespace machine_field;
    FieldWriter w;
    w.u32(kVcpuCount, info.vcpu_count);
    w.u64(kMemSizeMib, info.mem_size_mib);
    w.u32(kSmt, info.smt ? 1 : 0);
    w.str(kHugePages, info.huge_pages);
    return w.take();
}

Result<MachineInfo> decode_machine_info(std::span<const uint8_t> payload) {
    using namespace machine_field;
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "machine"));
    MachineInfo info;
    uint32_t smt = 0;
    EMBER_TRY(r.u32(kVcpuCount, info.vcpu_count, kReq));
    EMBER_TRY(r.u64(kMemSizeMib, info.mem_size_mib, kReq));
    EMBER_TRY(r.u32(kSmt, smt, kReq));
    EMBER_TRY(r.str(kHugePages, info.huge_pages, kReq));
    info.smt = smt != 0;
    return info;
}

std::vector<uint8_t> encode_vm_state(const kvm::VmState& vm) {
    using namespace vm_field;
    FieldWriter w;
    w.pod(kPicMaster, vm.pic_master);
    w.pod(kPicSlave, vm.pic_slave);
    w.pod(kIoapic, vm.ioapic);
    w.pod(kPit, vm.pit);
    w.pod(kClock, vm.clock);
    w.u64(kHostRealtimeNs, vm.host_realtime_ns);
    return w.take();
}

Result<kvm::VmState> decode_vm_state(std::span<const uint8_t> payload) {
    using namespace vm_field;
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "VM"));
    kvm::VmState vm;
    EMBER_TRY(r.pod(kPicMaster, vm.pic_master, kReq));
    EMBER_TRY(r.pod(kPicSlave, vm.pic_slave, kReq));
    EMBER_TRY(r.pod(kIoapic, vm.ioapic, kReq));
    EMBER_TRY(r.pod(kPit, vm.pit, kReq));
    EMBER_TRY(r.pod(kClock, vm.clock, kReq));
    EMBER_TRY(r.u64(kHostRealtimeNs, vm.host_realtime_ns, kOpt));
    return vm;
}

std::vector<uint8_t> encode_vcpu_state(const kvm::VcpuState& s) {
    using namespace vcpu_field;
    FieldWriter w;
    w.u32(kIndex, s.index);
    w.pod(kRegs, s.regs);
    w.pod(kSregs, s.sregs);
    w.pod(kFpu, s.fpu);
    w.bytes(kXsave, s.xsave);
    w.pod(kXcrs, s.xcrs);
    w.pod_array<kvm_msr_entry>(kMsrs, s.msrs);
    w.pod(kLapic, s.lapic);
    w.pod(kMpState, s.mp_state);
    w.pod(kEvents, s.events);
    w.pod(kDebugregs, s.debugregs);
    w.pod_array<kvm_cpuid_entry2>(kCpuid, s.cpuid);
    w.u32(kTscKhz, s.tsc_khz);
    return w.take();
}

Result<kvm::VcpuState> decode_vcpu_state(std::span<const uint8_t> payload) {
    using namespace vcpu_field;
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "vCPU"));
    kvm::VcpuState s;
    EMBER_TRY(r.u32(kIndex, s.index, kReq));
    EMBER_TRY(r.pod(kRegs, s.regs, kReq));
    EMBER_TRY(r.pod(kSregs, s.sregs, kReq));
    EMBER_TRY(r.pod(kFpu, s.fpu, kReq));
    EMBER_TRY(r.bytes(kXsave, s.xsave, kReq));
    EMBER_TRY(r.pod(kXcrs, s.xcrs, kReq));
    EMBER_TRY(r.pod_array(kMsrs, s.msrs, kReq));
    EMBER_TRY(r.pod(kLapic, s.lapic, kReq));
    EMBER_TRY(r.pod(kMpState, s.mp_state, kReq));
    EMBER_TRY(r.pod(kEvents, s.events, kReq));
    EMBER_TRY(r.pod(kDebugregs, s.debugregs, kReq));
    EMBER_TRY(r.pod_array(kCpuid, s.cpuid, kReq));
    EMBER_TRY(r.u32(kTscKhz, s.tsc_khz, kOpt));
    // KVM takes at least a 4 KiB xsave area, in 4-byte words.
    if (s.xsave.size() < 4096 || s.xsave.size() % 4 != 0) {
        return Error::invalid(
            "snapshot vCPU state invalid",
            fmt::format("vCPU {}: xsave area of {} bytes", s.index, s.xsave.size()));
    }
    if (s.xcrs.nr_xcrs > KVM_MAX_XCRS) {
        return Error::invalid("snapshot vCPU state invalid",
                              fmt::format("vCPU {}: {} XCRs", s.index, s.xcrs.nr_xcrs));
    }
    return s;
}

std::vector<uint8_t> encode_memory_region(const MemoryRegionState& region) {
    using namespace region_field;
    FieldWriter w;
    w.u64(kGpa, region.gpa);
    w.u64(kSize, region.size_bytes);
    w.u64(kFileOffset, region.file_offset);
    return w.take();
}

Result<MemoryRegionState> decode_memory_region(std::span<const uint8_t> payload) {
    using namespace region_field;
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "memory region"));
    MemoryRegionState region;
    EMBER_TRY(r.u64(kGpa, region.gpa, kReq));
    EMBER_TRY(r.u64(kSize, region.size_bytes, kReq));
    EMBER_TRY(r.u64(kFileOffset, region.file_offset, kReq));
    return region;
}

std::vector<uint8_t> encode_device_state(const DeviceState& device) {
    using namespace device_field;
    FieldWriter w;
    w.str(kId, device.id);
    w.str(kType, device.type);
    w.u32(kVersion, device.version);
    w.bytes(kData, device.data);
    return w.take();
}

Result<DeviceState> decode_device_state(std::span<const uint8_t> payload) {
    using namespace device_field;
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "device"));
    DeviceState device;
    EMBER_TRY(r.str(kId, device.id, kReq));
    EMBER_TRY(r.str(kType, device.type, kReq));
    EMBER_TRY(r.u32(kVersion, device.version, kReq));
    EMBER_TRY(r.bytes(kData, device.data, kReq));
    if (device.id.empty() || device.type.empty()) {
        return Error::invalid("snapshot device state invalid", "empty device id or type");
    }
    // Errors quote them: a bound keeps a crafted name from filling a log line or an API reply.
    if (device.id.size() > kMaxDeviceNameBytes || device.type.size() > kMaxDeviceNameBytes) {
        return Error::invalid(
            "snapshot device state invalid",
            fmt::format("device id of {} bytes or type of {}, at most {} each", device.id.size(),
                        device.type.size(), kMaxDeviceNameBytes));
    }
    return device;
}

std::vector<uint8_t> encode_creator_info(const CreatorInfo& creator) {
    using namespace creator_field;
    FieldWriter w;
    w.str(kEmberVersion, creator.ember_version);
    w.u64(kCreatedUnixSeconds, creator.created_unix_seconds);
    return w.take();
}

Result<CreatorInfo> decode_creator_info(std::span<const uint8_t> payload) {
    using namespace creator_field;
    FieldReader r = EMBER_TRY(FieldReader::parse(payload, "creator"));
    CreatorInfo creator;
    EMBER_TRY(r.str(kEmberVersion, creator.ember_version, kOpt));
    EMBER_TRY(r.u64(kCreatedUnixSeconds, creator.created_unix_seconds, kOpt));
    return creator;
}

}  // namespace ember::snapshot
