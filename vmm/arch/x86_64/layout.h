// The x86_64 guest physical memory layout, as Firecracker's arch/x86_64/layout.rs: where the boot
// structures, the kernel and the MMIO windows live. Constants only.
#pragma once

#include <cstdint>

namespace ember::x86 {

inline constexpr uint64_t kMiB = 1ULL << 20;
inline constexpr uint64_t kGiB = 1ULL << 30;

// Real-mode era structures below 1 MiB.
inline constexpr uint64_t kGdtStart = 0x500;
inline constexpr uint64_t kIdtStart = 0x520;
inline constexpr uint64_t kPvhInfoStart = 0x6000;     // struct hvm_start_info.
inline constexpr uint64_t kPvhModlistStart = 0x6040;  // hvm_modlist_entry[], the initrd.
inline constexpr uint64_t kPvhMemmapStart = 0x7000;   // hvm_memmap_table_entry[].
inline constexpr uint64_t kZeroPageStart = 0x7000;    // struct boot_params (Linux 64-bit boot).
inline constexpr uint64_t kBootStackPointer = 0x8ff0;
inline constexpr uint64_t kPml4Start = 0x9000;
inline constexpr uint64_t kPdpteStart = 0xa000;
inline constexpr uint64_t kPdeStart = 0xb000;
inline constexpr uint64_t kCmdlineStart = 0x20000;
inline constexpr uint64_t kCmdlineMaxSize = 2048;  // Including the terminating NUL.

// The extended BIOS data area: the MP table lives in the system data area [0x9fc00, 0xe0000),
// which the e820 map reserves.
inline constexpr uint64_t kEbdaStart = 0x9fc00;
inline constexpr uint64_t kMptableStart = kEbdaStart;
inline constexpr uint64_t kSystemDataEnd = 0xe0000;
// Past the largest MP table (kMaxVcpus processors, about 5.3 KiB), in the same reserved area: the
// VM generation ID's 16 bytes, then the ACPI tables the RSDP points to.
inline constexpr uint64_t kVmGenIdStart = 0xa2000;
inline constexpr uint64_t kAcpiTablesStart = 0xa3000;
inline constexpr uint64_t kAcpiTablesEnd = kSystemDataEnd;
// The RSDP where a kernel that does not read boot_params.acpi_rsdp_addr scans for it (ACPI 6.5
// §5.2.5.1: the BIOS area 0xe0000-0xfffff), as Firecracker; that area is not RAM in the e820 map.
inline constexpr uint64_t kRsdpStart = 0xe0000;

// The kernel is loaded at or above 1 MiB; everything below belongs to the boot structures.
inline constexpr uint64_t kHimemStart = 1 * kMiB;

// The 32-bit MMIO hole [3 GiB, 4 GiB): RAM stops below it and resumes at 4 GiB.
inline constexpr uint64_t kMmio32Start = 3 * kGiB;
inline constexpr uint64_t kMmio32Size = 1 * kGiB;
inline constexpr uint64_t kRamAbove4gStart = 4 * kGiB;
// The boot timer's page, then virtio-mmio devices one page each.
inline constexpr uint64_t kBootDeviceStart = kMmio32Start;
inline constexpr uint64_t kMmioDevicesStart = kMmio32Start + 0x1000;
inline constexpr uint64_t kIoapicStart = 0xfec00000;
inline constexpr uint64_t kLapicStart = 0xfee00000;
// KVM_SET_TSS_ADDR: three pages just below the BIOS ROM area at the top of 4 GiB.
inline constexpr uint64_t kKvmTssAddress = 0xfffbd000;

// The first 1 GiB is identity-mapped with 2 MiB pages for the 64-bit entry.
inline constexpr uint64_t kIdentityMapSize = 1 * kGiB;

// Legacy IRQs the IOAPIC routes (KVM's default routing: GSIs 0..23).
inline constexpr uint32_t kIrqMax = 23;
// The MP table holds APIC ids 0..n-1 and the IOAPIC at n+1, all below the broadcast id 0xff.
inline constexpr uint32_t kMaxVcpus = 254;

}  // namespace ember::x86
