// The vCPU state at the kernel entry: Linux's 64-bit boot protocol (Documentation/x86/boot.rst,
// "64-bit BOOT PROTOCOL") or PVH's 32-bit protected mode without paging (xen
// docs/misc/pvh.pandoc), as Firecracker's arch/x86_64/regs.rs and msr.rs.
#include "vmm/arch/x86_64/regs.h"

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/gdt.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {

kvm_regs boot_regs(const LoadedKernel& kernel) {
    kvm_regs regs{};
    regs.rflags = kRflagsReserved;
    regs.rip = kernel.entry.value();
    if (kernel.protocol == BootProtocol::kPvh) {
        regs.rbx = kPvhInfoStart;
    } else {
        regs.rsp = kBootStackPointer;
        regs.rbp = kBootStackPointer;
        regs.rsi = kZeroPageStart;
    }
    return regs;
}

void boot_sregs(const LoadedKernel& kernel, kvm_sregs& sregs) {
    const auto gdt = gdt_table(kernel.protocol);
    sregs.gdt.base = kGdtStart;
    sregs.gdt.limit = static_cast<uint16_t>(sizeof(gdt) - 1);
    sregs.idt.base = kIdtStart;
    sregs.idt.limit = static_cast<uint16_t>(sizeof(uint64_t) - 1);

    const kvm_segment code = segment_of(gdt[1], 1);
    const kvm_segment data = segment_of(gdt[2], 2);
    sregs.cs = code;
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = segment_of(gdt[3], 3);

    if (kernel.protocol == BootProtocol::kPvh) {
        // 32-bit protected mode, paging off.
        sregs.cr0 = kCr0Pe;
        sregs.cr3 = 0;
        sregs.cr4 = 0;
        sregs.efer &= ~(kEferLme | kEferLma);
        return;
    }
    // Long mode through the identity map of the first 1 GiB, with caching on: the reset value
    // has CD and NW set, and a bzImage's decompressor never clears them itself.
    sregs.cr0 = (sregs.cr0 & ~(kCr0Cd | kCr0Nw)) | kCr0Pe | kCr0Pg;
    sregs.cr3 = kPml4Start;
    sregs.cr4 |= kCr4Pae;
    sregs.efer |= kEferLme | kEferLma;
}

kvm_fpu boot_fpu() {
    kvm_fpu fpu{};
    fpu.fcw = kFpuControlWord;
    fpu.mxcsr = kMxcsrDefault;
    return fpu;
}

std::vector<kvm_msr_entry> boot_msrs() {
    const auto entry = [](uint32_t index, uint64_t data) {
        kvm_msr_entry e{};
        e.index = index;
        e.data = data;
        return e;
    };
    return {entry(kMsrIa32SysenterCs, 0),
            entry(kMsrIa32SysenterEsp, 0),
            entry(kMsrIa32SysenterEip, 0),
            entry(kMsrStar, 0),
            entry(kMsrCstar, 0),
            entry(kMsrKernelGsBase, 0),
            entry(kMsrSyscallMask, 0),
            entry(kMsrLstar, 0),
            entry(kMsrIa32Tsc, 0),
            entry(kMsrIa32MiscEnable, kMiscEnableFastString),
            entry(kMsrMtrrDefType, kMtrrEnableWriteBack)};
}

}  // namespace ember::x86
