// CPU templates (cpu_template.cc, static_cpu_templates.cc) over synthetic host tables: the bits
// Firecracker's templates name, its vendor and model rules, custom templates and their errors.
#include "vmm/arch/x86_64/cpu_template.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "vmm/arch/x86_64/boot.h"

namespace ember::x86 {
namespace {

constexpr uint32_t kAll = 0xffffffff;

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

// Every feature bit set, so that a cleared bit is the template's doing; leaf 1 EAX is the model.
std::vector<kvm_cpuid_entry2> host(bool intel, uint32_t model_eax) {
    return {
        intel ? leaf(0x0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69)   // GenuineIntel
              : leaf(0x0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),  // AuthenticAMD
        leaf(0x1, 0, model_eax, 0x00010800, kAll, kAll),
        leaf(0x7, 0, 0, kAll, kAll, kAll),
        // XCR0: x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM (0xe7); each component's size/offset.
        leaf(0xd, 0, 0xe7, 0, 0, 0),
        leaf(0xd, 1, 0xf, 0, 0, 0),
        leaf(0xd, 2, 256, 576, 0, 0),
        leaf(0xd, 5, 64, 1088, 0, 0),
        leaf(0xd, 6, 512, 1152, 0, 0),
        leaf(0xd, 7, 1024, 1664, 0, 0),
        leaf(0x80000000, 0, 0x80000008, 0, 0, 0),
        leaf(0x80000001, 0, 0, 0, kAll, kAll),
        leaf(0x80000008, 0, 0x3030, kAll, 0, 0),
    };
}

constexpr uint32_t kSkylakeEax = 0x00050654;      // Family 6, model 0x55, stepping 4.
constexpr uint32_t kCascadeLakeEax = 0x00050657;  // Stepping 7.
constexpr uint32_t kMilanEax = 0x00a00f11;        // Family 0x19, model 1.

kvm_cpuid_entry2& find(std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                       uint32_t index = 0) {
    for (auto& e : entries) {
        if (e.function == function && e.index == index) return e;
    }
    throw std::runtime_error("leaf not found");
}

bool bit(uint32_t reg, unsigned n) { return (reg >> n) & 1U; }

std::vector<kvm_cpuid_entry2> templated(CpuTemplate t, bool intel, uint32_t model_eax) {
    std::vector<kvm_cpuid_entry2> cpuid = host(intel, model_eax);
    Result<CpuConfig> config = cpu_template_for_host(t, std::nullopt, cpuid);
    EXPECT_TRUE(config) << config.error().message();
    EXPECT_TRUE(apply_cpuid_modifiers(*config, cpuid));
    return cpuid;
}

TEST(CpuTemplate, T2LooksLikeAHaswellWithoutAvx512) {
    auto cpuid = templated(CpuTemplate::kT2, true, kCascadeLakeEax);
    EXPECT_EQ(find(cpuid, 1).eax, 0x000306f2U);  // Family 6, model 0x3f, stepping 2.
    const auto& l1 = find(cpuid, 1);
    EXPECT_FALSE(bit(l1.ecx, 5));   // VMX
    EXPECT_FALSE(bit(l1.ecx, 3));   // MONITOR
    EXPECT_TRUE(bit(l1.ecx, 28));   // AVX kept.
    EXPECT_TRUE(bit(l1.edx, 12));   // MTRR forced on.
    EXPECT_FALSE(bit(l1.edx, 31));  // PBE
    const auto& l7 = find(cpuid, 7);
    EXPECT_FALSE(bit(l7.ebx, 16));                       // AVX512F
    EXPECT_FALSE(bit(l7.ebx, 29));                       // SHA
    EXPECT_FALSE(bit(l7.ebx, 18));                       // RDSEED
    EXPECT_TRUE(bit(l7.ebx, 5));                         // AVX2 kept.
    EXPECT_TRUE(bit(l7.ebx, 9));                         // ERMS forced on.
    EXPECT_FALSE(bit(l7.ecx, 3));                        // PKU
    EXPECT_FALSE(bit(l7.edx, 4));                        // FSRM
    EXPECT_EQ(find(cpuid, 0xd, 0).eax, 0x7U);            // x87, SSE, AVX only.
    EXPECT_EQ(find(cpuid, 0xd, 1).eax, 0x1U);            // XSAVEOPT only.
    EXPECT_FALSE(bit(find(cpuid, 0x80000001).edx, 26));  // 1 GiB pages.
    EXPECT_FALSE(bit(find(cpuid, 0x80000001).ecx, 8));   // PREFETCHW
    EXPECT_TRUE(bit(find(cpuid, 0x80000001).ecx, 5));    // LZCNT kept.
    EXPECT_FALSE(bit(find(cpuid, 0x80000008).ebx, 9));   // WBNOINVD
    EXPECT_EQ(find(cpuid, 7).flags, 1U);  // KVM_CPUID_FLAG_SIGNIFCANT_INDEX, as the template says.
}

TEST(CpuTemplate, C3AlsoDropsAvx2AndBmi) {
    auto cpuid = templated(CpuTemplate::kC3, true, kSkylakeEax);
    EXPECT_EQ(find(cpuid, 1).eax, 0x000306e4U);  // Ivy Bridge EP.
    EXPECT_FALSE(bit(find(cpuid, 1).ecx, 12));   // FMA
    EXPECT_FALSE(bit(find(cpuid, 1).ecx, 22));   // MOVBE
    EXPECT_TRUE(bit(find(cpuid, 1).edx, 30));    // C3 keeps bit 30, T2 clears it.
    const auto& l7 = find(cpuid, 7);
    for (unsigned b : {3U, 5U, 8U, 10U})
        EXPECT_FALSE(bit(l7.ebx, b)) << b;              // BMI1 AVX2 BMI2 INVPCID
    EXPECT_TRUE(bit(l7.ebx, 9));                        // ERMS passes through.
    EXPECT_FALSE(bit(find(cpuid, 0x80000001).ecx, 5));  // LZCNT
    EXPECT_EQ(find(cpuid, 0x80000008).ebx, kAll);       // No 0x80000008 modifier.
}

TEST(CpuTemplate, T2aMasksAmdOnlyFeaturesAndSetsMilanBits) {
    auto cpuid = templated(CpuTemplate::kT2A, false, kMilanEax);
    EXPECT_EQ(find(cpuid, 1).eax, 0x000306f2U);
    const auto& ext = find(cpuid, 0x80000001);
    for (unsigned b : {2U, 6U, 7U, 8U, 29U}) EXPECT_FALSE(bit(ext.ecx, b)) << b;  // SVM SSE4A...
    for (unsigned b : {22U, 25U, 26U}) EXPECT_FALSE(bit(ext.edx, b)) << b;        // MmxExt FFXSR 1G
    EXPECT_TRUE(bit(ext.edx, 23));  // MMX kept (T2CL clears it: not a Milan-only bit).
    // 0x80000008 EBX: CLZERO and WBNOINVD off; RstrFpErrPtrs, IBRS bits, LMSLE forced on.
    EXPECT_EQ(find(cpuid, 0x80000008).ebx, 0xfffffdfeU);
    auto zero = host(false, kMilanEax);
    find(zero, 0x80000008).ebx = 0;
    ASSERT_TRUE(apply_cpuid_modifiers(static_cpu_template(CpuTemplate::kT2A), zero));
    EXPECT_EQ(find(zero, 0x80000008).ebx, 0x001c0004U);
}

TEST(CpuTemplate, T2clClearsTheAmdNamedExtendedBitsToo) {
    auto cpuid = templated(CpuTemplate::kT2CL, true, kCascadeLakeEax);
    const auto& ext = find(cpuid, 0x80000001);
    for (unsigned b : {6U, 7U, 8U, 29U}) EXPECT_FALSE(bit(ext.ecx, b)) << b;
    EXPECT_TRUE(bit(ext.ecx, 2));  // Reserved on Intel: T2CL leaves it.
    EXPECT_EQ(ext.edx & 0x07c00000U, 0U);
}

TEST(CpuTemplate, IntelTemplatesAreRefusedOnAmdAndT2aOnIntel) {
    const std::string mismatch = "CPU vendor mismatched between actual CPU and CPU template.";
    for (CpuTemplate t :
         {CpuTemplate::kC3, CpuTemplate::kT2, CpuTemplate::kT2S, CpuTemplate::kT2CL}) {
        auto r = cpu_template_for_host(t, std::nullopt, host(false, kMilanEax));
        ASSERT_FALSE(r) << cpu_template_name(t);
        EXPECT_EQ(r.error().detail(), mismatch);
        EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidInput);
    }
    auto r = cpu_template_for_host(CpuTemplate::kT2A, std::nullopt, host(true, kCascadeLakeEax));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail(), mismatch);
}

