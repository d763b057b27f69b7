// CPU templates on x86_64, as Firecracker applies them (src/vmm/src/cpu_config/x86_64/mod.rs and
// custom_cpu_template.rs): the template in force is the custom one if set, else the static one
// the host may take; its CPUID modifiers change the host-supported table before normalize_cpuid()
// (so leaf 0xD is sized for the masked XCR0), and its MSR modifiers change the values the vCPU
// reports before KVM_SET_MSRS. A leaf or MSR the host lacks refuses the start. Pure functions
// over the tables KVM returned: no ioctls here.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/config/cpu_config.h"

namespace ember::x86 {

enum class CpuVendor { kIntel, kAmd, kOther };
// From leaf 0's vendor string.
CpuVendor cpu_vendor(const std::vector<kvm_cpuid_entry2>& entries);

// Firecracker's tables (static_cpu_templates/{c3,t2,t2s,t2cl,t2a}.rs); kNone is empty.
CpuConfig static_cpu_template(CpuTemplate t);

// The template to apply for `host` (KVM_GET_SUPPORTED_CPUID): `custom` when set; else the static
// one `named`, refused as Firecracker refuses it (Intel-only templates on other vendors, T2A on
// non-AMD, T2CL before Cascade Lake); else an empty template.
Result<CpuConfig> cpu_template_for_host(std::optional<CpuTemplate> named,
                                        const std::optional<CpuConfig>& custom,
                                        const std::vector<kvm_cpuid_entry2>& host);

// Applies the CPUID modifiers to `cpuid` in order (flags replaced, bitmaps over each register).
Result<void> apply_cpuid_modifiers(const CpuConfig& config, std::vector<kvm_cpuid_entry2>& cpuid);

// The MSR addresses the template changes, in its order, each once.
std::vector<uint32_t> template_msr_indices(const CpuConfig& config);
// The template's MSR values: each modifier over the value in `current` (what the vCPU reported
// for template_msr_indices()).
Result<std::vector<kvm_msr_entry>> apply_msr_modifiers(const CpuConfig& config,
                                                       std::span<const kvm_msr_entry> current);

}  // namespace ember::x86
