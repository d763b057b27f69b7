#include "vmm/base/mmap_region.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace ember {
namespace {

constexpr size_t kTwoMiB = size_t{2} << 20;

TEST(MmapRegion, AlignedAnonymousMappingStartsOnTheBoundaryAndIsUsable) {
    for (size_t size : {size_t{4096}, size_t{3} << 20, size_t{128} << 20}) {
        Result<MmapRegion> region = MmapRegion::anonymous_aligned(size, kTwoMiB);
        ASSERT_TRUE(region.has_value()) << size;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(region->data()) % kTwoMiB, 0U) << size;
        EXPECT_EQ(region->size(), size);
        // Both ends are mapped read-write.
        region->data()[0] = 0x5a;
        region->data()[size - 1] = 0xa5;
        EXPECT_EQ(region->data()[0], 0x5a);
        EXPECT_EQ(region->data()[size - 1], 0xa5);
    }
}

TEST(MmapRegion, AlignedAnonymousMappingRefusesBadArguments) {
    EXPECT_FALSE(MmapRegion::anonymous_aligned(0, kTwoMiB).has_value());
    EXPECT_FALSE(MmapRegion::anonymous_aligned(4096, 0).has_value());
    EXPECT_FALSE(MmapRegion::anonymous_aligned(4096, 3 << 20).has_value());
}

// Refused before mmap, so this needs no pages from the host's pool.
TEST(MmapRegion, HugetlbMappingMustBeWholeTwoMibPages) {
    for (size_t size : {size_t{0}, size_t{4096}, kTwoMiB + 4096}) {
        Result<MmapRegion> region = MmapRegion::anonymous_huge_2m(size);
        ASSERT_FALSE(region.has_value()) << size;
        EXPECT_NE(region.error().message().find("multiple of 2 MiB"), std::string::npos);
    }
}

}  // namespace
}  // namespace ember
