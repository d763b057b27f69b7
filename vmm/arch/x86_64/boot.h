// The x86_64 boot contract between the loaders (vmm/arch/x86_64) and the VMM core: load a
// kernel and initrd into guest memory, write the boot structures, and describe the vCPU state the
// kernel expects at its entry. Everything here is pure computation over GuestMemory and KVM's
// plain structs; the ioctls that apply the state live in vmm/kvm.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/memory/guest_memory.h"

namespace ember::x86 {

// Guest RAM ranges for `mem_size_bytes` of memory: from 0 up to the 32-bit MMIO hole at 3 GiB,
// and the rest from 4 GiB (layout.h holds the constants).
std::vector<GuestRange> ram_ranges(uint64_t mem_size_bytes);

enum class BootProtocol { kLinux64, kPvh };

struct LoadedKernel {
    BootProtocol protocol = BootProtocol::kLinux64;
    GuestAddress entry;  // 64-bit entry for kLinux64, 32-bit PVH entry for kPvh.
    // bzImage's setup header (the bytes from offset 0x1f1), copied into the zero page; for an ELF
    // vmlinux Ember builds one.
    std::vector<uint8_t> setup_header;
    GuestAddress kernel_end;  // First byte past the loaded image, for placing the initrd above it.
};

// Detects ELF vmlinux (PVH note or 64-bit entry) or bzImage and loads it. A truncated, oversized or
// hostile image is an error naming the problem, never an out-of-bounds write. The whole image is
// validated before any byte is copied. `kernel_fd` is borrowed (read with pread) and stays the
// caller's UniqueFd.
Result<LoadedKernel> load_kernel(const GuestMemory& mem, int kernel_fd);

// Loads the initrd page-aligned at the top of low RAM (below the hole and below what the kernel
// allows with initrd_addr_max), above kernel_end; returns where it landed. `initrd_fd` is borrowed.
Result<GuestRange> load_initrd(const GuestMemory& mem, int initrd_fd, const LoadedKernel& kernel);

struct BootParams {
    std::string_view cmdline;
    std::optional<GuestRange> initrd;
    uint32_t vcpu_count = 1;  // 1..254 (the MP table's APIC ids).
    // Where write_acpi_tables() put the RSDP, for boot_params.acpi_rsdp_addr (kLinux64) or
    // hvm_start_info.rsdp_paddr (kPvh); none leaves both 0.
    std::optional<GuestAddress> acpi_rsdp;
};

// Writes the command line (refused if it does not fit in 2048 bytes with its NUL), the zero page
// (kLinux64) or hvm_start_info (kPvh) with the e820 map, the MP table, the GDT/IDT and, for
// kLinux64, the identity-mapped page tables.
Result<void> write_boot_structures(const GuestMemory& mem, const LoadedKernel& kernel,
                                   const BootParams& params);

// Register state for vCPU `index` at the kernel entry. `sregs` comes in as KVM_GET_SREGS returned
// it and is adjusted (segments, CR0/CR3/CR4/EFER); APs (index > 0) get the same state as the BSP
// but KVM holds them in INIT until the BSP starts them via the LAPIC.
kvm_regs boot_regs(const LoadedKernel& kernel);
void boot_sregs(const LoadedKernel& kernel, kvm_sregs& sregs);
kvm_fpu boot_fpu();
std::vector<kvm_msr_entry> boot_msrs();

// Normalizes the host-supported CPUID (KVM_GET_SUPPORTED_CPUID) for vCPU `index` of `count`:
// hypervisor bit, APIC ids, topology leaves, no PMU, and the KVM paravirt leaves.
void normalize_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t index, uint32_t count);

inline constexpr uint64_t kXcr0X87 = 1;
// The XCR0 features the vCPU supports (leaf 0xD.0 EDX:EAX, x87 always). The builder sets XCR0 to
// this before the first KVM_RUN (KVM_SET_XCRS), and normalize_cpuid() sizes leaf 0xD for it.
uint64_t supported_xcr0(const std::vector<kvm_cpuid_entry2>& entries);
// The standard-format XSAVE area size for the features in `xcr0`, from leaf 0xD's sub-leaves.
uint32_t xsave_size(const std::vector<kvm_cpuid_entry2>& entries, uint64_t xcr0);

// LAPIC LINT0 as ExtINT and LINT1 as NMI, on the register page from KVM_GET_LAPIC.
void configure_lapic(kvm_lapic_state& lapic);

}  // namespace ember::x86
