// ram_ranges and the e820 map (ram_ranges.cc).
#include <gtest/gtest.h>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/e820.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {
namespace {

constexpr uint64_t kMiBytes = 1ULL << 20;

TEST(RamRanges, KeepsSmallMemoryInOneRangeFromZero) {
    const auto ranges = ram_ranges(128 * kMiBytes);
    ASSERT_EQ(ranges.size(), 1U);
    EXPECT_EQ(ranges[0].start, GuestAddress(0));
    EXPECT_EQ(ranges[0].size_bytes, 128 * kMiBytes);
}

TEST(RamRanges, FillsUpToTheHoleExactlyWithoutASecondRange) {
    const auto ranges = ram_ranges(3072 * kMiBytes);
    ASSERT_EQ(ranges.size(), 1U);
    EXPECT_EQ(ranges[0].size_bytes, 0xc0000000U);
}

TEST(RamRanges, PutsMemoryBeyond3GiBAbove4GiB) {
    const auto ranges = ram_ranges(3584 * kMiBytes);
    ASSERT_EQ(ranges.size(), 2U);
    EXPECT_EQ(ranges[0].start, GuestAddress(0));
    EXPECT_EQ(ranges[0].size_bytes, 0xc0000000U);
    EXPECT_EQ(ranges[1].start, GuestAddress(0x100000000ULL));
    EXPECT_EQ(ranges[1].size_bytes, 512 * kMiBytes);
}

TEST(E820Table, DescribesLowMemoryTheSystemAreaAndHighMemoryFor128MiB) {
    const auto ranges = ram_ranges(128 * kMiBytes);
    const std::vector<E820Entry> expected = {
        {0, 0x9fc00, E820Type::kRam},
        {0x9fc00, 0xe0000 - 0x9fc00, E820Type::kReserved},
        {0x100000, 128 * kMiBytes - 0x100000, E820Type::kRam},
    };
    EXPECT_EQ(e820_table(ranges), expected);
}

TEST(E820Table, SkipsTheMmioHoleFor3584MiB) {
    const auto ranges = ram_ranges(3584 * kMiBytes);
    const std::vector<E820Entry> expected = {
        {0, 0x9fc00, E820Type::kRam},
        {0x9fc00, 0xe0000 - 0x9fc00, E820Type::kReserved},
        {0x100000, 0xc0000000 - 0x100000, E820Type::kRam},
        {0x100000000ULL, 512 * kMiBytes, E820Type::kRam},
    };
    EXPECT_EQ(e820_table(ranges), expected);
}

TEST(E820Table, NeverDescribesRamInsideTheHole) {
    for (uint64_t mib : {1ULL, 2ULL, 64ULL, 3071ULL, 3072ULL, 3073ULL, 8192ULL}) {
        for (const E820Entry& e : e820_table(ram_ranges(mib * kMiBytes))) {
            if (e.type != E820Type::kRam) continue;
            const bool below = e.addr + e.size_bytes <= kMmio32Start;
            const bool above = e.addr >= kRamAbove4gStart;
            EXPECT_TRUE(below || above) << mib << " MiB: entry at " << e.addr;
        }
    }
}

TEST(E820Table, DescribesTheSameRamAsGuestMemory) {
    auto mem = GuestMemory::anonymous(ram_ranges(3200 * kMiBytes));
    ASSERT_TRUE(mem.has_value());
    EXPECT_EQ(e820_table(ram_of(*mem)), e820_table(ram_ranges(3200 * kMiBytes)));
}

}  // namespace
}  // namespace ember::x86
