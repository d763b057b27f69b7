// The Intel MultiProcessor Specification 1.4 tables (chapter 4) that tell a guest without ACPI
// about its CPUs, the IOAPIC and the IRQ routing; the same table as Firecracker's mptable.rs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::x86 {

// MP spec 1.4, §4.1: the floating pointer structure, 16 bytes, found by scanning the EBDA.
struct [[gnu::packed]] MpfIntel {
    char signature[4];  // "_MP_"
    uint32_t physptr;
    uint8_t length;  // In 16-byte units.
    uint8_t specification;
    uint8_t checksum;
    uint8_t feature[5];
};
static_assert(sizeof(MpfIntel) == 16);

// §4.2: the configuration table header; `length` covers the header and all entries.
struct [[gnu::packed]] MpcTable {
    char signature[4];  // "PCMP"
    uint16_t length;
    uint8_t spec;
    uint8_t checksum;
    char oem[8];
    char productid[12];
    uint32_t oemptr;
    uint16_t oemsize;
    uint16_t oemcount;  // Number of entries.
    uint32_t lapic;
    uint32_t reserved;
};
static_assert(sizeof(MpcTable) == 44);

enum MpEntryType : uint8_t {
    kMpProcessor = 0,
    kMpBus = 1,
    kMpIoapic = 2,
    kMpIntsrc = 3,
    kMpLintsrc = 4
};

struct [[gnu::packed]] MpcCpu {
    uint8_t type;
    uint8_t apicid;
    uint8_t apicver;
    uint8_t cpuflag;  // Bit 0 enabled, bit 1 bootstrap processor.
    uint32_t cpufeature;
    uint32_t featureflag;
    uint32_t reserved[2];
};
static_assert(sizeof(MpcCpu) == 20);

struct [[gnu::packed]] MpcBus {
    uint8_t type;
    uint8_t busid;
    char bustype[6];
};
static_assert(sizeof(MpcBus) == 8);

struct [[gnu::packed]] MpcIoapic {
    uint8_t type;
    uint8_t apicid;
    uint8_t apicver;
    uint8_t flags;  // Bit 0 usable.
    uint32_t apicaddr;
};
static_assert(sizeof(MpcIoapic) == 8);

struct [[gnu::packed]] MpcIntsrc {
    uint8_t type;
    uint8_t irqtype;  // 0 INT, 1 NMI, 2 SMI, 3 ExtINT.
    uint16_t irqflag;
    uint8_t srcbus;
    uint8_t srcbusirq;
    uint8_t dstapic;
    uint8_t dstirq;
};
static_assert(sizeof(MpcIntsrc) == 8);
using MpcLintsrc = MpcIntsrc;  // Same layout: dstapic/dstirq are the LAPIC id and LINTn.

enum MpIrqType : uint8_t { kMpInt = 0, kMpNmi = 1, kMpExtInt = 3 };

inline constexpr uint8_t kApicVersion = 0x14;

// Bytes the table takes for `vcpu_count` processors.
size_t mptable_size(uint32_t vcpu_count);

// Writes the floating pointer and the configuration table at kMptableStart for vCPUs with APIC
// ids 0..vcpu_count-1 (0 the BSP), the ISA bus, the IOAPIC (id vcpu_count + 1) with IRQs 0..23
// routed 1:1, and LINT0 ExtINT / LINT1 NMI. 1 <= vcpu_count <= kMaxVcpus.
Result<void> write_mptable(const GuestMemory& mem, uint32_t vcpu_count);

}  // namespace ember::x86