TEST(CpuTemplate, T2clNeedsCascadeLakeOrLater) {
    auto r = cpu_template_for_host(CpuTemplate::kT2CL, std::nullopt, host(true, kSkylakeEax));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail(),
              "The current CPU model is not permitted to apply the CPU template.");
    EXPECT_TRUE(cpu_template_for_host(CpuTemplate::kT2CL, std::nullopt,
                                      host(true, 0x000606a6)));  // Ice Lake.
    // T2 and T2S take any Intel model.
    EXPECT_TRUE(cpu_template_for_host(CpuTemplate::kT2S, std::nullopt, host(true, kSkylakeEax)));
}

TEST(CpuTemplate, NoneAndUnsetChangeNothing) {
    for (std::optional<CpuTemplate> t :
         {std::optional<CpuTemplate>(), std::optional<CpuTemplate>(CpuTemplate::kNone)}) {
        auto r = cpu_template_for_host(t, std::nullopt, host(false, kMilanEax));
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, CpuConfig{});
    }
}

TEST(CpuTemplate, ACustomTemplateWinsOverAStaticOneAndSkipsItsChecks) {
    CpuConfig custom;
    custom.cpuid_modifiers.push_back({0x7, 0, 1, {{CpuidRegister::kEbx, {1U << 5, 0}}}});
    auto r = cpu_template_for_host(CpuTemplate::kT2, custom, host(false, kMilanEax));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, custom);
}

