// Boot GDT, IDT and identity-mapped page tables for the vCPU's first instruction.
#include "vmm/arch/x86_64/gdt.h"

#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {

std::array<uint64_t, kGdtEntries> gdt_table(BootProtocol protocol) {
    if (protocol == BootProtocol::kPvh) {
        return {gdt_entry(0, 0, 0),                // Null.
                gdt_entry(0xc09b, 0, 0xffffffff),  // Code: 32-bit, 4 GiB, execute/read.
                gdt_entry(0xc093, 0, 0xffffffff),  // Data: 32-bit, 4 GiB, read/write.
                gdt_entry(0x008b, 0, 0x67)};       // TSS: 32-bit busy.
    }
    return {gdt_entry(0, 0, 0),              // Null.
            gdt_entry(0xa09b, 0, 0xfffff),   // Code: 64-bit (L), execute/read.
            gdt_entry(0xc093, 0, 0xfffff),   // Data: read/write.
            gdt_entry(0x808b, 0, 0xfffff)};  // TSS.
}

kvm_segment segment_of(uint64_t entry, uint8_t index) {
    const auto base = static_cast<uint64_t>(((entry & 0xff00000000000000ULL) >> 32) |
                                            ((entry & 0x000000ff00000000ULL) >> 16) |
                                            ((entry & 0x00000000ffff0000ULL) >> 16));
    auto limit = static_cast<uint32_t>(((entry & 0x000f000000000000ULL) >> 32) |
                                       (entry & 0x000000000000ffffULL));
    const auto granularity = static_cast<uint8_t>((entry >> 55) & 1);
    // With 4 KiB granularity the limit counts pages; KVM wants it in bytes.
    if (granularity != 0) limit = (limit << 12) | 0xfff;
    kvm_segment seg{};
    seg.base = base;
    seg.limit = limit;
    seg.selector = static_cast<uint16_t>(index * 8);
    seg.type = static_cast<uint8_t>((entry >> 40) & 0xf);
    seg.present = static_cast<uint8_t>((entry >> 47) & 1);
    seg.dpl = static_cast<uint8_t>((entry >> 45) & 3);
    seg.db = static_cast<uint8_t>((entry >> 54) & 1);
    seg.s = static_cast<uint8_t>((entry >> 44) & 1);
    seg.l = static_cast<uint8_t>((entry >> 53) & 1);
    seg.g = granularity;
    seg.avl = static_cast<uint8_t>((entry >> 52) & 1);
    seg.unusable = seg.present == 0 ? 1 : 0;
    return seg;
}

Result<void> write_gdt_idt(const GuestMemory& mem, BootProtocol protocol) {
    EMBER_TRY(mem.write_obj(GuestAddress(kGdtStart), gdt_table(protocol)));
    return mem.write_obj(GuestAddress(kIdtStart), uint64_t{0});
}

Result<void> write_page_tables(const GuestMemory& mem) {
    constexpr uint64_t kPresentWritable = 0x3;
    constexpr uint64_t kHugePage = 0x80;
    // PML4[0] covers [0, 512 GiB), PDPTE[0] covers [0, 1 GiB), 512 PDEs of 2 MiB each.
    EMBER_TRY(mem.write_obj(GuestAddress(kPml4Start), kPdpteStart | kPresentWritable));
    EMBER_TRY(mem.write_obj(GuestAddress(kPdpteStart), kPdeStart | kPresentWritable));
    std::array<uint64_t, 512> pde{};
    for (uint64_t i = 0; i < pde.size(); ++i) pde[i] = (i << 21) | kPresentWritable | kHugePage;
    static_assert(512 * (2 * kMiB) == kIdentityMapSize);
    return mem.write_obj(GuestAddress(kPdeStart), pde);
}

}  // namespace ember::x86
