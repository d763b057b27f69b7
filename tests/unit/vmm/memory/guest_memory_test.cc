#include "vmm/memory/guest_memory.h"

#include <gtest/gtest.h>

#include <limits>

namespace ember {
namespace {

GuestMemory two_regions() {
    const GuestRange ranges[] = {{GuestAddress(0), 0x4000}, {GuestAddress(0x10000), 0x2000}};
    auto mem = GuestMemory::anonymous(ranges);
    EXPECT_TRUE(mem);
    return std::move(mem).value();
}

TEST(GuestMemory, RoundTripsObjectsInsideARegion) {
    GuestMemory mem = two_regions();
    ASSERT_TRUE(mem.write_obj<uint32_t>(GuestAddress(0x10010), 0xdeadbeef));
    auto v = mem.read_obj<uint32_t>(GuestAddress(0x10010));
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 0xdeadbeefu);
}

// Diff snapshots need the pages the VMM itself wrote, per region, in KVM's dirty-log layout.
TEST(GuestMemory, TracksPagesWrittenByTheVmmPerRegionUntilTaken) {
    GuestMemory mem = two_regions();
    ASSERT_TRUE(mem.write_obj<uint32_t>(GuestAddress(0x1ffe), 1));  // Straddles pages 1 and 2.
    mem.mark_dirty(GuestAddress(0x11000), 0x1000);                  // Region 1, page 1.
    mem.mark_dirty(GuestAddress(0x5000), 0x10);                     // In the hole: ignored.
    mem.mark_dirty(GuestAddress(0x3000), 0x2000);                   // Past region 0: ignored.
    EXPECT_EQ(mem.take_dirty(0), std::vector<uint64_t>{0b110});
    EXPECT_EQ(mem.take_dirty(1), std::vector<uint64_t>{0b10});
    EXPECT_EQ(mem.take_dirty(0), std::vector<uint64_t>{0});  // Taking clears.
    ASSERT_TRUE(mem.read_obj<uint32_t>(GuestAddress(0x0)));  // Reads do not count.
    EXPECT_EQ(mem.take_dirty(0), std::vector<uint64_t>{0});
}

TEST(GuestMemory, RefusesRangesInTheHole) {
    GuestMemory mem = two_regions();
    EXPECT_FALSE(mem.slice(GuestAddress(0x5000), 1));
}

TEST(GuestMemory, RefusesRangesThatStraddleTheEndOfARegion) {
    GuestMemory mem = two_regions();
    EXPECT_TRUE(mem.slice(GuestAddress(0x3ffc), 4));
    EXPECT_FALSE(mem.slice(GuestAddress(0x3ffc), 5));
}

TEST(GuestMemory, RefusesLengthsThatWouldWrap) {
    GuestMemory mem = two_regions();
    EXPECT_FALSE(mem.slice(GuestAddress(0x10), std::numeric_limits<uint64_t>::max()));
    EXPECT_FALSE(mem.slice(GuestAddress(std::numeric_limits<uint64_t>::max()), 2));
}

TEST(GuestMemory, RefusesOverlappingRegions) {
    const GuestRange ranges[] = {{GuestAddress(0), 0x4000}, {GuestAddress(0x3000), 0x2000}};
    EXPECT_FALSE(GuestMemory::anonymous(ranges));
}

TEST(GuestMemory, RefusesUnalignedRegions) {
    const GuestRange ranges[] = {{GuestAddress(0x100), 0x1000}};
    EXPECT_FALSE(GuestMemory::anonymous(ranges));
}

}  // namespace
}  // namespace ember