TEST(CpuTemplate, CustomModifiersKeepTheBitsTheyDoNotName) {
    auto cpuid = host(true, kCascadeLakeEax);
    CpuConfig custom;
    const BitFilter<uint64_t> b = parse_bitmap("0bxxxxxxxxxxxxxxxxxxxxxxxxxx0xxxx1", 32).value();
    const BitFilter<uint32_t> ecx{static_cast<uint32_t>(b.filter), static_cast<uint32_t>(b.value)};
    custom.cpuid_modifiers.push_back({0x1, 0, 0, {{CpuidRegister::kEcx, ecx}}});
    find(cpuid, 1).ecx = 0x30;  // Bit 5 cleared, bit 4 kept, bit 0 set.
    ASSERT_TRUE(apply_cpuid_modifiers(custom, cpuid));
    EXPECT_EQ(find(cpuid, 1).ecx, 0x11U);
}

TEST(CpuTemplate, RefusesALeafTheHostLacks) {
    auto cpuid = host(true, kCascadeLakeEax);
    CpuConfig custom;
    custom.cpuid_modifiers.push_back({0x80000021, 0, 0, {}});
    auto r = apply_cpuid_modifiers(custom, cpuid);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail(),
              "Template changes a CPUID entry not supported by KVM: Leaf: 80000021, Subleaf: 0");
}

TEST(CpuTemplate, AppliedBeforeNormalizationTheXsaveAreaFitsTheMaskedFeatures) {
    auto cpuid = templated(CpuTemplate::kT2, true, kCascadeLakeEax);
    normalize_cpuid(cpuid, 0, 1);
    EXPECT_EQ(supported_xcr0(cpuid), 0x7U);
    EXPECT_EQ(find(cpuid, 0xd, 0).ecx, 832U);  // 576 + AVX's 256, no AVX-512 state.
    EXPECT_TRUE(bit(find(cpuid, 1).ecx, 31));  // Normalization still marks the hypervisor.
}

kvm_msr_entry msr(uint32_t index, uint64_t data) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = data;
    return e;
}

TEST(CpuTemplate, T2sFixesArchCapabilitiesAndT2clKeepsOnlyMitigationBits) {
    const CpuConfig t2s = static_cpu_template(CpuTemplate::kT2S);
    ASSERT_EQ(template_msr_indices(t2s), std::vector<uint32_t>{0x10a});
    auto out = apply_msr_modifiers(t2s, std::vector<kvm_msr_entry>{msr(0x10a, ~uint64_t{0})});
    ASSERT_TRUE(out);
    EXPECT_EQ(out->at(0).data, 0x4080c4cU);

    const CpuConfig t2cl = static_cpu_template(CpuTemplate::kT2CL);
    out = apply_msr_modifiers(t2cl, std::vector<kvm_msr_entry>{msr(0x10a, ~uint64_t{0})});
    ASSERT_TRUE(out);
    const uint64_t v = out->at(0).data;
    EXPECT_EQ(v & 0x1ffU, 0x1ffU);        // RDCL_NO .. TAA_NO pass through.
    EXPECT_EQ(v & (1U << 9), 0U);         // MCU_CONTROL cleared.
    EXPECT_EQ(v & (1U << 26), 1U << 26);  // GDS_NO passes through.
    EXPECT_EQ(v >> 29, 0U);               // Reserved bits cleared.
    EXPECT_TRUE(static_cpu_template(CpuTemplate::kT2).msr_modifiers.empty());
    EXPECT_TRUE(static_cpu_template(CpuTemplate::kT2A).msr_modifiers.empty());
}

TEST(CpuTemplate, RefusesAnMsrTheVcpuDidNotReport) {
    CpuConfig custom;
    custom.msr_modifiers.push_back({0x9999, {1, 1}});
    custom.msr_modifiers.push_back({0x9999, {2, 2}});
    EXPECT_EQ(template_msr_indices(custom), std::vector<uint32_t>{0x9999});
    auto ok_out = apply_msr_modifiers(custom, std::vector<kvm_msr_entry>{msr(0x9999, 0)});
    ASSERT_TRUE(ok_out);
    EXPECT_EQ(ok_out->at(0).data, 3U);  // Both modifiers, in order.
    auto r = apply_msr_modifiers(custom, std::vector<kvm_msr_entry>{});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail(),
              "Template changes an MSR entry not supported by KVM: Register Address: 9999");
}

}  // namespace
}  // namespace ember::x86
