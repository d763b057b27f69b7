#include "vmm/snapshot/describe.h"

#include <fmt/core.h>

#include <cstdio>
#include <ctime>

#include "vmm/snapshot/device_summary.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/mmds_section.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/snapshot/state_sections.h"

namespace ember::snapshot {
namespace {

const char* section_name(uint32_t tag) {
    switch (static_cast<SectionTag>(tag)) {
        case SectionTag::kMachine: return "machine";
        case SectionTag::kVm: return "vm";
        case SectionTag::kVcpu: return "vcpu";
        case SectionTag::kMemoryRegion: return "memory-region";
        case SectionTag::kDevice: return "device";
        case SectionTag::kCreator: return "creator";
        case SectionTag::kMmds: return "mmds";
    }
    return "unknown";
}

const char* mp_state_name(uint32_t state) {
    switch (state) {
        case KVM_MP_STATE_RUNNABLE: return "runnable";
        case KVM_MP_STATE_UNINITIALIZED: return "uninitialized";
        case KVM_MP_STATE_INIT_RECEIVED: return "init-received";
        case KVM_MP_STATE_HALTED: return "halted";
        case KVM_MP_STATE_SIPI_RECEIVED: return "sipi-received";
        default: return "other";
    }
}

std::string utc_time(uint64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string summarize(const Section& s) {
    auto or_error = [](auto decoded, auto format) -> std::string {
        if (!decoded) return "UNREADABLE: " + decoded.error().message();
        return format(*decoded);
    };
    switch (static_cast<SectionTag>(s.tag)) {
        case SectionTag::kCreator:
            return or_error(decode_creator_info(s.payload), [](const CreatorInfo& c) {
                return fmt::format("Ember {}, {}", c.ember_version.empty() ? "?" : c.ember_version,
                                   utc_time(c.created_unix_seconds));
            });
        case SectionTag::kMachine:
            return or_error(decode_machine_info(s.payload), [](const MachineInfo& m) {
                // Hugetlb memory cannot be a file mapping: say so before a File load is tried.
                return fmt::format(
                    "{} vCPUs, {} MiB, SMT {}, huge pages {}{}", m.vcpu_count, m.mem_size_mib,
                    m.smt ? "on" : "off", m.huge_pages,
                    m.huge_pages == "2M" ? " (restores with the Uffd backend only)" : "");
            });
        case SectionTag::kVm:
            return or_error(decode_vm_state(s.payload), [](const kvm::VmState& vm) {
                return fmt::format("PIC master/slave, IOAPIC, PIT (ch0 count {}), kvmclock {} ns{}",
                                   vm.pit.channels[0].count, vm.clock.clock,
                                   vm.has_save_time() ? ", save time known (clock_realtime loads)"
                                                      : ", no save time (no clock_realtime)");
            });
        case SectionTag::kVcpu:
            return or_error(decode_vcpu_state(s.payload), [](const kvm::VcpuState& v) {
                return fmt::format(
                    "vCPU {}: rip {:#x} rsp {:#x} cr0 {:#x} cr3 {:#x}, {}, "
                    "{} CPUID entries, {} MSRs, xsave {} B, TSC {} kHz",
                    v.index, v.regs.rip, v.regs.rsp, v.sregs.cr0, v.sregs.cr3,
                    mp_state_name(v.mp_state.mp_state), v.cpuid.size(), v.msrs.size(),
                    v.xsave.size(), v.tsc_khz);
            });
        case SectionTag::kMemoryRegion:
            return or_error(decode_memory_region(s.payload), [](const MemoryRegionState& r) {
                return fmt::format("gpa [{:#x}, {:#x}) {} MiB at file offset {:#x}", r.gpa,
                                   r.gpa + r.size_bytes, r.size_bytes >> 20, r.file_offset);
            });
        case SectionTag::kMmds:
            return or_error(decode_mmds_config(s.payload), [](const MmdsConfig& m) {
                return summarize_mmds_config(m) + " (data store not saved)";
            });
        case SectionTag::kDevice:
            return or_error(decode_device_state(s.payload), [](const DeviceState& d) {
                std::string summary = summarize_device(d);
                return fmt::format("\"{}\" {} v{}, {} B of state{}{}", d.id, d.type, d.version,
                                   d.data.size(), summary.empty() ? "" : ": ", summary);
            });
    }
    return (s.flags & kSectionMustUnderstand) ? "from a newer Ember, required: load refuses"
                                              : "from a newer Ember, optional: load skips it";
}

}  // namespace

Result<std::string> describe(std::span<const uint8_t> bytes) {
    StateFile file = EMBER_TRY(decode_state_file(bytes));
    std::string out =
        fmt::format("Ember snapshot state: {} bytes, format {}.{}, x86_64, CRC64 ok\n",
                    bytes.size(), file.major, file.minor);
    out += fmt::format("{:>8}  {:>4}  {:<14} {:>8}  {}\n", "offset", "tag", "section", "bytes",
                       "contents");
    for (const Section& s : file.sections) {
        out += fmt::format("{:>8}  {:>4}  {:<14} {:>8}  {}\n", s.file_offset, s.tag,
                           section_name(s.tag), s.payload.size(), summarize(s));
    }
    Result<MachineState> state = decode_machine_state(bytes);
    out += state ? std::string("Check: OK, this Ember can load it\n")
                 : "Check: FAILED, load refuses it: " + state.error().message() + "\n";
    return out;
}

Result<std::string> describe_file(const std::string& path) {
    std::vector<uint8_t> bytes = EMBER_TRY(read_state_file(path));
    Result<std::string> text = describe(bytes);
    if (!text) {
        const Error& e = text.error();
        return Error(e.code(), e.context(), e.detail().empty() ? path : path + ": " + e.detail());
    }
    return text;
}

int describe_snapshot_main(const std::string& path) {
    Result<std::string> text = describe_file(path);
    if (!text) {
        std::fprintf(stderr, "cannot describe the snapshot: %s\n", text.error().message().c_str());
        return 1;
    }
    std::fputs(text->c_str(), stdout);
    return 0;
}

}  // namespace ember::snapshot
