// The working-set record: its format, every refusal, the atomic write and run coalescing.
#include "vmm/snapshot/working_set.h"

#include <dirent.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>

namespace ember::snapshot {
namespace {

constexpr uint64_t kPage = 4096;

// A 64-page "memory file" whose pages differ.
std::vector<uint8_t> memory_of(uint8_t seed, size_t pages = 64) {
    std::vector<uint8_t> memory(pages * kPage);
    for (size_t i = 0; i < memory.size(); ++i)
        memory[i] = static_cast<uint8_t>(i / kPage * 7 + seed);
    return memory;
}

WorkingSet sample_set(const std::vector<uint8_t>& memory) {
    Result<WorkingSet> set = make_working_set(memory, {5 * kPage, 0, 6 * kPage, 5 * kPage}, kPage);
    EXPECT_TRUE(set) << set.error().message();
    return *set;
}

void put_u64(std::vector<uint8_t>& bytes, size_t at, uint64_t v) {
    for (size_t i = 0; i < 8; ++i) bytes[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
    Result<WorkingSet> set = decode_working_set(bytes);
    return set ? std::string("accepted") : set.error().message();
}

TEST(WorkingSet, SortsAndDeduplicatesAndRoundTrips) {
    std::vector<uint8_t> memory = memory_of(1);
    WorkingSet set = sample_set(memory);
    EXPECT_EQ(set.offsets, (std::vector<uint64_t>{0, 5 * kPage, 6 * kPage}));
    EXPECT_EQ(set.memory_file_bytes, memory.size());
    std::vector<uint8_t> bytes = encode_working_set(set);
    EXPECT_EQ(bytes.size(), kWorkingSetHeaderBytes + size_t{24});
    EXPECT_EQ(std::memcmp(bytes.data(), "EMBERWS", 8), 0);
    Result<WorkingSet> decoded = decode_working_set(bytes);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(*decoded, set);
    EXPECT_TRUE(check_working_set(*decoded, memory, kPage, "ws"));
}

TEST(WorkingSet, RefusesAWrongMagicOrVersion) {
    std::vector<uint8_t> bytes = encode_working_set(sample_set(memory_of(1)));
    std::vector<uint8_t> magic = bytes;
    magic[0] = 'X';
    EXPECT_NE(decode_error(magic).find("wrong magic"), std::string::npos) << decode_error(magic);
    std::vector<uint8_t> version = bytes;
    for (uint8_t v : {uint8_t{0}, uint8_t{3}}) {
        version[8] = v;
        EXPECT_NE(decode_error(version).find(fmt::format("version {}, this reader reads versions "
                                                         "1 to 2",
                                                         v)),
                  std::string::npos)
            << decode_error(version);
    }
}

TEST(WorkingSet, MarksWrittenPagesInTheLowBitAndRoundTrips) {
    std::vector<uint8_t> memory = memory_of(1);
    // A written page missing from the offsets is still part of the set.
    Result<WorkingSet> set =
        make_working_set(memory, {6 * kPage, 0}, kPage, {9 * kPage, 6 * kPage, 9 * kPage});
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->offsets, (std::vector<uint64_t>{0, 6 * kPage, 9 * kPage}));
    EXPECT_EQ(set->written, (std::vector<uint64_t>{6 * kPage, 9 * kPage}));
    std::vector<uint8_t> bytes = encode_working_set(*set);
    EXPECT_EQ(bytes[8], kWorkingSetVersion);
    EXPECT_EQ(bytes[kWorkingSetHeaderBytes], 0);                  // Page 0: read.
    EXPECT_EQ(bytes[kWorkingSetHeaderBytes + 8], kWrittenFlag);   // Page 6: written.
    EXPECT_EQ(bytes[kWorkingSetHeaderBytes + 16], kWrittenFlag);  // Page 9: written.
    Result<WorkingSet> decoded = decode_working_set(bytes);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(*decoded, *set);
    // The fingerprint covers the pages, not the marks: marking more keeps the record valid.
    EXPECT_TRUE(check_working_set(*decoded, memory, kPage, "ws"));
}

TEST(WorkingSet, ReadsAVersionOneRecordAsNothingWritten) {
    std::vector<uint8_t> bytes = encode_working_set(sample_set(memory_of(1)));
    bytes[8] = 1;
    Result<WorkingSet> decoded = decode_working_set(bytes);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->offsets, (std::vector<uint64_t>{0, 5 * kPage, 6 * kPage}));
    EXPECT_TRUE(decoded->written.empty());
    // In version 1 the low bit is no mark: an odd offset is unaligned.
    put_u64(bytes, kWorkingSetHeaderBytes + 8, 5 * kPage + 1);
    EXPECT_NE(decode_error(bytes).find("not a multiple of the page size"), std::string::npos)
        << decode_error(bytes);
}

TEST(WorkingSet, RefusesTruncationAndTrailingBytes) {
    std::vector<uint8_t> bytes = encode_working_set(sample_set(memory_of(1)));
    for (size_t len : {size_t{0}, size_t{7}, kWorkingSetHeaderBytes - 1, bytes.size() - 1}) {
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(len));
        EXPECT_NE(decode_error(cut).find("truncated"), std::string::npos) << len;
    }
    bytes.push_back(0);
    EXPECT_NE(decode_error(bytes).find("trailing bytes"), std::string::npos);
}

