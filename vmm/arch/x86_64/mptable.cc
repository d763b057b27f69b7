// MP table construction (Intel MP spec 1.4; Firecracker src/vmm/src/arch/x86_64/mptable.rs).
#include "vmm/arch/x86_64/mptable.h"

#include <fmt/core.h>

#include <cstring>
#include <vector>

#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {
namespace {

constexpr uint32_t kCpuStepping = 0x600;
constexpr uint32_t kCpuFeatureApic = 0x200;
constexpr uint32_t kCpuFeatureFpu = 0x001;
constexpr uint8_t kCpuEnabled = 1;
constexpr uint8_t kCpuBootProcessor = 2;
constexpr uint8_t kIoapicUsable = 1;

uint8_t sum_bytes(const uint8_t* data, size_t len) {
    uint8_t sum = 0;
    for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + data[i]);
    return sum;
}

// Appends the bytes of one entry to the table being built.
template <typename T>
void append(std::vector<uint8_t>& out, const T& entry) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&entry);
    out.insert(out.end(), bytes, bytes + sizeof(T));
}

}  // namespace

size_t mptable_size(uint32_t vcpu_count) {
    return sizeof(MpfIntel) + sizeof(MpcTable) + sizeof(MpcCpu) * vcpu_count + sizeof(MpcBus) +
           sizeof(MpcIoapic) + sizeof(MpcIntsrc) * (kIrqMax + 1) + sizeof(MpcLintsrc) * 2;
}

Result<void> write_mptable(const GuestMemory& mem, uint32_t vcpu_count) {
    if (vcpu_count == 0 || vcpu_count > kMaxVcpus) {
        return Error::invalid("mptable",
                              fmt::format("{} vCPUs is outside 1..{}", vcpu_count, kMaxVcpus));
    }
    const auto ioapic_id = static_cast<uint8_t>(vcpu_count + 1);
    // The configuration table follows the floating pointer; entries follow its header.
    std::vector<uint8_t> entries;
    uint16_t count = 0;
    for (uint32_t id = 0; id < vcpu_count; ++id, ++count) {
        MpcCpu cpu{};
        cpu.type = kMpProcessor;
        cpu.apicid = static_cast<uint8_t>(id);
        cpu.apicver = kApicVersion;
        cpu.cpuflag = static_cast<uint8_t>(kCpuEnabled | (id == 0 ? kCpuBootProcessor : 0));
        cpu.cpufeature = kCpuStepping;
        cpu.featureflag = kCpuFeatureApic | kCpuFeatureFpu;
        append(entries, cpu);
    }
    MpcBus bus{};
    bus.type = kMpBus;
    bus.busid = 0;
    std::memcpy(bus.bustype, "ISA   ", 6);
    append(entries, bus);
    ++count;
    MpcIoapic ioapic{};
    ioapic.type = kMpIoapic;
    ioapic.apicid = ioapic_id;
    ioapic.apicver = kApicVersion;
    ioapic.flags = kIoapicUsable;
    ioapic.apicaddr = static_cast<uint32_t>(kIoapicStart);
    append(entries, ioapic);
    ++count;
    // KVM's default routing (kvm_setup_default_irq_routing): ISA IRQ n -> IOAPIC pin n.
    for (uint32_t irq = 0; irq <= kIrqMax; ++irq, ++count) {
        MpcIntsrc src{};
        src.type = kMpIntsrc;
        src.irqtype = kMpInt;
        src.srcbus = 0;
        src.srcbusirq = static_cast<uint8_t>(irq);
        src.dstapic = ioapic_id;
        src.dstirq = static_cast<uint8_t>(irq);
        append(entries, src);
    }
    MpcLintsrc lint0{};
    lint0.type = kMpLintsrc;
    lint0.irqtype = kMpExtInt;
    lint0.dstapic = 0;  // The BSP's LINT0 takes the 8259's ExtINT.
    lint0.dstirq = 0;
    append(entries, lint0);
    MpcLintsrc lint1{};
    lint1.type = kMpLintsrc;
    lint1.irqtype = kMpNmi;
    lint1.dstapic = 0xff;  // Every LAPIC's LINT1 is NMI.
    lint1.dstirq = 1;
    append(entries, lint1);
    count = static_cast<uint16_t>(count + 2);

    MpcTable table{};
    std::memcpy(table.signature, "PCMP", 4);
    table.length = static_cast<uint16_t>(sizeof(MpcTable) + entries.size());
    table.spec = 4;
    std::memcpy(table.oem, "FC      ", 8);
    std::memcpy(table.productid, "000000000000", 12);
    table.oemcount = count;
    table.lapic = static_cast<uint32_t>(kLapicStart);
    const uint8_t sum =
        static_cast<uint8_t>(sum_bytes(reinterpret_cast<const uint8_t*>(&table), sizeof(table)) +
                             sum_bytes(entries.data(), entries.size()));
    table.checksum = static_cast<uint8_t>(-sum);

    MpfIntel mpf{};
    std::memcpy(mpf.signature, "_MP_", 4);
    mpf.physptr = static_cast<uint32_t>(kMptableStart + sizeof(MpfIntel));
    mpf.length = 1;
    mpf.specification = 4;
    mpf.checksum =
        static_cast<uint8_t>(-sum_bytes(reinterpret_cast<const uint8_t*>(&mpf), sizeof(mpf)));

    std::vector<uint8_t> image;
    image.reserve(mptable_size(vcpu_count));
    append(image, mpf);
    append(image, table);
    image.insert(image.end(), entries.begin(), entries.end());
    if (kMptableStart + image.size() > kSystemDataEnd) {
        return Error::invalid("mptable", "table overruns the system data area");
    }
    auto dst = mem.slice(GuestAddress(kMptableStart), image.size());
    if (!dst) return Error::invalid("mptable", "guest RAM does not cover the MP table area");
    std::memcpy(dst->data(), image.data(), image.size());
    return ok();
}

}  // namespace ember::x86
