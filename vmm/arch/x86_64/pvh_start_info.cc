// PVH boot (xen docs/misc/pvh.pandoc; Firecracker docs/pvh.md): the kernel is entered in 32-bit
// protected mode with EBX pointing at hvm_start_info.
#include "vmm/arch/x86_64/pvh_start_info.h"

#include <fmt/core.h>

#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {

Result<void> write_pvh_start_info(const GuestMemory& mem, const BootParams& params,
                                  std::span<const E820Entry> e820) {
    // The memmap runs from 0x7000 up to the boot stack page; refuse a map that would not fit.
    if (e820.size() > kE820MaxEntries) {
        return Error::invalid("pvh memmap",
                              fmt::format("{} entries exceed {}", e820.size(), kE820MaxEntries));
    }
    HvmStartInfo info{};
    info.magic = kHvmStartMagic;
    info.version = kHvmStartInfoVersion;
    info.cmdline_paddr = kCmdlineStart;
    info.memmap_paddr = kPvhMemmapStart;
    info.memmap_entries = static_cast<uint32_t>(e820.size());
    if (params.acpi_rsdp) info.rsdp_paddr = params.acpi_rsdp->value();
    if (params.initrd) {
        const HvmModlistEntry module{params.initrd->start.value(), params.initrd->size_bytes, 0, 0};
        EMBER_TRY(mem.write_obj(GuestAddress(kPvhModlistStart), module));
        info.nr_modules = 1;
        info.modlist_paddr = kPvhModlistStart;
    }
    for (size_t i = 0; i < e820.size(); ++i) {
        const HvmMemmapEntry entry{e820[i].addr, e820[i].size_bytes,
                                   static_cast<uint32_t>(e820[i].type), 0};
        EMBER_TRY(mem.write_obj(GuestAddress(kPvhMemmapStart + i * sizeof(entry)), entry));
    }
    return mem.write_obj(GuestAddress(kPvhInfoStart), info);
}

}  // namespace ember::x86
