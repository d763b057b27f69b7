// Memory files on hugetlbfs: written through a shared mapping, mapped MAP_PRIVATE as 2 MiB pages
// that a guest write copies without touching the file, and never a diff. Needs a hugetlbfs mount
// of 2 MiB pages (EMBER_TEST_HUGETLBFS, else the first in /proc/mounts; tests/run.sh mounts one)
// and free pages in the host's pool.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/vmm/memory/host_pages.h"
#include "vmm/snapshot/hugetlbfs_file.h"
#include "vmm/snapshot/memory_file.h"

namespace ember::snapshot {
namespace {

constexpr uint64_t kHuge = kHugePage2MBytes;

std::string hugetlbfs_mount() {
    if (const char* dir = std::getenv("EMBER_TEST_HUGETLBFS"); dir && *dir) return dir;
    std::ifstream mounts("/proc/mounts");
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream fields(line);
        std::string source, dir, type, options;
        fields >> source >> dir >> type >> options;
        if (type == "hugetlbfs" && (options.find("pagesize=2M") != std::string::npos ||
                                    options.find("pagesize=") == std::string::npos)) {
            return dir;
        }
    }
    return {};
}

class HugetlbfsFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = hugetlbfs_mount();
        if (dir_.empty()) GTEST_SKIP() << "no hugetlbfs mount of 2 MiB pages";
        // The file's 2 pages, then 2 private copies at most.
        if (test::available_huge_pages() < 4) GTEST_SKIP() << "needs 4 free 2 MiB pages";
    }
    void TearDown() override {
        for (const std::string& p : paths_) ::unlink(p.c_str());
    }
    std::string path(const char* name) {
        std::string p = dir_ + "/ember_hugetlbfs_file_test_" + name + std::to_string(::getpid());
        paths_.push_back(p);
        return p;
    }
    std::string dir_;
    std::vector<std::string> paths_;
};

// Two 2 MiB regions, the second above 4 GiB, with a distinct byte in each 4 KiB page.
std::vector<uint8_t> pattern(uint8_t seed) {
    std::vector<uint8_t> bytes(kHuge);
    for (size_t i = 0; i < bytes.size(); i += kPageSize)
        bytes[i] = static_cast<uint8_t>(seed + i / kPageSize);
    return bytes;
}

TEST_F(HugetlbfsFileTest, AFullSnapshotThereIsMappedBackAs2MiBPagesPrivately) {
    std::vector<uint8_t> low = pattern(1), high = pattern(7);
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = low},
                                       {.gpa = 1ull << 32, .bytes = high}};
    const std::string file = path("full");
    Result<MemoryFileLayout> layout = write_full_memory(file, chunks);
    ASSERT_TRUE(layout) << layout.error().message();
    EXPECT_EQ(layout->file_size_bytes, 2 * kHuge);

    Result<GuestMemory> mem = map_memory_file(file, layout->regions);
    ASSERT_TRUE(mem) << mem.error().message();
    EXPECT_EQ(mem->backing(), PageBacking::kHugetlb2M);
    EXPECT_EQ(mem->host_page_bytes(), kHuge);
    EXPECT_EQ(*mem->read_obj<uint8_t>(GuestAddress(5 * kPageSize)), 1 + 5);
    EXPECT_EQ(*mem->read_obj<uint8_t>(GuestAddress((1ull << 32) + 9 * kPageSize)), 7 + 9);
    // The kernel says the mapping is hugetlb with 2 MiB pages.
    const auto smaps = test::smaps_of(mem->regions()[0].mapping.data());
    EXPECT_EQ(smaps.at("KernelPageSize"), "2048 kB");
    EXPECT_NE(smaps.at("VmFlags").find("ht"), std::string::npos) << smaps.at("VmFlags");

    // A guest write copies the page; the file, as the next clone maps it, is unchanged. (Each
    // mapping reserves its possible copies: the pool has room for one clone at a time here.)
    ASSERT_TRUE(mem->write_obj<uint32_t>(GuestAddress(0), 0xdeadbeef));
    EXPECT_EQ(*mem->read_obj<uint32_t>(GuestAddress(0)), 0xdeadbeefu);
    *mem = GuestMemory();
    Result<GuestMemory> clone = map_memory_file(file, layout->regions);
    ASSERT_TRUE(clone) << clone.error().message();
    EXPECT_EQ(*clone->read_obj<uint8_t>(GuestAddress(0)), 1);
}

TEST_F(HugetlbfsFileTest, RefusesADiffAndRegionsThatAreNotWhole2MiBPages) {
    std::vector<uint8_t> low = pattern(3);
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = low}};
    std::vector<uint64_t> bits(kHuge / kPageSize / 64, 0);
    bits[0] = 1;
    std::vector<std::span<const uint64_t>> dirty = {bits};
    Result<MemoryFileLayout> diff = write_diff_memory(path("diff"), chunks, dirty);
    ASSERT_FALSE(diff);
    EXPECT_NE(diff.error().message().find("cannot keep the holes"), std::string::npos)
        << diff.error().message();

    std::vector<MemoryChunk> odd = {{.gpa = 0, .bytes = {low.data(), kHuge / 2}}};
    Result<MemoryFileLayout> half = write_full_memory(path("half"), odd);
    ASSERT_FALSE(half);
    EXPECT_NE(half.error().message().find("not a multiple of 2 MiB"), std::string::npos)
        << half.error().message();
}

TEST_F(HugetlbfsFileTest, ARegularFileIsNotHugetlbfs) {
    const std::string regular = ::testing::TempDir() + "/ember_hugetlbfs_regular";
    int fd = ::open(regular.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    Result<bool> huge = on_hugetlbfs_2m(fd);
    ::close(fd);
    ::unlink(regular.c_str());
    ASSERT_TRUE(huge);
    EXPECT_FALSE(*huge);
}

}  // namespace
}  // namespace ember::snapshot
