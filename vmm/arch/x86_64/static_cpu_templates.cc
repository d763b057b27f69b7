// Firecracker's static CPU templates (src/vmm/src/cpu_config/x86_64/static_cpu_templates/), as
// filter/value pairs: a 1 in the filter forces that bit to the value's. The bit names are in
// Firecracker's files; here only what each group is for.
#include "vmm/arch/x86_64/cpu_template.h"

namespace ember::x86 {
namespace {

constexpr uint32_t kFlagNone = 0;
constexpr uint32_t kFlagSignificantIndex = 1;  // KVM_CPUID_FLAG_SIGNIFCANT_INDEX
constexpr uint32_t kMsrIa32ArchCapabilities = 0x10a;

CpuidRegisterModifier reg(CpuidRegister r, uint32_t filter, uint32_t value) {
    return {r, {filter, value}};
}

// What T2, T2S, T2CL and T2A share: leaf 1 as a Haswell (family 6, model 0x3f, stepping 2)
// without DTES64/MONITOR/DS-CPL/VMX/SMX/EIST/TM2/CNXT-ID/SDBG/xTPR/PDCM/DCA and the Intel-only
// EDX bits (MCE and MTRR forced on); leaf 7 without SGX/HLE/RTM/RDT/MPX/AVX-512/RDSEED/ADX/
// CLFLUSHOPT/CLWB/PT/SHA/UMIP/PKU/GFNI/VAES/LA57/RDPID... (ERMS forced on); leaf 0xD without
// the MPX, AVX-512 and PKRU state components nor XSAVEC/XGETBV1/XSAVES.
std::vector<CpuidLeafModifier> t2_family_base() {
    using enum CpuidRegister;
    return {
        {0x1,
         0x0,
         kFlagNone,
         {reg(kEax, 0x0fff3fff, 0x000306f2), reg(kEcx, 0x0004cdfc, 0),
          reg(kEdx, 0xe8641080, 0x00001080)}},
        {0x7,
         0x0,
         kFlagSignificantIndex,
         {reg(kEbx, 0xffefda14, 0x00000200), reg(kEcx, 0x40415f5e, 0), reg(kEdx, 0x0000011c, 0)}},
        {0xd, 0x0, kFlagSignificantIndex, {reg(kEax, 0x000002f8, 0)}},
        {0xd, 0x1, kFlagSignificantIndex, {reg(kEax, 0x0000000e, 0)}},
    };
}

// T2 and T2S: no PREFETCHW/MONITORX, no 1-GByte pages, no WBNOINVD.
CpuConfig t2() {
    using enum CpuidRegister;
    CpuConfig c;
    c.cpuid_modifiers = t2_family_base();
    c.cpuid_modifiers.push_back(
        {0x80000001, 0x0, kFlagNone, {reg(kEcx, 0x20000100, 0), reg(kEdx, 0x04000000, 0)}});
    c.cpuid_modifiers.push_back({0x80000008, 0x0, kFlagNone, {reg(kEbx, 0x00000200, 0)}});
    return c;
}

// T2 plus IA32_ARCH_CAPABILITIES fixed to what Skylake and Cascade Lake both have, so that
// snapshots move between them safely.
CpuConfig t2s() {
    CpuConfig c = t2();
    c.msr_modifiers.push_back({kMsrIa32ArchCapabilities, {~uint64_t{0}, 0x0000000004080c4c}});
    return c;
}

// Intel Cascade Lake with the instruction set T2A gives AMD Milan: also no SSE4A/MisAlignSse,
// MmxExt/MMX/FXSR_OPT bits, and the non-mitigation IA32_ARCH_CAPABILITIES bits cleared.
CpuConfig t2cl() {
    using enum CpuidRegister;
    CpuConfig c;
    c.cpuid_modifiers = t2_family_base();
    c.cpuid_modifiers.push_back(
        {0x80000001, 0x0, kFlagNone, {reg(kEcx, 0x200001c0, 0), reg(kEdx, 0x07c00000, 0)}});
    c.cpuid_modifiers.push_back({0x80000008, 0x0, kFlagNone, {reg(kEbx, 0x00000200, 0)}});
    c.msr_modifiers.push_back({kMsrIa32ArchCapabilities, {0xffffffffe2f51e00, 0}});
    return c;
}

// AMD Milan with T2CL's instruction set: also no SVM, SSE4A, MisAlignSse, MmxExt, FFXSR, CLZERO;
// RstrFpErrPtrs, IbrsPreferred, IbrsSameMode and EferLmsleUnsupported forced on.
CpuConfig t2a() {
    using enum CpuidRegister;
    CpuConfig c;
    c.cpuid_modifiers = t2_family_base();
    c.cpuid_modifiers.push_back(
        {0x80000001, 0x0, kFlagNone, {reg(kEcx, 0x200001c4, 0), reg(kEdx, 0x06400000, 0)}});
    c.cpuid_modifiers.push_back({0x80000008, 0x0, kFlagNone, {reg(kEbx, 0x001c0205, 0x001c0004)}});
    return c;
}

// AWS C3 (Ivy Bridge, family 6 model 0x3e stepping 4): T2's masks plus no FMA/MOVBE/BMI1/AVX2/
// BMI2/INVPCID/LZCNT.
CpuConfig c3() {
    using enum CpuidRegister;
    CpuConfig c;
    c.cpuid_modifiers = {
        {0x1,
         0x0,
         kFlagNone,
         {reg(kEax, 0x0fff3fff, 0x000306e4), reg(kEcx, 0x0040dd3c, 0),
          reg(kEdx, 0xa8641080, 0x00001080)}},
        {0x7,
         0x0,
         kFlagSignificantIndex,
         {reg(kEbx, 0xffafdd3c, 0), reg(kEcx, 0x4041481e, 0), reg(kEdx, 0x0000000c, 0)}},
        {0xd, 0x0, kFlagSignificantIndex, {reg(kEax, 0x000002f8, 0)}},
        {0xd, 0x1, kFlagSignificantIndex, {reg(kEax, 0x0000000e, 0)}},
        {0x80000001, 0x0, kFlagNone, {reg(kEcx, 0x00000120, 0), reg(kEdx, 0x04000000, 0)}},
    };
    return c;
}

}  // namespace

CpuConfig static_cpu_template(CpuTemplate t) {
    switch (t) {
        case CpuTemplate::kC3: return c3();
        case CpuTemplate::kT2: return t2();
        case CpuTemplate::kT2S: return t2s();
        case CpuTemplate::kT2CL: return t2cl();
        case CpuTemplate::kT2A: return t2a();
        case CpuTemplate::kNone: break;
    }
    return {};
}

}  // namespace ember::x86
