// The PVH boot structures (include/xen/interface/hvm/start_info.h, version 1): hvm_start_info
// with the command line, the initrd as the one module, and the e820 map as memmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/e820.h"

namespace ember::x86 {

inline constexpr uint32_t kHvmStartMagic = 0x336ec578;
inline constexpr uint32_t kHvmStartInfoVersion = 1;

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);
static_assert(offsetof(HvmStartInfo, modlist_paddr) == 16);
static_assert(offsetof(HvmStartInfo, memmap_paddr) == 40);
static_assert(offsetof(HvmStartInfo, memmap_entries) == 48);

struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;  // XEN_HVM_MEMMAP_TYPE_*, the e820 values.
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

// Writes hvm_start_info at kPvhInfoStart, the modlist at kPvhModlistStart and the memmap at
// kPvhMemmapStart. The command line itself is written by write_boot_structures.
Result<void> write_pvh_start_info(const GuestMemory& mem, const BootParams& params,
                                  std::span<const E820Entry> e820);

}  // namespace ember::x86
