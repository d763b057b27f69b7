#include "vmm/arch/x86_64/mptable.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {
namespace {

uint8_t checksum(const GuestMemory& mem, uint64_t gpa, size_t len) {
    auto bytes = mem.slice(GuestAddress(gpa), len).value();
    uint8_t sum = 0;
    for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
    return sum;
}

struct Counts {
    int cpus = 0, buses = 0, ioapics = 0, intsrcs = 0, lintsrcs = 0, bsps = 0;
    int total() const { return cpus + buses + ioapics + intsrcs + lintsrcs; }
};

// Walks the configuration table's entries as a guest kernel does (arch/x86/kernel/mpparse.c).
Counts walk(const GuestMemory& mem, const MpcTable& table, uint64_t table_gpa,
            uint8_t expect_ioapic_id) {
    Counts counts;
    uint64_t pos = table_gpa + sizeof(MpcTable);
    const uint64_t end = table_gpa + table.length;
    while (pos < end) {
        const uint8_t type = mem.read_obj<uint8_t>(GuestAddress(pos)).value();
        switch (type) {
            case kMpProcessor: {
                const auto cpu = mem.read_obj<MpcCpu>(GuestAddress(pos)).value();
                EXPECT_EQ(cpu.apicid, counts.cpus);
                EXPECT_NE(cpu.cpuflag & 1, 0);
                if (cpu.cpuflag & 2) ++counts.bsps;
                ++counts.cpus;
                pos += sizeof(MpcCpu);
                break;
            }
            case kMpBus: {
                const auto bus = mem.read_obj<MpcBus>(GuestAddress(pos)).value();
                EXPECT_EQ(std::string(bus.bustype, 6), "ISA   ");
                ++counts.buses;
                pos += sizeof(MpcBus);
                break;
            }
            case kMpIoapic: {
                const auto ioapic = mem.read_obj<MpcIoapic>(GuestAddress(pos)).value();
                EXPECT_EQ(ioapic.apicid, expect_ioapic_id);
                EXPECT_EQ(ioapic.apicaddr, 0xfec00000U);
                ++counts.ioapics;
                pos += sizeof(MpcIoapic);
                break;
            }
            case kMpIntsrc: {
                const auto src = mem.read_obj<MpcIntsrc>(GuestAddress(pos)).value();
                EXPECT_EQ(src.srcbusirq, counts.intsrcs);
                EXPECT_EQ(src.dstirq, counts.intsrcs);
                EXPECT_EQ(src.dstapic, expect_ioapic_id);
                ++counts.intsrcs;
                pos += sizeof(MpcIntsrc);
                break;
            }
            case kMpLintsrc: {
                const auto src = mem.read_obj<MpcLintsrc>(GuestAddress(pos)).value();
                EXPECT_EQ(src.irqtype, counts.lintsrcs == 0 ? kMpExtInt : kMpNmi);
                EXPECT_EQ(src.dstirq, counts.lintsrcs);  // LINT0 then LINT1.
                ++counts.lintsrcs;
                pos += sizeof(MpcLintsrc);
                break;
            }
            default:
                ADD_FAILURE() << "unknown entry type " << int{type} << " at " << pos;
                return counts;
        }
    }
    EXPECT_EQ(pos, end);
    return counts;
}

class MpTableTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(MpTableTest, HasValidChecksumsAndOneEntryPerCpuAndIrq) {
    const uint32_t vcpus = GetParam();
    GuestMemory mem = test::make_memory();
    ASSERT_TRUE(write_mptable(mem, vcpus));

    const auto mpf = mem.read_obj<MpfIntel>(GuestAddress(kMptableStart)).value();
    EXPECT_EQ(std::string(mpf.signature, 4), "_MP_");
    EXPECT_EQ(mpf.length, 1);
    EXPECT_EQ(mpf.specification, 4);
    EXPECT_EQ(checksum(mem, kMptableStart, sizeof(MpfIntel)), 0);

    const auto table = mem.read_obj<MpcTable>(GuestAddress(mpf.physptr)).value();
    EXPECT_EQ(std::string(table.signature, 4), "PCMP");
    EXPECT_EQ(table.spec, 4);
    EXPECT_EQ(table.lapic, 0xfee00000U);
    EXPECT_EQ(checksum(mem, mpf.physptr, table.length), 0);
    EXPECT_EQ(kMptableStart + sizeof(MpfIntel) + table.length, kMptableStart + mptable_size(vcpus));

    const Counts counts = walk(mem, table, mpf.physptr, static_cast<uint8_t>(vcpus + 1));
    EXPECT_EQ(counts.cpus, static_cast<int>(vcpus));
    EXPECT_EQ(counts.bsps, 1);
    EXPECT_EQ(counts.buses, 1);
    EXPECT_EQ(counts.ioapics, 1);
    EXPECT_EQ(counts.intsrcs, 24);
    EXPECT_EQ(counts.lintsrcs, 2);
    EXPECT_EQ(table.oemcount, counts.total());
}

INSTANTIATE_TEST_SUITE_P(VcpuCounts, MpTableTest, ::testing::Values(1U, 2U, 32U, 254U));

TEST(MpTable, FitsInTheSystemDataAreaAtTheMaximumVcpuCount) {
    EXPECT_LE(kMptableStart + mptable_size(kMaxVcpus), kSystemDataEnd);
}

TEST(MpTable, RefusesZeroVcpusAndMoreThanTheIoapicIdAllows) {
    GuestMemory mem = test::make_memory();
    EXPECT_FALSE(write_mptable(mem, 0).has_value());
    EXPECT_FALSE(write_mptable(mem, 255).has_value());
}

TEST(MpTable, RefusesGuestRamThatDoesNotCoverTheTable) {
    // 512 KiB of RAM ends before 0x9fc00.
    auto mem = GuestMemory::anonymous(ram_ranges(512ULL * 1024));
    ASSERT_TRUE(mem.has_value());
    EXPECT_FALSE(write_mptable(*mem, 1).has_value());
}

}  // namespace
}  // namespace ember::x86
