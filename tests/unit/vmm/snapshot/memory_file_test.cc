#include "vmm/snapshot/memory_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tests/unit/vmm/memory/host_pages.h"

namespace ember::snapshot {
namespace {

constexpr size_t kPages = 16;
constexpr size_t kDataPages[] = {0, 1, 2, 3, 12, 13, 14, 15};

// Guest memory: pages 0-3 and 12-15 hold data, 4-11 are zero.
std::vector<uint8_t> sample_memory() {
    std::vector<uint8_t> mem(kPages * kPageSize, 0);
    for (size_t p : kDataPages) {
        for (size_t i = 0; i < kPageSize; ++i) mem[p * kPageSize + i] = static_cast<uint8_t>(p + i);
    }
    return mem;
}

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

uint64_t allocated_bytes(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

// Where the data extent at or after `offset` starts, or -1 when only holes follow.
off_t next_data(const std::string& path, off_t offset) {
    int fd = ::open(path.c_str(), O_RDONLY);
    off_t out = ::lseek(fd, offset, SEEK_DATA);
    ::close(fd);
    return out;
}
off_t next_hole(const std::string& path, off_t offset) {
    int fd = ::open(path.c_str(), O_RDONLY);
    off_t out = ::lseek(fd, offset, SEEK_HOLE);
    ::close(fd);
    return out;
}

class MemoryFileTest : public ::testing::Test {
protected:
    std::string path(const char* name) {
        std::string p = ::testing::TempDir() + "/memory_file_test_" + name;
        paths_.push_back(p);
        return p;
    }
    void TearDown() override {
        for (const std::string& p : paths_) ::unlink(p.c_str());
    }
    std::vector<std::string> paths_;
};

TEST_F(MemoryFileTest, FullWriteStoresEveryRegionBackToBackAndLeavesZeroPagesAsHoles) {
    std::vector<uint8_t> low = sample_memory();
    std::vector<uint8_t> high(4 * kPageSize, 0xee);
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = low},
                                       {.gpa = 1ull << 32, .bytes = high}};
    std::string file = path("full");
    Result<MemoryFileLayout> layout = write_full_memory(file, chunks);
    ASSERT_TRUE(layout) << layout.error().message();
    EXPECT_EQ(layout->file_size_bytes, low.size() + high.size());
    EXPECT_EQ(layout->pages_written, 8u + 4u);
    ASSERT_EQ(layout->regions.size(), 2u);
    EXPECT_EQ(layout->regions[1],
              (MemoryRegionState{
                  .gpa = 1ull << 32, .size_bytes = high.size(), .file_offset = low.size()}));

    std::vector<uint8_t> contents = read_all(file);
    std::vector<uint8_t> expected = low;
    expected.insert(expected.end(), high.begin(), high.end());
    EXPECT_EQ(contents, expected);
    // Pages 4-11 are a hole: no blocks, and SEEK_DATA/SEEK_HOLE see it.
    EXPECT_LE(allocated_bytes(file), 12 * kPageSize);
    EXPECT_EQ(next_hole(file, 0), static_cast<off_t>(4 * kPageSize));
    EXPECT_EQ(next_data(file, 4 * kPageSize), static_cast<off_t>(12 * kPageSize));
}

TEST_F(MemoryFileTest, FullWriteOfAnAllZeroRegionAllocatesNothing) {
    std::vector<uint8_t> zeros(64 * kPageSize, 0);
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = zeros}};
    std::string file = path("zeros");
    Result<MemoryFileLayout> layout = write_full_memory(file, chunks);
    ASSERT_TRUE(layout);
    EXPECT_EQ(layout->pages_written, 0u);
    EXPECT_EQ(allocated_bytes(file), 0u);
    EXPECT_EQ(read_all(file), zeros);
}

TEST_F(MemoryFileTest, FullWriteReplacesAnOlderFileEntirely) {
    std::string file = path("replace");
    std::vector<uint8_t> ones(8 * kPageSize, 1);
    std::vector<MemoryChunk> first = {{.gpa = 0, .bytes = ones}};
    ASSERT_TRUE(write_full_memory(file, first));
    std::vector<uint8_t> zeros(8 * kPageSize, 0);
    std::vector<MemoryChunk> second = {{.gpa = 0, .bytes = zeros}};
    ASSERT_TRUE(write_full_memory(file, second));
    EXPECT_EQ(read_all(file), zeros);
    EXPECT_EQ(allocated_bytes(file), 0u);
}

