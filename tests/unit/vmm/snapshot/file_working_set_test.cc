// A recorded working set populated into a File-backend clone: written pages copied, read pages
// mapped and still shared, everything else left alone; records that do not belong refused.
#include "vmm/snapshot/file_working_set.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/vmm/memory/host_pages.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/page_populate.h"
#include "vmm/snapshot/working_set.h"

namespace ember::snapshot {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRegionPages = 16;

class FileWorkingSet : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = ::testing::TempDir() + "/file_working_set_XXXXXX";
        ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
        // A 40-page memory file: region 0 (gpa 0) is file pages 0-15, region 1 (gpa 1 MiB) is
        // file pages 24-39; pages 16-23 belong to no region. Every byte says which page it is in.
        std::vector<uint8_t> bytes(40 * kPage);
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i / kPage + 1);
        write_file(mem(), bytes);
        regions_ = {
            {.gpa = 0, .size_bytes = kRegionPages * kPage, .file_offset = 0},
            {.gpa = 1 << 20, .size_bytes = kRegionPages * kPage, .file_offset = 24 * kPage}};
    }
    void TearDown() override {
        for (const char* f : {"/mem", "/ws", "/fifo"}) ::unlink((dir_ + f).c_str());
        ::rmdir(dir_.c_str());
    }

    static void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    }
    std::string mem() const { return dir_ + "/mem"; }
    std::string ws() const { return dir_ + "/ws"; }

    void record(std::vector<uint64_t> pages, std::vector<uint64_t> written,
                uint64_t page_size = kPage) {
        Result<MemoryFileMapping> file = map_memory_file_readonly(mem());
        ASSERT_TRUE(file) << file.error().message();
        for (uint64_t& p : pages) p *= kPage;
        for (uint64_t& p : written) p *= kPage;
        Result<WorkingSet> set = make_working_set({file->map.data(), file->map.size()},
                                                  std::move(pages), page_size, std::move(written));
        ASSERT_TRUE(set) << set.error().message();
        ASSERT_TRUE(write_working_set(ws(), *set));
    }

    GuestMemory map() {
        Result<GuestMemory> memory = map_memory_file(mem(), regions_);
        EXPECT_TRUE(memory) << memory.error().message();
        return memory ? std::move(*memory) : GuestMemory();
    }

    // Overwrites file page `page` behind the clone's back: a page the clone maps shows it, a page
    // it copied does not.
    void scribble(uint64_t page) {
        int fd = ::open(mem().c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        uint8_t byte = 0xee;
        ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(page * kPage)), 1);
        ::close(fd);
    }

    std::string dir_;
    std::vector<MemoryRegionState> regions_;
};

TEST_F(FileWorkingSet, CopiesTheWrittenPagesAndMapsTheReadOnesShared) {
    // Region 0: pages 2-4 read, 5-6 written. Page 18 is in no region. Region 1: page 30 (its
    // 7th) written, 31 read.
    record({2, 3, 4, 18, 31}, {5, 6, 30});
    GuestMemory memory = map();
    const uint8_t* r0 = memory.regions()[0].mapping.data();
    const uint8_t* r1 = memory.regions()[1].mapping.data();
    ASSERT_EQ(test::smaps_kib(test::smaps_of(r0), "Rss"), 0u);

    Result<FilePopulateStats> stats = populate_file_working_set(memory, regions_, mem(), ws());
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(stats->pages, 7u);
    EXPECT_EQ(stats->written_pages, 3u);
    EXPECT_EQ(stats->runs, 4u);  // 2-4 read, 5-6 copied, 30 copied, 31 read.

    // Present without a fault: every recorded page (and the kernel's fault-around neighbours of the
    // read ones, shared too); private: exactly the written ones.
    EXPECT_GE(test::smaps_kib(test::smaps_of(r0), "Rss"), 5 * kPage / 1024);
    EXPECT_EQ(test::smaps_kib(test::smaps_of(r0), "Anonymous"), 2 * kPage / 1024);
    EXPECT_GE(test::smaps_kib(test::smaps_of(r1), "Rss"), 2 * kPage / 1024);
    EXPECT_EQ(test::smaps_kib(test::smaps_of(r1), "Anonymous"), 1 * kPage / 1024);

    // The contents are the file's either way; a copied page no longer follows the file.
    for (uint64_t p : {2u, 3u, 4u, 5u, 6u}) EXPECT_EQ(r0[p * kPage + 7], p + 1) << p;
    EXPECT_EQ(r1[6 * kPage], 31);
    scribble(3);
    scribble(5);
    EXPECT_EQ(r0[3 * kPage], 0xee);
    EXPECT_EQ(r0[5 * kPage], 6);
}

