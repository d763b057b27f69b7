#include "vmm/memory/page_populate.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace ember {
namespace {

constexpr size_t kPage = 4096;

// Which of the `pages` pages from `base` are resident (mincore).
std::vector<bool> resident(uint8_t* base, size_t pages) {
    std::vector<unsigned char> vec(pages);
    EXPECT_EQ(::mincore(base, pages * kPage, vec.data()), 0);
    std::vector<bool> out(pages);
    std::transform(vec.begin(), vec.end(), out.begin(), [](unsigned char v) { return v & 1; });
    return out;
}

TEST(PrefaultForCopy, PopulatesTheWholePagesInsideTheSpanAndLeavesThemZero) {
    constexpr size_t kPages = 8;
    void* map =
        ::mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    auto* base = static_cast<uint8_t*>(map);
    // From the middle of page 1 to the middle of page 6: pages 2 to 5 are whole.
    prefault_for_copy({base + kPage + 100, 5 * kPage});
    const std::vector<bool> in = resident(base, kPages);
    if (!in[2]) {
        ::munmap(map, kPages * kPage);
        GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE (Linux 5.14)";
    }
    EXPECT_EQ(in, (std::vector<bool>{false, false, true, true, true, true, false, false}));
    EXPECT_TRUE(std::all_of(base, base + kPages * kPage, [](uint8_t b) { return b == 0; }));
    ::munmap(map, kPages * kPage);
}

TEST(PrefaultForCopy, ASpanWithinOnePageIsLeftAlone) {
    void* map =
        ::mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    auto* base = static_cast<uint8_t*>(map);
    prefault_for_copy({base + 1, kPage - 2});
    prefault_for_copy({base + kPage - 10, 20});
    prefault_for_copy({base, 0});
    EXPECT_EQ(resident(base, 2), (std::vector<bool>{false, false}));
    ::munmap(map, 2 * kPage);
}

}  // namespace
}  // namespace ember
