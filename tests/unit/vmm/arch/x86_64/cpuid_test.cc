// normalize_cpuid (cpuid.cc) on synthetic host tables, as KVM_GET_SUPPORTED_CPUID returns them.
#include <gtest/gtest.h>

#include "vmm/arch/x86_64/boot.h"

namespace ember::x86 {
namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                      uint32_t edx) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    e.eax = eax;
    e.ebx = ebx;
    e.ecx = ecx;
    e.edx = edx;
    return e;
}

std::vector<kvm_cpuid_entry2> intel_host() {
    return {
        leaf(0x0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),  // GenuineIntel
        // EBX: host APIC id 0x2a, 0x40 logical ids, CLFLUSH 0x10; ECX with PDCM set.
        leaf(0x1, 0, 0x000906ea, 0x2a401000 | 0x07, 0x7ffafbbf | (1U << 15), 0xbfebfbff),
        leaf(0x4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0),    // L1d, 8 sharing, 8 cores.
        leaf(0x4, 1, 0x1c004122, 0x01c0003f, 0x3f, 0),    // L1i
        leaf(0x4, 2, 0x1c004143, 0x00c0003f, 0x3ff, 0),   // L2
        leaf(0x4, 3, 0x1c03c163, 0x03c0003f, 0x2fff, 6),  // L3
        leaf(0x4, 4, 0, 0, 0, 0),
        leaf(0x6, 0, 0x77, 0x2, 0x9, 0),
        leaf(0xa, 0, 0x07300404, 0, 0, 0x603),
        leaf(0xb, 0, 0x1, 0x2, 0x100, 0x2a),
        leaf(0xb, 1, 0x4, 0xc, 0x201, 0x2a),
        leaf(0xb, 2, 0, 0, 0x2, 0x2a),
        leaf(0x1f, 0, 0x1, 0x2, 0x100, 0x2a),
        leaf(0x1f, 1, 0x4, 0xc, 0x201, 0x2a),
        leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),  // "KVMKVMKVM"
        leaf(0x40000001, 0, 0x01007afb, 0, 0, 0),
        leaf(0x80000000, 0, 0x80000008, 0, 0, 0),
        leaf(0x80000008, 0, 0x3027, 0, 0, 0),
    };
}

std::vector<kvm_cpuid_entry2> amd_host() {
    return {
        leaf(0x0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),  // AuthenticAMD
        leaf(0x1, 0, 0x00a20f10, 0x05100800, 0x7ed8320b, 0x178bfbff),
        leaf(0x80000000, 0, 0x80000021, 0, 0, 0),
        leaf(0x80000008, 0, 0x3030, 0, 0x700f, 0),
        leaf(0x8000001e, 0, 0xb, 0x105, 0x300, 0),
    };
}

const kvm_cpuid_entry2& find(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                             uint32_t index = 0) {
    for (const auto& e : entries) {
        if (e.function == function && e.index == index) return e;
    }
    throw std::runtime_error("leaf not found");
}

TEST(Cpuid, SetsTheHypervisorAndTscDeadlineBitsAndClearsPdcm) {
    auto entries = intel_host();
    normalize_cpuid(entries, 0, 1);
    const auto& l1 = find(entries, 1);
    EXPECT_NE(l1.ecx & (1U << 31), 0U);
    EXPECT_NE(l1.ecx & (1U << 24), 0U);
    EXPECT_EQ(l1.ecx & (1U << 15), 0U);
}