TEST_F(MemoryFileTest, DiffWritesOnlyDirtyPagesIncludingZeroedOnes) {
    std::vector<uint8_t> mem = sample_memory();
    std::fill_n(mem.begin() + 2 * kPageSize, kPageSize, 0);  // The guest zeroed page 2.
    std::vector<uint64_t> bitmap = {(1u << 2) | (1u << 13)};
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    std::vector<std::span<const uint64_t>> dirty = {bitmap};
    std::string file = path("diff");
    Result<MemoryFileLayout> layout = write_diff_memory(file, chunks, dirty);
    ASSERT_TRUE(layout) << layout.error().message();
    EXPECT_EQ(layout->pages_written, 2u);
    EXPECT_EQ(layout->file_size_bytes, mem.size());
    EXPECT_LE(allocated_bytes(file), 2 * kPageSize + kPageSize);
    // Page 2 is data (zeros), 3-12 a hole, 13 data.
    EXPECT_EQ(next_data(file, 0), static_cast<off_t>(2 * kPageSize));
    EXPECT_EQ(next_hole(file, 2 * kPageSize), static_cast<off_t>(3 * kPageSize));
    EXPECT_EQ(next_data(file, 3 * kPageSize), static_cast<off_t>(13 * kPageSize));
    std::vector<uint8_t> contents = read_all(file);
    EXPECT_TRUE(std::equal(contents.begin() + 13 * kPageSize, contents.begin() + 14 * kPageSize,
                           mem.begin() + 13 * kPageSize));
}

TEST_F(MemoryFileTest, DiffRefusesAShortBitmap) {
    std::vector<uint8_t> mem(128 * kPageSize, 0);
    std::vector<uint64_t> bitmap = {~0ull};  // Covers 64 of 128 pages.
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    std::vector<std::span<const uint64_t>> dirty = {bitmap};
    EXPECT_FALSE(write_diff_memory(path("short"), chunks, dirty));
}

TEST_F(MemoryFileTest, ResidentPagesAreTheTouchedOnes) {
    Result<MmapRegion> ram = MmapRegion::anonymous(130 * kPageSize);
    ASSERT_TRUE(ram);
    for (size_t p : {size_t{0}, size_t{5}, size_t{64}, size_t{129}}) ram->data()[p * kPageSize] = 1;
    Result<std::vector<uint64_t>> bitmap = resident_pages({ram->data(), ram->size()});
    ASSERT_TRUE(bitmap) << bitmap.error().message();
    ASSERT_EQ(bitmap->size(), 3u);
    EXPECT_EQ((*bitmap)[0], (1ull << 0) | (1ull << 5));
    EXPECT_EQ((*bitmap)[1], 1ull << 0);
    EXPECT_EQ((*bitmap)[2], 1ull << 1);
}

// A clone restored with the File backend reads much of its memory file and writes little: its
// diff without track_dirty_pages holds the pages it wrote (their private copies), not every page
// it read from the page cache.
TEST_F(MemoryFileTest, ResidentPagesOfAMemoryFileAreTheOnesWrittenSinceTheLoad) {
    std::vector<uint8_t> low = sample_memory();
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = low}};
    std::string file = path("clone");
    Result<MemoryFileLayout> layout = write_full_memory(file, chunks);
    ASSERT_TRUE(layout);
    Result<GuestMemory> mem = map_memory_file(file, layout->regions);
    ASSERT_TRUE(mem) << mem.error().message();
    uint64_t sum = 0;
    for (size_t p = 0; p < kPages; ++p) sum += *mem->read_obj<uint8_t>(GuestAddress(p * kPageSize));
    EXPECT_GT(sum, 0u);
    ASSERT_TRUE(mem->write_obj<uint8_t>(GuestAddress(3 * kPageSize), 9));
    ASSERT_TRUE(mem->write_obj<uint8_t>(GuestAddress(7 * kPageSize + 1), 9));  // A hole before.
    const MmapRegion& mapping = mem->regions()[0].mapping;
    Result<std::vector<uint64_t>> bitmap = resident_pages({mapping.data(), mapping.size()});
    ASSERT_TRUE(bitmap) << bitmap.error().message();
    ASSERT_EQ(bitmap->size(), 1u);
    EXPECT_EQ((*bitmap)[0], (1ull << 3) | (1ull << 7));
}

