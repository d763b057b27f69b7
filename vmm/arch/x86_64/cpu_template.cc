#include "vmm/arch/x86_64/cpu_template.h"

#include <fmt/core.h>

#include <algorithm>
#include <tuple>

#include "vmm/base/log.h"

namespace ember::x86 {
namespace {

// The texts of Firecracker's GetCpuTemplateError and CpuConfigurationError; its tests match them.
constexpr const char* kContext = "cpu template";
constexpr const char* kVendorMismatch =
    "CPU vendor mismatched between actual CPU and CPU template.";
constexpr const char* kInvalidModel =
    "The current CPU model is not permitted to apply the CPU template.";

// Leaf 1 EAX as Firecracker's CpuModel orders it: extended family, extended model, family,
// model, stepping, most significant first.
auto cpu_model(uint32_t eax) {
    return std::make_tuple((eax >> 20) & 0xff, (eax >> 16) & 0xf, (eax >> 8) & 0xf,
                           (eax >> 4) & 0xf, eax & 0xf);
}

bool at_least_cascade_lake(const std::vector<kvm_cpuid_entry2>& host) {
    for (const kvm_cpuid_entry2& e : host) {
        if (e.function == 1 && e.index == 0) {
            return cpu_model(e.eax) >= std::make_tuple(0U, 5U, 6U, 5U, 7U);
        }
    }
    return false;
}

uint32_t& register_of(kvm_cpuid_entry2& e, CpuidRegister r) {
    switch (r) {
        case CpuidRegister::kEax: return e.eax;
        case CpuidRegister::kEbx: return e.ebx;
        case CpuidRegister::kEcx: return e.ecx;
        case CpuidRegister::kEdx: break;
    }
    return e.edx;
}

}  // namespace

Result<CpuConfig> cpu_template_for_host(std::optional<CpuTemplate> named,
                                        const std::optional<CpuConfig>& custom,
                                        const std::vector<kvm_cpuid_entry2>& host) {
    if (custom) return *custom;
    if (!named || *named == CpuTemplate::kNone) return CpuConfig{};
    const CpuVendor vendor = cpu_vendor(host);
    const CpuVendor wanted = *named == CpuTemplate::kT2A ? CpuVendor::kAmd : CpuVendor::kIntel;
    if (vendor != wanted) return Error::invalid(kContext, kVendorMismatch);
    if (*named == CpuTemplate::kT2CL && !at_least_cascade_lake(host)) {
        return Error::invalid(kContext, kInvalidModel);
    }
    if (*named == CpuTemplate::kC3 && !at_least_cascade_lake(host)) {
        EMBER_WARN(
            "On processors that do not enumerate FBSDP_NO, PSDP_NO and SBDR_SSDP_NO on "
            "IA32_ARCH_CAPABILITIES MSR, the guest kernel does not apply the mitigation against "
            "MMIO stale data vulnerability.");
    }
    return static_cpu_template(*named);
}

Result<void> apply_cpuid_modifiers(const CpuConfig& config, std::vector<kvm_cpuid_entry2>& cpuid) {
    for (const CpuidLeafModifier& m : config.cpuid_modifiers) {
        auto entry = std::find_if(cpuid.begin(), cpuid.end(), [&](const kvm_cpuid_entry2& e) {
            return e.function == m.leaf && e.index == m.subleaf;
        });
        if (entry == cpuid.end()) {
            return Error::invalid(
                kContext, fmt::format("Template changes a CPUID entry not supported by KVM: Leaf: "
                                      "{:x}, Subleaf: {:x}",
                                      m.leaf, m.subleaf));
        }
        entry->flags = m.flags;
        for (const CpuidRegisterModifier& r : m.modifiers) {
            uint32_t& value = register_of(*entry, r.reg);
            value = r.bitmap.apply(value);
        }
    }
    return ok();
}

std::vector<uint32_t> template_msr_indices(const CpuConfig& config) {
    std::vector<uint32_t> out;
    for (const MsrModifier& m : config.msr_modifiers) {
        if (std::find(out.begin(), out.end(), m.addr) == out.end()) out.push_back(m.addr);
    }
    return out;
}

Result<std::vector<kvm_msr_entry>> apply_msr_modifiers(const CpuConfig& config,
                                                       std::span<const kvm_msr_entry> current) {
    std::vector<kvm_msr_entry> out(current.begin(), current.end());
    for (const MsrModifier& m : config.msr_modifiers) {
        auto entry = std::find_if(out.begin(), out.end(),
                                  [&](const kvm_msr_entry& e) { return e.index == m.addr; });
        if (entry == out.end()) {
            return Error::invalid(
                kContext,
                fmt::format(
                    "Template changes an MSR entry not supported by KVM: Register Address: {:x}",
                    m.addr));
        }
        entry->data = m.bitmap.apply(entry->data);
    }
    return out;
}

}  // namespace ember::x86