TEST(Cpuid, GivesEachVcpuItsOwnApicId) {
    for (uint32_t index : {0U, 1U, 5U, 31U}) {
        auto entries = intel_host();
        normalize_cpuid(entries, index, 32);
        const auto& l1 = find(entries, 1);
        EXPECT_EQ(l1.ebx >> 24, index);
        EXPECT_EQ((l1.ebx >> 16) & 0xff, 32U);
        EXPECT_EQ((l1.ebx >> 8) & 0xff, 8U);  // 64-byte CLFLUSH lines.
        EXPECT_EQ(l1.ebx & 0xff, 0x07U);      // Brand index untouched.
        EXPECT_NE(l1.edx & (1U << 28), 0U);   // HTT: more than one logical CPU.
        for (uint32_t sub : {0U, 1U, 2U}) EXPECT_EQ(find(entries, 0xb, sub).edx, index);
        for (uint32_t sub : {0U, 1U}) EXPECT_EQ(find(entries, 0x1f, sub).edx, index);
    }
}

TEST(Cpuid, ClearsHttForASingleVcpu) {
    auto entries = intel_host();
    normalize_cpuid(entries, 0, 1);
    EXPECT_EQ(find(entries, 1).edx & (1U << 28), 0U);
    EXPECT_EQ((find(entries, 1).ebx >> 16) & 0xff, 1U);
}

TEST(Cpuid, DescribesOneSocketOfSingleThreadedCores) {
    auto entries = intel_host();
    normalize_cpuid(entries, 3, 6);
    const auto& smt = find(entries, 0xb, 0);
    EXPECT_EQ(smt.eax, 0U);
    EXPECT_EQ(smt.ebx, 1U);
    EXPECT_EQ(smt.ecx, 0x100U);
    const auto& core = find(entries, 0xb, 1);
    EXPECT_EQ(core.eax, 3U);  // 6 cores need 3 bits of APIC id.
    EXPECT_EQ(core.ebx, 6U);
    EXPECT_EQ(core.ecx, 0x201U);
    const auto& end = find(entries, 0xb, 2);
    EXPECT_EQ(end.ebx, 0U);
    EXPECT_EQ((end.ecx >> 8) & 0xff, 0U);
}

TEST(Cpuid, RewritesIntelCacheSharing) {
    auto entries = intel_host();
    normalize_cpuid(entries, 0, 4);
    for (uint32_t sub : {0U, 1U, 2U}) {
        const auto& cache = find(entries, 0x4, sub);
        EXPECT_EQ((cache.eax >> 14) & 0xfff, 0U) << sub;  // L1/L2: one thread each.
        EXPECT_EQ(cache.eax >> 26, 3U) << sub;            // Four cores in the package.
        EXPECT_EQ(cache.eax & 0x3fff, find(intel_host(), 0x4, sub).eax & 0x3fff);
    }
    EXPECT_EQ((find(entries, 0x4, 3).eax >> 14) & 0xfff, 3U);  // L3 shared by all four.
    EXPECT_EQ(find(entries, 0x4, 4).eax, 0U);
}

TEST(Cpuid, HidesThePmuAndTurbo) {
    auto entries = intel_host();
    normalize_cpuid(entries, 0, 2);
    const auto& pmu = find(entries, 0xa);
    EXPECT_EQ(pmu.eax | pmu.ebx | pmu.ecx | pmu.edx, 0U);
    EXPECT_EQ(find(entries, 0x6).eax & 0x2, 0U);
    EXPECT_EQ(find(entries, 0x6).eax & 0x1, 0x1U);  // Other thermal bits kept.
}

TEST(Cpuid, KeepsTheKvmParavirtLeaves) {
    auto entries = intel_host();
    const auto host = intel_host();
    normalize_cpuid(entries, 1, 2);
    ASSERT_EQ(entries.size(), host.size());
    for (uint32_t function : {0x40000000U, 0x40000001U}) {
        const auto& before = find(host, function);
        const auto& after = find(entries, function);
        EXPECT_EQ(after.eax, before.eax);
        EXPECT_EQ(after.ebx, before.ebx);
        EXPECT_EQ(after.ecx, before.ecx);
        EXPECT_EQ(after.edx, before.edx);
    }
}

TEST(Cpuid, LeavesAmdLeavesAloneOnIntel) {
    auto entries = intel_host();
    normalize_cpuid(entries, 1, 2);
    EXPECT_EQ(find(entries, 0x80000008).ecx, 0U);
}

