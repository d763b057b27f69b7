// The boot GDT and its segments (Firecracker arch/x86_64/gdt.rs and regs.rs): null, code, data
// and TSS descriptors, 64-bit code for the Linux 64-bit entry, flat 32-bit for PVH.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>

#include "vmm/arch/x86_64/boot.h"

namespace ember::x86 {

inline constexpr uint16_t kCodeSelector = 1 * 8;
inline constexpr uint16_t kDataSelector = 2 * 8;
inline constexpr uint16_t kTssSelector = 3 * 8;
inline constexpr size_t kGdtEntries = 4;

// A segment descriptor from its flags word (access byte in bits 0-7, flags in bits 12-15, as the
// Intel SDM vol. 3 §3.4.5 layout shifted down by 8), base and limit.
constexpr uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) {
    return ((uint64_t{base} & 0xff000000) << (56 - 24)) | ((uint64_t{flags} & 0xf0ff) << 40) |
           ((uint64_t{limit} & 0x000f0000) << (48 - 16)) | ((uint64_t{base} & 0x00ffffff) << 16) |
           (uint64_t{limit} & 0x0000ffff);
}

// The table for `protocol`: kLinux64 gets a long-mode code segment, kPvh flat 32-bit ones.
std::array<uint64_t, kGdtEntries> gdt_table(BootProtocol protocol);

// The KVM view of descriptor `index` of a table, as the CPU would load it.
kvm_segment segment_of(uint64_t entry, uint8_t index);

// Writes the GDT at kGdtStart and a null IDT at kIdtStart.
Result<void> write_gdt_idt(const GuestMemory& mem, BootProtocol protocol);

// Writes the identity map of the first 1 GiB (2 MiB pages) at kPml4Start/kPdpteStart/kPdeStart.
Result<void> write_page_tables(const GuestMemory& mem);

}  // namespace ember::x86
