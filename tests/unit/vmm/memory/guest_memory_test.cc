#include "vmm/memory/guest_memory.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "tests/unit/vmm/memory/host_pages.h"

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

constexpr uint64_t kTwoMiB = uint64_t{2} << 20;

bool has_vm_flag(const void* addr, const std::string& flag) {
    const std::string flags = " " + test::smaps_of(addr)["VmFlags"] + " ";
    return flags.find(" " + flag + " ") != std::string::npos;
}

TEST(GuestMemory, SmallPagesAreNeitherAdvisedNorHugetlb) {
    const GuestRange ranges[] = {{GuestAddress(0), 4 * kTwoMiB}};
    auto mem = GuestMemory::anonymous(ranges);
    ASSERT_TRUE(mem);
    const uint8_t* ram = mem->regions()[0].mapping.data();
    EXPECT_FALSE(has_vm_flag(ram, "hg"));
    EXPECT_EQ(test::smaps_of(ram)["KernelPageSize"], "4 kB");
    EXPECT_EQ(mem->host_page_bytes(), 4096u);
}

// huge_pages "Transparent": madvise(MADV_HUGEPAGE), which smaps shows as the "hg" flag; whether
// the kernel then finds free 2 MiB pages for it is up to the host, so it is reported, not checked.
TEST(GuestMemory, TransparentHugeBackingAdvisesTheKernel) {
    const GuestRange ranges[] = {{GuestAddress(0), 4 * kTwoMiB}};
    auto mem = GuestMemory::anonymous(ranges, PageBacking::kTransparentHuge);
    ASSERT_TRUE(mem) << mem.error().message();
    uint8_t* ram = mem->regions()[0].mapping.data();
    EXPECT_TRUE(has_vm_flag(ram, "hg")) << test::smaps_of(ram)["VmFlags"];
    EXPECT_EQ(test::smaps_of(ram)["THPeligible"], "1");
    for (uint64_t off = 0; off < 4 * kTwoMiB; off += 4096) ram[off] = 1;
    RecordProperty("AnonHugePages_kB",
                   std::to_string(test::smaps_kib(test::smaps_of(ram), "AnonHugePages")));
    EXPECT_EQ(mem->backing(), PageBacking::kTransparentHuge);
    EXPECT_EQ(mem->host_page_bytes(), 4096u);  // THP can split: a userfaultfd fills 4 KiB.
}

TEST(GuestMemory, HugetlbBackingReservesTwoMibPagesUpFront) {
    const uint64_t before = test::available_huge_pages();
    if (before < 3) GTEST_SKIP() << "needs 3 free 2 MiB hugetlb pages (/proc/sys/vm/nr_hugepages)";
    {
        const GuestRange ranges[] = {{GuestAddress(0), 2 * kTwoMiB},
                                     {GuestAddress(1ull << 32), kTwoMiB}};
        auto mem = GuestMemory::anonymous(ranges, PageBacking::kHugetlb2M);
        ASSERT_TRUE(mem) << mem.error().message();
        // Reserved by mmap (no MAP_NORESERVE), before any page is touched.
        EXPECT_EQ(test::available_huge_pages(), before - 3);
        ASSERT_TRUE(mem->write_obj<uint64_t>(GuestAddress(kTwoMiB + 8), 0x1122334455667788));
        EXPECT_EQ(*mem->read_obj<uint64_t>(GuestAddress(kTwoMiB + 8)), 0x1122334455667788u);
        const uint8_t* low = mem->regions()[0].mapping.data();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(low) % kTwoMiB, 0u);
        EXPECT_EQ(test::smaps_of(low)["KernelPageSize"], "2048 kB");
        // Only the page written so far is in use.
        EXPECT_EQ(test::smaps_kib(test::smaps_of(low), "Private_Hugetlb"), 2048u);
        EXPECT_EQ(mem->host_page_bytes(), kTwoMiB);
        // Dirty tracking stays at 4 KiB, as KVM's dirty log: page 512 of 1024.
        std::vector<uint64_t> dirty(16);
        dirty[8] = 1;
        EXPECT_EQ(mem->take_dirty(0), dirty);
    }
    EXPECT_EQ(test::available_huge_pages(), before);  // Unmapping gave every page back.
}

TEST(GuestMemory, HugetlbBackingRefusesRangesThatAreNotWholeHugePages) {
    const GuestRange odd_size[] = {{GuestAddress(0), kTwoMiB + 4096}};
    auto mem = GuestMemory::anonymous(odd_size, PageBacking::kHugetlb2M);
    ASSERT_FALSE(mem);
    EXPECT_NE(mem.error().message().find("not a whole number of 2 MiB huge pages"),
              std::string::npos);
    const GuestRange odd_start[] = {{GuestAddress(4096), kTwoMiB}};
    EXPECT_FALSE(GuestMemory::anonymous(odd_start, PageBacking::kHugetlb2M));
}

// More pages than the host has free: mmap refuses the reservation and the error says how many
// pages are needed and where to reserve them. Nothing is touched, so this runs on any host.
TEST(GuestMemory, HugetlbBackingWithTooFewFreePagesSaysHowManyAreNeeded) {
    const uint64_t pages = test::available_huge_pages() + 2;
    const GuestRange ranges[] = {{GuestAddress(0), kTwoMiB},
                                 {GuestAddress(1ull << 32), (pages - 1) * kTwoMiB}};
    auto mem = GuestMemory::anonymous(ranges, PageBacking::kHugetlb2M);
    ASSERT_FALSE(mem);
    const std::string message = mem.error().message();
    EXPECT_NE(message.find("guest memory: 2M huge pages: " + std::to_string(pages) +
                           " pages of 2 MiB needed"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("/proc/sys/vm/nr_hugepages"), std::string::npos) << message;
}

}  // namespace
}  // namespace ember