TEST(Cpuid, SetsAmdCoreCountAndExtendedApicIds) {
    auto entries = amd_host();
    normalize_cpuid(entries, 5, 8);
    const auto& size = find(entries, 0x80000008);
    EXPECT_EQ(size.ecx & 0xff, 7U);
    EXPECT_EQ((size.ecx >> 12) & 0xf, 3U);
    const auto& ext = find(entries, 0x8000001e);
    EXPECT_EQ(ext.eax, 5U);
    EXPECT_EQ(ext.ebx & 0xff, 5U);
    EXPECT_EQ((ext.ebx >> 8) & 0xff, 0U);  // One thread per core.
    EXPECT_EQ(ext.ecx & 0x7ff, 0U);
    EXPECT_EQ(find(entries, 1).ebx >> 24, 5U);
}

// Leaf 0xD as KVM reports it inside the nested sandbox (AMD EPYC model under QEMU TCG): x87, SSE
// and AVX supported (EAX 7), EBX sized for XCR0 = x87 (0x240) although ECX says 0x340 for all.
std::vector<kvm_cpuid_entry2> xsave_host(uint32_t ebx0) {
    auto entries = amd_host();
    entries.push_back(leaf(0xd, 0, 0x7, ebx0, 0x340, 0));
    entries.push_back(leaf(0xd, 1, 0x1, 0, 0, 0));        // XSAVEOPT only.
    entries.push_back(leaf(0xd, 2, 0x100, 0x240, 0, 0));  // AVX: 256 bytes at 576.
    return entries;
}

TEST(Cpuid, SizesTheXsaveAreaForTheXcr0TheVcpuStartsWith) {
    auto entries = xsave_host(0x240);
    normalize_cpuid(entries, 0, 2);
    EXPECT_EQ(supported_xcr0(entries), 0x7U);
    const auto& d0 = find(entries, 0xd, 0);
    EXPECT_EQ(d0.eax, 0x7U);
    EXPECT_EQ(d0.ecx, 0x340U);  // 512 legacy + 64 header + 256 AVX.
    EXPECT_EQ(d0.ebx, d0.ecx);  // The XCR0 the builder sets: every supported feature.
    EXPECT_EQ(find(entries, 0xd, 2).ebx, 0x240U);  // Component offsets untouched.
}

TEST(Cpuid, XsaveSizeFollowsTheFurthestEnabledComponent) {
    auto entries = xsave_host(0x240);
    // AVX-512: opmask (64 bytes at 0x440), ZMM_Hi256 (512 at 0x480), Hi16_ZMM (1024 at 0x680).
    entries.push_back(leaf(0xd, 5, 0x40, 0x440, 0, 0));
    entries.push_back(leaf(0xd, 6, 0x200, 0x480, 0, 0));
    entries.push_back(leaf(0xd, 7, 0x400, 0x680, 0, 0));
    EXPECT_EQ(xsave_size(entries, 0x1), 0x240U);
    EXPECT_EQ(xsave_size(entries, 0x3), 0x240U);
    EXPECT_EQ(xsave_size(entries, 0x7), 0x340U);
    EXPECT_EQ(xsave_size(entries, 0xe7), 0xa80U);
    // A feature without a sub-leaf adds nothing rather than reading past the table.
    EXPECT_EQ(xsave_size(entries, 0x7 | (1ULL << 9)), 0x340U);
}

TEST(Cpuid, SupportedXcr0AlwaysHasX87AndTheUpperHalf) {
    auto entries = amd_host();
    EXPECT_EQ(supported_xcr0(entries), kXcr0X87);  // No leaf 0xD: x87 only.
    entries.push_back(leaf(0xd, 0, 0x6, 0x240, 0x340, 0x1));
    EXPECT_EQ(supported_xcr0(entries), 0x100000007ULL);
}

}  // namespace
}  // namespace ember::x86