// A Diff snapshot of a 2M VM without track_dirty_pages: mincore(2) on hugetlb memory reports
// each 4 KiB piece of a present 2 MiB page, so the diff saves whole touched huge pages (a
// superset of the dirty pages, at the 4 KiB granularity the memory file uses) and nothing else.
TEST_F(MemoryFileTest, ResidentPagesOfHugetlbMemoryAreWholeTouchedHugePages) {
    constexpr size_t kHugePageBytes = size_t{2} << 20;
    constexpr size_t kPiecesPerHugePage = kHugePageBytes / kPageSize;  // 512, 8 bitmap words.
    if (test::available_huge_pages() < 3) {
        GTEST_SKIP() << "needs 3 free 2 MiB hugetlb pages (/proc/sys/vm/nr_hugepages)";
    }
    Result<MmapRegion> ram = MmapRegion::anonymous_huge_2m(3 * kHugePageBytes);
    ASSERT_TRUE(ram) << ram.error().message();
    ram->data()[kHugePageBytes + 5 * kPageSize] = 1;  // One byte of the middle huge page.
    Result<std::vector<uint64_t>> bitmap = resident_pages({ram->data(), ram->size()});
    ASSERT_TRUE(bitmap) << bitmap.error().message();
    ASSERT_EQ(bitmap->size(), 3 * kPiecesPerHugePage / 64);
    for (size_t w = 0; w < bitmap->size(); ++w) {
        const bool middle = w >= 8 && w < 16;
        EXPECT_EQ((*bitmap)[w], middle ? ~0ull : 0ull) << "word " << w;
    }
    // The diff then holds exactly that huge page.
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = {ram->data(), ram->size()}}};
    std::vector<std::span<const uint64_t>> dirty = {*bitmap};
    const std::string diff = path("huge-diff");
    Result<MemoryFileLayout> layout = write_diff_memory(diff, chunks, dirty);
    ASSERT_TRUE(layout) << layout.error().message();
    EXPECT_EQ(layout->pages_written, kPiecesPerHugePage);
    EXPECT_EQ(next_data(diff, 0), static_cast<off_t>(kHugePageBytes));
}

TEST_F(MemoryFileTest, MergedDiffEqualsAFullSnapshotOfTheNewMemory) {
    std::vector<uint8_t> mem = sample_memory();
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    std::string base = path("base");
    ASSERT_TRUE(write_full_memory(base, chunks));

    // The guest then zeroes page 1, writes page 6 (a hole in the base) and rewrites page 14.
    std::fill_n(mem.begin() + 1 * kPageSize, kPageSize, 0);
    std::fill_n(mem.begin() + 6 * kPageSize, kPageSize, 0x66);
    std::fill_n(mem.begin() + 14 * kPageSize, kPageSize, 0x14);
    std::vector<uint64_t> bitmap = {(1u << 1) | (1u << 6) | (1u << 14)};
    std::vector<std::span<const uint64_t>> dirty = {bitmap};
    std::string diff = path("diff");
    ASSERT_TRUE(write_diff_memory(diff, chunks, dirty));

    Result<MergeStats> stats = merge_diff(base, diff);
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(stats->bytes_copied, 3 * kPageSize);
    EXPECT_EQ(stats->extents, 3u);
    EXPECT_EQ(read_all(base), mem);
    // Pages the diff did not touch keep their holes.
    EXPECT_EQ(next_data(base, 7 * kPageSize), static_cast<off_t>(12 * kPageSize));
}

TEST_F(MemoryFileTest, MergeRefusesADiffOfAnotherSize) {
    std::vector<uint8_t> small(4 * kPageSize, 1), big(8 * kPageSize, 1);
    std::vector<MemoryChunk> a = {{.gpa = 0, .bytes = small}}, b = {{.gpa = 0, .bytes = big}};
    std::string base = path("base2"), diff = path("diff2");
    ASSERT_TRUE(write_full_memory(base, a));
    ASSERT_TRUE(write_full_memory(diff, b));
    Result<MergeStats> stats = merge_diff(base, diff);
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message().find("does not match its base"), std::string::npos);
    EXPECT_EQ(read_all(base), small);
}

// Writes `bytes` as a file with no holes, as `cat diff > copy` or scp would leave a diff.
void write_dense(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

// Before: a diff copied without its holes zeroed every base page it had not written.
TEST_F(MemoryFileTest, MergeRefusesADiffWithoutHolesWhoseZeroPagesWouldEraseBaseData) {
    std::vector<uint8_t> mem = sample_memory();
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    std::string base = path("dense-base");
    ASSERT_TRUE(write_full_memory(base, chunks));
    std::fill_n(mem.begin() + 6 * kPageSize, kPageSize, 0x66);
    std::vector<uint64_t> bitmap = {1u << 6};
    std::vector<std::span<const uint64_t>> dirty = {bitmap};
    std::string sparse = path("dense-sparse-diff");
    ASSERT_TRUE(write_diff_memory(sparse, chunks, dirty));
    std::string dense = path("dense-diff");
    write_dense(dense, read_all(sparse));
    ASSERT_EQ(next_data(dense, 0), 0);
    ASSERT_EQ(next_hole(dense, 0), static_cast<off_t>(kPages * kPageSize));

    const std::vector<uint8_t> before = read_all(base);
    Result<MergeStats> stats = merge_diff(base, dense);
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message().find("has no holes"), std::string::npos)
        << stats.error().message();
    // Pages 0-3 and 12-15: the first at 0.
    EXPECT_NE(stats.error().message().find("8 of them (the first at offset 0x0)"),
              std::string::npos)
        << stats.error().message();
    EXPECT_EQ(read_all(base), before);

    // The sparse original merges to the new memory, keeping every page it did not write.
    ASSERT_TRUE(merge_diff(base, sparse));
    EXPECT_EQ(read_all(base), mem);
}