TEST(WorkingSet, RefusesMorePagesThanTheBoundWithoutReadingThem) {
    std::vector<uint8_t> bytes = encode_working_set(sample_set(memory_of(1)));
    put_u64(bytes, 40, kMaxWorkingSetPages + 1);
    EXPECT_NE(decode_error(bytes).find("at most"), std::string::npos) << decode_error(bytes);
}

TEST(WorkingSet, RefusesOffsetsOutsideTheFileUnalignedOrUnsorted) {
    std::vector<uint8_t> bytes = encode_working_set(sample_set(memory_of(1)));
    const size_t last = kWorkingSetHeaderBytes + size_t{16};
    std::vector<uint8_t> outside = bytes;
    put_u64(outside, last, 64 * kPage);
    EXPECT_NE(decode_error(outside).find("outside the 262144-byte memory file"), std::string::npos)
        << decode_error(outside);
    std::vector<uint8_t> wraps = bytes;
    put_u64(wraps, last, ~uint64_t{0} - kPage + 1);
    EXPECT_NE(decode_error(wraps).find("outside"), std::string::npos) << decode_error(wraps);
    std::vector<uint8_t> unaligned = bytes;
    put_u64(unaligned, last, 6 * kPage + 8);
    EXPECT_NE(decode_error(unaligned).find("not a multiple of the page size"), std::string::npos)
        << decode_error(unaligned);
    std::vector<uint8_t> repeated = bytes;
    put_u64(repeated, last, 5 * kPage);
    EXPECT_NE(decode_error(repeated).find("not sorted or repeated"), std::string::npos)
        << decode_error(repeated);
    std::vector<uint8_t> page_size = bytes;
    put_u64(page_size, 16, 3000);
    EXPECT_NE(decode_error(page_size).find("bad page size"), std::string::npos);
}

TEST(WorkingSet, RefusesAnotherPageSizeThanTheHandshakes) {
    std::vector<uint8_t> memory = memory_of(1);
    Result<void> checked = check_working_set(sample_set(memory), memory, 2 << 20, "ws");
    ASSERT_FALSE(checked);
    EXPECT_NE(checked.error().message().find("ws has 4096-byte pages, the VM's memory has "
                                             "2097152-byte pages"),
              std::string::npos)
        << checked.error().message();
}

TEST(WorkingSet, RefusesARecordFromAnotherMemoryFile) {
    std::vector<uint8_t> memory = memory_of(1);
    WorkingSet set = sample_set(memory);
    // Same size, other contents in a recorded page.
    std::vector<uint8_t> other = memory;
    other[6 * kPage + 100] ^= 1;
    Result<void> checked = check_working_set(set, other, kPage, "fn.ws");
    ASSERT_FALSE(checked);
    EXPECT_NE(checked.error().message().find(
                  "the working-set record fn.ws was recorded from another memory file"),
              std::string::npos)
        << checked.error().message();
    // Another size.
    std::vector<uint8_t> shorter = memory_of(1, 32);
    checked = check_working_set(set, shorter, kPage, "fn.ws");
    ASSERT_FALSE(checked);
    EXPECT_NE(checked.error().message().find("recorded from another memory file"),
              std::string::npos)
        << checked.error().message();
    // A page outside the record does not take part.
    std::vector<uint8_t> elsewhere = memory;
    elsewhere[10 * kPage] ^= 1;
    EXPECT_TRUE(check_working_set(set, elsewhere, kPage, "fn.ws"));
}

TEST(WorkingSet, RandomBytesNeverCrashTheReaderAndRarelyPass) {
    std::mt19937_64 rng(17);
    std::vector<uint8_t> valid = encode_working_set(sample_set(memory_of(1)));
    size_t accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::vector<uint8_t> bytes;
        if (round % 2 == 0) {
            bytes.resize(rng() % 200);
            for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
        } else {
            // Mutations of a valid record reach the checks past the header.
            bytes = valid;
            for (int flips = 0; flips < 1 + static_cast<int>(rng() % 4); ++flips) {
                bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
            }
            if (rng() % 4 == 0) bytes.resize(rng() % (bytes.size() + 16));
        }
        Result<WorkingSet> set = decode_working_set(bytes);
        if (set) {
            ++accepted;
            // Whatever it accepts is well formed.
            EXPECT_LE(set->offsets.size(), kMaxWorkingSetPages);
            for (size_t i = 0; i < set->offsets.size(); ++i) {
                EXPECT_EQ(set->offsets[i] % set->page_size, 0u);
                EXPECT_LE(set->offsets[i] + set->page_size, set->memory_file_bytes);
                if (i > 0) {
                    EXPECT_LT(set->offsets[i - 1], set->offsets[i]);
                }
            }
        }
    }
    EXPECT_LT(accepted, 5000u);  // Mutated fingerprints or sizes still decode; most do not.
}

class WorkingSetFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ember-ws-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        for (const char* f : {"/ws", "/fifo", "/big"}) ::unlink((dir_ + f).c_str());
        ::rmdir(dir_.c_str());
    }
    std::string dir_;
};

TEST_F(WorkingSetFile, WritesAtomicallyAndReadsBack) {
    std::vector<uint8_t> memory = memory_of(3);
    WorkingSet set = sample_set(memory);
    std::ofstream(dir_ + "/ws") << "an older record";
    ASSERT_TRUE(write_working_set(dir_ + "/ws", set));
    Result<WorkingSet> read = read_working_set(dir_ + "/ws");
    ASSERT_TRUE(read) << read.error().message();
    EXPECT_EQ(*read, set);
    // Only the record is left in the directory: the temporary file was renamed over it.
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.c_str());
    ASSERT_NE(d, nullptr);
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    ::closedir(d);
    EXPECT_EQ(names, std::vector<std::string>{"ws"});
}

TEST_F(WorkingSetFile, RefusesAFifoAndAFileOverTheBound) {
    ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
    Result<WorkingSet> fifo = read_working_set(dir_ + "/fifo");
    ASSERT_FALSE(fifo);
    EXPECT_NE(fifo.error().message().find("not a regular file"), std::string::npos);
    std::ofstream(dir_ + "/big").close();
    ASSERT_EQ(::truncate((dir_ + "/big").c_str(), kMaxWorkingSetFileBytes + 1), 0);
    Result<WorkingSet> big = read_working_set(dir_ + "/big");
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message().find("too large"), std::string::npos);
}

TEST(PageRuns, CoalesceAdjacentPagesWithTheSameKey) {
    std::vector<uint64_t> offsets = {0, 1, 2, 4, 5, 6, 7, 9};
    for (uint64_t& o : offsets) o *= kPage;
    // Pages 0-2 and 4-7 are in "region" 0, 9 in region 1; page 6 is zero (key + 1).
    auto key = [](uint64_t offset) -> int64_t {
        uint64_t page = offset / kPage;
        if (page == 9) return 2;
        return page == 6 ? 1 : 0;
    };
    std::vector<PageRun> runs = coalesce_page_runs(offsets, kPage, key);
    std::vector<PageRun> expected = {{.file_offset = 0, .pages = 3, .key = 0},
                                     {.file_offset = 4 * kPage, .pages = 2, .key = 0},
                                     {.file_offset = 6 * kPage, .pages = 1, .key = 1},
                                     {.file_offset = 7 * kPage, .pages = 1, .key = 0},
                                     {.file_offset = 9 * kPage, .pages = 1, .key = 2}};
    EXPECT_EQ(runs, expected);
}

TEST(PageRuns, SplitAtARegionBoundaryEvenWhenAdjacentInTheFile) {
    std::vector<uint64_t> offsets = {0, kPage, 2 * kPage, 3 * kPage};
    auto key = [](uint64_t offset) -> int64_t { return offset < 2 * kPage ? 0 : 2; };
    std::vector<PageRun> runs = coalesce_page_runs(offsets, kPage, key);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[1].file_offset, 2 * kPage);
    EXPECT_EQ(runs[1].pages, 2u);
}

TEST(PageRuns, LeaveOutPagesWithANegativeKeyAndHandleTwoMibPages) {
    const uint64_t huge = 2 << 20;
    std::vector<uint64_t> offsets = {0, huge, 2 * huge, 3 * huge, 5 * huge};
    auto key = [&](uint64_t offset) -> int64_t { return offset == 2 * huge ? -1 : 0; };
    std::vector<PageRun> runs = coalesce_page_runs(offsets, huge, key);
    std::vector<PageRun> expected = {{.file_offset = 0, .pages = 2, .key = 0},
                                     {.file_offset = 3 * huge, .pages = 1, .key = 0},
                                     {.file_offset = 5 * huge, .pages = 1, .key = 0}};
    EXPECT_EQ(runs, expected);
    EXPECT_TRUE(coalesce_page_runs({}, kPage, key).empty());
}

}  // namespace
}  // namespace ember::snapshot
