// boot_regs/boot_sregs/boot_fpu/boot_msrs (regs.cc), the GDT (gdt.cc) and the LAPIC (lapic.cc).
#include "vmm/arch/x86_64/regs.h"

#include <gtest/gtest.h>

#include <cstring>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/gdt.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {
namespace {

LoadedKernel kernel_with(BootProtocol protocol, uint64_t entry) {
    LoadedKernel kernel;
    kernel.protocol = protocol;
    kernel.entry = GuestAddress(entry);
    return kernel;
}

// KVM_GET_SREGS right after KVM_CREATE_VCPU: real mode, CR0 = CD | NW | ET.
kvm_sregs reset_sregs() {
    kvm_sregs sregs{};
    sregs.cr0 = 0x60000010;
    return sregs;
}

TEST(BootRegs, EntersLinuxAtTheEntryWithTheZeroPageInRsi) {
    const kvm_regs regs = boot_regs(kernel_with(BootProtocol::kLinux64, 0x1000000));
    EXPECT_EQ(regs.rip, 0x1000000U);
    EXPECT_EQ(regs.rsi, 0x7000U);
    EXPECT_EQ(regs.rsp, 0x8ff0U);
    EXPECT_EQ(regs.rbp, 0x8ff0U);
    EXPECT_EQ(regs.rflags, 0x2U);
}

TEST(BootRegs, EntersPvhWithTheStartInfoInRbx) {
    const kvm_regs regs = boot_regs(kernel_with(BootProtocol::kPvh, 0x1000abc));
    EXPECT_EQ(regs.rip, 0x1000abcU);
    EXPECT_EQ(regs.rbx, 0x6000U);
    EXPECT_EQ(regs.rflags, 0x2U);
}

TEST(BootSregs, PutsLinuxInLongModeWithTheIdentityMap) {
    kvm_sregs sregs = reset_sregs();
    boot_sregs(kernel_with(BootProtocol::kLinux64, 0x1000000), sregs);
    EXPECT_NE(sregs.cr0 & kCr0Pe, 0U);
    EXPECT_NE(sregs.cr0 & kCr0Pg, 0U);
    EXPECT_EQ(sregs.cr0 & (kCr0Cd | kCr0Nw), 0U);  // Caches on.
    EXPECT_NE(sregs.cr0 & 0x10, 0U);               // ET kept from the reset value.
    EXPECT_NE(sregs.cr4 & kCr4Pae, 0U);
    EXPECT_EQ(sregs.cr3, 0x9000U);
    EXPECT_EQ(sregs.efer & (kEferLme | kEferLma), kEferLme | kEferLma);
    EXPECT_EQ(sregs.cs.selector, 0x8);
    EXPECT_EQ(sregs.cs.l, 1);
    EXPECT_EQ(sregs.cs.db, 0);  // Long mode requires D = 0.
    EXPECT_EQ(sregs.cs.type, 0xb);
    EXPECT_EQ(sregs.ds.selector, 0x10);
    EXPECT_EQ(sregs.ss.type, 0x3);
    EXPECT_EQ(sregs.tr.selector, 0x18);
    EXPECT_EQ(sregs.tr.type, 0xb);
    EXPECT_EQ(sregs.gdt.base, 0x500U);
    EXPECT_EQ(sregs.gdt.limit, 31);
    EXPECT_EQ(sregs.idt.base, 0x520U);
    EXPECT_EQ(sregs.idt.limit, 7);
}

TEST(BootSregs, PutsPvhInFlat32BitProtectedModeWithoutPaging) {
    kvm_sregs sregs = reset_sregs();
    sregs.efer = kEferLme;  // Whatever was there must go.
    boot_sregs(kernel_with(BootProtocol::kPvh, 0x1000000), sregs);
    EXPECT_EQ(sregs.cr0, kCr0Pe);
    EXPECT_EQ(sregs.cr4, 0U);
    EXPECT_EQ(sregs.efer & (kEferLme | kEferLma), 0U);
    for (const kvm_segment* seg : {&sregs.cs, &sregs.ds, &sregs.es, &sregs.ss}) {
        EXPECT_EQ(seg->base, 0U);
        EXPECT_EQ(seg->limit, 0xffffffffU);
        EXPECT_EQ(seg->db, 1);
        EXPECT_EQ(seg->l, 0);
        EXPECT_EQ(seg->present, 1);
    }
    EXPECT_EQ(sregs.cs.type, 0xb);
    EXPECT_EQ(sregs.ds.type, 0x3);
    EXPECT_EQ(sregs.tr.limit, 0x67U);
    EXPECT_EQ(sregs.tr.type, 0xb);
}

TEST(Gdt, EncodesAndDecodesBaseLimitAndFlags) {
    const uint64_t entry = gdt_entry(0xc093, 0x12345678, 0xabcde);
    const kvm_segment seg = segment_of(entry, 5);
    EXPECT_EQ(seg.base, 0x12345678U);
    EXPECT_EQ(seg.limit, 0xabcdefffU);  // Page granular.
    EXPECT_EQ(seg.selector, 5 * 8);
    EXPECT_EQ(seg.type, 0x3);
    EXPECT_EQ(seg.g, 1);
    EXPECT_EQ(seg.db, 1);
    EXPECT_EQ(seg.s, 1);
    EXPECT_EQ(seg.unusable, 0);
    EXPECT_EQ(segment_of(gdt_entry(0, 0, 0), 0).unusable, 1);
}

TEST(BootFpu, UsesTheFinitControlWordAndMaskedSseExceptions) {
    const kvm_fpu fpu = boot_fpu();
    EXPECT_EQ(fpu.fcw, 0x37f);
    EXPECT_EQ(fpu.mxcsr, 0x1f80U);
}

TEST(BootMsrs, ZeroesTheSyscallMsrsAndEnablesFastStrings) {
    const auto msrs = boot_msrs();
    const auto value_of = [&msrs](uint32_t index) -> std::optional<uint64_t> {
        for (const auto& m : msrs) {
            if (m.index == index) return m.data;
        }
        return std::nullopt;
    };
    for (uint32_t index : {0x174U, 0x175U, 0x176U, 0xc0000081U, 0xc0000082U, 0xc0000083U,
                           0xc0000084U, 0xc0000102U, 0x10U}) {
        EXPECT_EQ(value_of(index), std::optional<uint64_t>(0)) << std::hex << index;
    }
    EXPECT_EQ(value_of(0x1a0), std::optional<uint64_t>(1));
}

TEST(Lapic, SetsLint0ToExtIntAndLint1ToNmiKeepingOtherBits) {
    kvm_lapic_state lapic{};
    const uint32_t masked_fixed = 0x00010000 | 0x0700;  // Masked, some delivery mode.
    std::memcpy(lapic.regs + 0x350, &masked_fixed, 4);
    std::memcpy(lapic.regs + 0x360, &masked_fixed, 4);
    configure_lapic(lapic);
    uint32_t lint0 = 0;
    uint32_t lint1 = 0;
    std::memcpy(&lint0, lapic.regs + 0x350, 4);
    std::memcpy(&lint1, lapic.regs + 0x360, 4);
    EXPECT_EQ(lint0, 0x00010700U);  // ExtINT = 0b111.
    EXPECT_EQ(lint1, 0x00010400U);  // NMI = 0b100.
}

}  // namespace
}  // namespace ember::x86
