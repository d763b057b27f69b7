// The guest's e820 memory map, shared by the zero page (Linux boot) and hvm_start_info's memmap
// (PVH): RAM, the reserved system data area, and RAM above the 32-bit MMIO hole.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/memory/guest_memory.h"

namespace ember::x86 {

// E820 types (Linux arch/x86/include/asm/e820/types.h; the same values as XEN_HVM_MEMMAP_TYPE_*).
enum class E820Type : uint32_t { kRam = 1, kReserved = 2 };

struct E820Entry {
    uint64_t addr;
    uint64_t size_bytes;
    E820Type type;
    bool operator==(const E820Entry&) const = default;
};

// The zero page holds at most 128 entries (E820_MAX_ENTRIES_ZEROPAGE).
inline constexpr size_t kE820MaxEntries = 128;

// The map for guest RAM laid out as `ram` (ram_ranges() or GuestMemory's regions), sorted by
// address: the region at 0 becomes RAM [0, 0x9fc00), RESERVED [0x9fc00, 0xe0000) and RAM from
// 1 MiB to its end; every other region is RAM as it is.
std::vector<E820Entry> e820_table(std::span<const GuestRange> ram);

// The ranges of a GuestMemory, for e820_table().
std::vector<GuestRange> ram_of(const GuestMemory& mem);

}  // namespace ember::x86
