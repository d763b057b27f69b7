// CPU templates as Firecracker defines them (src/vmm/src/cpu_config/templates.rs and
// x86_64/custom_cpu_template.rs): the static ones named by machine-config's cpu_template, and the
// custom template of PUT /cpu-config, a list of bit modifiers for CPUID leaves and MSRs. Plain
// data and the two text formats both the API and the config file read (numbers with a 0x/0b
// prefix, tri-state bitmaps); applying them is vmm/arch's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace ember {

// Firecracker's StaticCpuTemplate on x86_64. None clears any template, a custom one included.
enum class CpuTemplate { kNone, kC3, kT2, kT2S, kT2CL, kT2A };

// "C3", "T2", ... as the API spells them.
const char* cpu_template_name(CpuTemplate t);
std::optional<CpuTemplate> cpu_template_from_name(std::string_view name);

// Bits of a register to force: where `filter` has a 1 the register takes `value`'s bit, the
// other bits are kept (Firecracker's RegisterValueFilter).
template <typename T>
struct BitFilter {
    T filter = 0;
    T value = 0;

    T apply(T reg) const { return static_cast<T>((reg & ~filter) | value); }
    bool operator==(const BitFilter&) const = default;
};

enum class CpuidRegister { kEax, kEbx, kEcx, kEdx };

struct CpuidRegisterModifier {
    CpuidRegister reg = CpuidRegister::kEax;
    BitFilter<uint32_t> bitmap;
    bool operator==(const CpuidRegisterModifier&) const = default;
};

struct CpuidLeafModifier {
    uint32_t leaf = 0;
    uint32_t subleaf = 0;
    uint32_t flags = 0;  // KVM_CPUID_FLAG_*, written to the entry as given.
    std::vector<CpuidRegisterModifier> modifiers;
    bool operator==(const CpuidLeafModifier&) const = default;
};

struct MsrModifier {
    uint32_t addr = 0;
    BitFilter<uint64_t> bitmap;
    bool operator==(const MsrModifier&) const = default;
};

// "121" requires KVM capability 121 at start; "!121" drops it from the checked list.
struct KvmCapabilityChange {
    uint32_t capability = 0;
    bool remove = false;
    bool operator==(const KvmCapabilityChange&) const = default;
};

// Firecracker's CustomCpuTemplate (x86_64); the static templates are values of it too.
struct CpuConfig {
    std::vector<KvmCapabilityChange> kvm_capabilities;
    std::vector<CpuidLeafModifier> cpuid_modifiers;
    std::vector<MsrModifier> msr_modifiers;
    bool operator==(const CpuConfig&) const = default;
};

// "0b0_1x..." (prefix optional, '_' ignored, 'x' keeps a bit) into a filter of `bits` bits, with
// Firecracker's messages; `bits` is 32 or 64.
Result<BitFilter<uint64_t>> parse_bitmap(std::string_view text, unsigned bits);
// The bitmap back as text: "0b" and one character per bit, most significant first.
std::string bitmap_text(const BitFilter<uint64_t>& bitmap, unsigned bits);
// A leaf, subleaf or MSR address: "0x..." or "0b..." (Firecracker refuses bare decimals).
Result<uint64_t> parse_template_number(std::string_view text, uint64_t max);
// A kvm_capabilities entry.
Result<KvmCapabilityChange> parse_kvm_capability(std::string_view text);

}  // namespace ember
