// Guest RAM ranges around the 32-bit MMIO hole, and the e820 map built from them.
#include <algorithm>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/e820.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {

std::vector<GuestRange> ram_ranges(uint64_t mem_size_bytes) {
    if (mem_size_bytes <= kMmio32Start) return {GuestRange{GuestAddress(0), mem_size_bytes}};
    return {GuestRange{GuestAddress(0), kMmio32Start},
            GuestRange{GuestAddress(kRamAbove4gStart), mem_size_bytes - kMmio32Start}};
}

std::vector<E820Entry> e820_table(std::span<const GuestRange> ram) {
    std::vector<E820Entry> out;
    for (const GuestRange& r : ram) {
        if (r.size_bytes == 0) continue;
        const uint64_t start = r.start.value();
        const uint64_t end = start + r.size_bytes;
        if (start != 0) {
            out.push_back({start, r.size_bytes, E820Type::kRam});
            continue;
        }
        // The low region: conventional memory, the system data area (MP table), then high memory
        // from 1 MiB. [0xe0000, 1 MiB) is the BIOS area, left out of the map as Firecracker does.
        out.push_back({0, std::min(end, kEbdaStart), E820Type::kRam});
        if (end > kEbdaStart) {
            out.push_back({kEbdaStart, kSystemDataEnd - kEbdaStart, E820Type::kReserved});
        }
        if (end > kHimemStart) out.push_back({kHimemStart, end - kHimemStart, E820Type::kRam});
    }
    return out;
}

std::vector<GuestRange> ram_of(const GuestMemory& mem) {
    std::vector<GuestRange> out;
    out.reserve(mem.regions().size());
    for (const GuestMemory::Region& r : mem.regions()) out.push_back({r.start, r.size()});
    return out;
}

}  // namespace ember::x86