TEST_F(MemoryFileTest, MergeCopiesADiffWithoutHolesWhenEveryPageWasWritten) {
    std::vector<uint8_t> mem = sample_memory();
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    std::string base = path("all-dirty-base");
    ASSERT_TRUE(write_full_memory(base, chunks));
    // The guest zeroed page 2 and wrote everything else: every page dirty.
    std::vector<uint8_t> next(mem.size(), 0x5a);
    std::fill_n(next.begin() + 2 * kPageSize, kPageSize, 0);
    std::string diff = path("all-dirty-diff");
    write_dense(diff, next);
    // Page 2 is zero over base data: refused unless the caller says every page was written.
    ASSERT_FALSE(merge_diff(base, diff));
    Result<MergeStats> stats = merge_diff(base, diff, DenseDiff::kAccept);
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(stats->bytes_copied, kPages * kPageSize);
    EXPECT_EQ(read_all(base), next);
}

TEST_F(MemoryFileTest, MergeTakesADiffWithoutHolesWhoseZeroPagesLieOverZeroBasePages) {
    std::vector<uint8_t> mem = sample_memory();
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    std::string base = path("zero-over-zero-base");
    ASSERT_TRUE(write_full_memory(base, chunks));
    // Pages 4-11 stay zero, every data page changes: nothing is lost either way.
    std::vector<uint8_t> next = mem;
    for (size_t p : kDataPages) std::fill_n(next.data() + p * kPageSize, kPageSize, 0x77);
    std::string diff = path("zero-over-zero-diff");
    write_dense(diff, next);
    Result<MergeStats> stats = merge_diff(base, diff);
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(read_all(base), next);
}

TEST_F(MemoryFileTest, MergeRefusesADiffShorterThanItsBaseOrNotAFile) {
    std::vector<uint8_t> big(8 * kPageSize, 1), small(4 * kPageSize, 2);
    std::vector<MemoryChunk> a = {{.gpa = 0, .bytes = big}}, b = {{.gpa = 0, .bytes = small}};
    std::string base = path("short-base"), diff = path("short-diff");
    ASSERT_TRUE(write_full_memory(base, a));
    ASSERT_TRUE(write_full_memory(diff, b));
    Result<MergeStats> stats = merge_diff(base, diff);
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message().find("does not match its base"), std::string::npos);
    EXPECT_EQ(read_all(base), big);

    // A FIFO where the diff should be: refused at once, not waited on.
    std::string fifo = path("fifo-diff");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    stats = merge_diff(base, fifo);
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message().find("not a regular file"), std::string::npos)
        << stats.error().message();
    EXPECT_EQ(read_all(base), big);
}

TEST_F(MemoryFileTest, MapsTheFilePrivatelySoGuestWritesNeverReachIt) {
    std::vector<uint8_t> low = sample_memory();
    std::vector<uint8_t> high(4 * kPageSize, 0xee);
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = low},
                                       {.gpa = 1ull << 32, .bytes = high}};
    std::string file = path("map");
    Result<MemoryFileLayout> layout = write_full_memory(file, chunks);
    ASSERT_TRUE(layout);
    Result<GuestMemory> mem = map_memory_file(file, layout->regions);
    ASSERT_TRUE(mem) << mem.error().message();
    EXPECT_EQ(*mem->read_obj<uint8_t>(GuestAddress(12 * kPageSize + 5)),
              static_cast<uint8_t>(12 + 5));
    EXPECT_EQ(*mem->read_obj<uint8_t>(GuestAddress((1ull << 32) + 100)), 0xee);
    ASSERT_TRUE(mem->write_obj<uint32_t>(GuestAddress(0), 0xdeadbeef));
    EXPECT_EQ(*mem->read_obj<uint32_t>(GuestAddress(0)), 0xdeadbeefu);
    std::vector<uint8_t> expected = low;
    expected.insert(expected.end(), high.begin(), high.end());
    EXPECT_EQ(read_all(file), expected);

    std::vector<MemoryRegionState> too_big = layout->regions;
    too_big[1].size_bytes *= 2;
    Result<GuestMemory> bad = map_memory_file(file, too_big);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("too short"), std::string::npos);
}

}  // namespace
}  // namespace ember::snapshot