TEST_F(FileWorkingSet, ARecordWithoutWrittenPagesOnlyMaps) {
    record({2, 3}, {});  // As a version 1 record reads.
    GuestMemory memory = map();
    Result<FilePopulateStats> stats = populate_file_working_set(memory, regions_, mem(), ws());
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(stats->written_pages, 0u);
    const uint8_t* r0 = memory.regions()[0].mapping.data();
    EXPECT_GE(test::smaps_kib(test::smaps_of(r0), "Rss"), 2 * kPage / 1024);
    EXPECT_EQ(test::smaps_kib(test::smaps_of(r0), "Anonymous"), 0u);
}

TEST_F(FileWorkingSet, RefusesARecordFromAnotherMemoryFileBeforeTouchingMemory) {
    record({2, 3}, {3});
    scribble(3);  // Same size, other contents: another snapshot of the same VM shape.
    GuestMemory memory = map();
    Result<FilePopulateStats> stats = populate_file_working_set(memory, regions_, mem(), ws());
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message().find("was recorded from another memory file"),
              std::string::npos)
        << stats.error().message();
    EXPECT_EQ(test::smaps_kib(test::smaps_of(memory.regions()[0].mapping.data()), "Rss"), 0u);
}

TEST_F(FileWorkingSet, RefusesAnotherPageSize) {
    // Offsets on the 2 MiB grid would be outside this small file: record page 0 only.
    Result<MemoryFileMapping> file = map_memory_file_readonly(mem());
    ASSERT_TRUE(file);
    WorkingSet set{.page_size = 2 << 20,
                   .memory_file_bytes = file->map.size(),
                   .fingerprint = 0,
                   .offsets = {},
                   .written = {}};
    set.fingerprint =
        working_set_fingerprint({file->map.data(), file->map.size()}, set.offsets, set.page_size);
    ASSERT_TRUE(write_working_set(ws(), set));
    GuestMemory memory = map();
    Result<FilePopulateStats> stats = populate_file_working_set(memory, regions_, mem(), ws());
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message().find("has 2097152-byte pages, the VM's memory has 4096"),
              std::string::npos)
        << stats.error().message();
}

TEST_F(FileWorkingSet, RefusesAFifoOrAMissingRecordWithoutBlocking) {
    ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
    GuestMemory memory = map();
    Result<FilePopulateStats> fifo =
        populate_file_working_set(memory, regions_, mem(), dir_ + "/fifo");
    ASSERT_FALSE(fifo);
    EXPECT_NE(fifo.error().message().find("not a regular file"), std::string::npos)
        << fifo.error().message();
    EXPECT_FALSE(populate_file_working_set(memory, regions_, mem(), dir_ + "/none"));
}

TEST(PagePopulate, WriteCopiesAPrivateAnonymousRangeAndReadOnlyMapsIt) {
    Result<MmapRegion> map = MmapRegion::anonymous(8 * kPage);
    ASSERT_TRUE(map);
    ASSERT_TRUE(populate_pages(map->data(), 2 * kPage, kPage, Populate::kRead));
    ASSERT_TRUE(populate_pages(map->data() + 4 * kPage, 3 * kPage, kPage, Populate::kWrite));
    // The zero page maps a read; only written pages take memory.
    EXPECT_EQ(test::smaps_kib(test::smaps_of(map->data()), "Anonymous"), 3 * kPage / 1024);
}

}  // namespace
}  // namespace ember::snapshot
