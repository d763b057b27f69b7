// CPUID normalization (Firecracker docs/cpu_templates/cpuid-normalization.md and
// src/vmm/src/cpu_config/x86_64/cpuid/{normalize,intel,amd}): the guest sees one socket of
// `count` single-threaded cores, vCPU `index` with APIC id `index`, a hypervisor, a TSC deadline
// timer, no PMU and an XSAVE layout (leaf 0xD) that matches the XCR0 Ember gives the vCPU. The
// KVM paravirt leaves (0x40000000..) pass through as KVM reported them.
#include <algorithm>
#include <cstdint>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/cpu_template.h"

namespace ember::x86 {
namespace {

// Leaf 0's vendor string, EBX-EDX-ECX.
constexpr uint32_t kIntelEbx = 0x756e6547;  // "Genu"
constexpr uint32_t kIntelEdx = 0x49656e69;  // "ineI"
constexpr uint32_t kIntelEcx = 0x6c65746e;  // "ntel"
constexpr uint32_t kAmdEbx = 0x68747541;    // "Auth"
constexpr uint32_t kAmdEdx = 0x69746e65;    // "enti"
constexpr uint32_t kAmdEcx = 0x444d4163;    // "cAMD"

constexpr uint32_t kLeaf1EcxPdcm = 1U << 15;
constexpr uint32_t kLeaf1EcxTscDeadline = 1U << 24;
constexpr uint32_t kLeaf1EcxHypervisor = 1U << 31;
constexpr uint32_t kLeaf1EdxHtt = 1U << 28;
constexpr uint32_t kClflushLineSize8Bytes = 8;  // 64-byte lines, in units of 8 bytes.
constexpr uint32_t kLeaf6EaxTurbo = 1U << 1;
constexpr uint32_t kLeaf6EcxEnergyPerfBias = 1U << 3;
constexpr uint32_t kTopologyLevelSmt = 1;
constexpr uint32_t kTopologyLevelCore = 2;
// Intel SDM vol. 1 §13.4: the legacy region (x87, SSE) and the XSAVE header.
constexpr uint32_t kXsaveLegacyAndHeaderBytes = 512 + 64;
constexpr unsigned kFirstExtendedXfeature = 2;
constexpr unsigned kMaxXfeature = 63;

// Replaces bits [lo, lo + width) of `reg` with `value`.
constexpr uint32_t with_bits(uint32_t reg, unsigned lo, unsigned width, uint32_t value) {
    const uint32_t mask = (width >= 32 ? ~0U : ((1U << width) - 1)) << lo;
    return (reg & ~mask) | ((value << lo) & mask);
}

constexpr uint32_t next_pow2(uint32_t n) {
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

// Bits needed to hold ids 0..n-1.
constexpr uint32_t id_bits(uint32_t n) {
    uint32_t bits = 0;
    while ((1U << bits) < n) ++bits;
    return bits;
}

void normalize_feature_leaf(kvm_cpuid_entry2& e, uint32_t index, uint32_t count) {
    const uint32_t logical_ids = std::min<uint32_t>(next_pow2(count), 255);
    e.ebx = with_bits(e.ebx, 8, 8, kClflushLineSize8Bytes);
    e.ebx = with_bits(e.ebx, 16, 8, logical_ids);
    e.ebx = with_bits(e.ebx, 24, 8, index);
    e.ecx &= ~kLeaf1EcxPdcm;
    e.ecx |= kLeaf1EcxTscDeadline | kLeaf1EcxHypervisor;
    if (count > 1) {
        e.edx |= kLeaf1EdxHtt;
    } else {
        e.edx &= ~kLeaf1EdxHtt;
    }
}

// Leaves 0xB and 0x1F: level 0 SMT (one thread per core), level 1 cores (all in one package).
void normalize_topology_leaf(kvm_cpuid_entry2& e, uint32_t index, uint32_t count) {
    e.edx = index;  // x2APIC id on every sub-leaf.
    switch (e.index) {
        case 0:
            e.eax = 0;
            e.ebx = 1;
            e.ecx = kTopologyLevelSmt << 8;
            break;
        case 1:
            e.eax = id_bits(count);
            e.ebx = count;
            e.ecx = (kTopologyLevelCore << 8) | 1;
            break;
        default:  // Invalid level: ends the enumeration.
            e.eax = 0;
            e.ebx = 0;
            e.ecx = e.index & 0xff;
            break;
    }
}

// Intel leaf 4, deterministic cache parameters: L1/L2 private to a core, L3 shared by all.
void normalize_cache_leaf(kvm_cpuid_entry2& e, uint32_t count) {
    if ((e.eax & 0x1f) == 0) return;  // No cache at this sub-leaf.
    const uint32_t level = (e.eax >> 5) & 0x7;
    const uint32_t sharing = level <= 2 ? 1 : std::min<uint32_t>(next_pow2(count), 4096);
    e.eax = with_bits(e.eax, 14, 12, sharing - 1);
    e.eax = with_bits(e.eax, 26, 6, std::min<uint32_t>(next_pow2(count), 64) - 1);
}

const kvm_cpuid_entry2* find_leaf(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                                  uint32_t index) {
    for (const kvm_cpuid_entry2& e : entries) {
        if (e.function == function && e.index == index) return &e;
    }
    return nullptr;
}

}  // namespace

CpuVendor cpu_vendor(const std::vector<kvm_cpuid_entry2>& entries) {
    for (const kvm_cpuid_entry2& e : entries) {
        if (e.function != 0) continue;
        if (e.ebx == kIntelEbx && e.edx == kIntelEdx && e.ecx == kIntelEcx) {
            return CpuVendor::kIntel;
        }
        if (e.ebx == kAmdEbx && e.edx == kAmdEdx && e.ecx == kAmdEcx) return CpuVendor::kAmd;
    }
    return CpuVendor::kOther;
}

uint64_t supported_xcr0(const std::vector<kvm_cpuid_entry2>& entries) {
    const kvm_cpuid_entry2* leaf = find_leaf(entries, 0xd, 0);
    if (leaf == nullptr) return kXcr0X87;
    return ((uint64_t{leaf->edx} << 32) | leaf->eax) | kXcr0X87;
}

uint32_t xsave_size(const std::vector<kvm_cpuid_entry2>& entries, uint64_t xcr0) {
    uint32_t size = kXsaveLegacyAndHeaderBytes;
    for (unsigned i = kFirstExtendedXfeature; i <= kMaxXfeature; ++i) {
        if ((xcr0 & (uint64_t{1} << i)) == 0) continue;
        // Sub-leaf i: EAX the component's size, EBX its offset in the standard format.
        const kvm_cpuid_entry2* component = find_leaf(entries, 0xd, i);
        if (component == nullptr || component->eax == 0) continue;
        size = std::max(size, component->ebx + component->eax);
    }
    return size;
}

void normalize_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t index, uint32_t count) {
    count = std::max<uint32_t>(count, 1);
    const CpuVendor vendor = cpu_vendor(entries);
    for (kvm_cpuid_entry2& e : entries) {
        switch (e.function) {
            case 0x1: normalize_feature_leaf(e, index, count); break;
            case 0x4:
                if (vendor == CpuVendor::kIntel) normalize_cache_leaf(e, count);
                break;
            case 0x6:
                e.eax &= ~kLeaf6EaxTurbo;
                e.ecx &= ~kLeaf6EcxEnergyPerfBias;
                break;
            case 0xa:  // Architectural performance monitoring: none.
                e.eax = e.ebx = e.ecx = e.edx = 0;
                break;
            case 0xb:
            case 0x1f: normalize_topology_leaf(e, index, count); break;
            case 0x80000008:
                if (vendor == CpuVendor::kAmd) {
                    // ECX[7:0] cores - 1, ECX[15:12] APIC id bits.
                    e.ecx = with_bits(e.ecx, 0, 8, count - 1);
                    e.ecx = with_bits(e.ecx, 12, 4, id_bits(count));
                }
                break;
            case 0xd:
                // Sub-leaf 0: EBX is the size for the XCR0 in force, ECX for every supported
                // feature. KVM recomputes EBX when XCR0 changes, but only for an XSETBV it
                // intercepts; the builder enables supported_xcr0() from the start, so the
                // sizes agree before the guest's first XSETBV too.
                if (e.index == 0) {
                    e.ecx = xsave_size(entries, supported_xcr0(entries));
                    e.ebx = e.ecx;
                }
                break;
            case 0x8000001e:
                if (vendor == CpuVendor::kAmd) {
                    e.eax = index;                                  // Extended APIC id.
                    e.ebx = with_bits(e.ebx, 0, 16, index & 0xff);  // Core id, 1 thread per core.
                    e.ecx = with_bits(e.ecx, 0, 11, 0);             // Node 0 of 1.
                }
                break;
            default: break;
        }
    }
}

}  // namespace ember::x86
