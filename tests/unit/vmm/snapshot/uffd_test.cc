// The userfaultfd backend end to end on the host: this test plays ember (anonymous memory
// registered with a userfaultfd, the handshake) against the real ember-uffd-handler binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>

#include "tests/unit/vmm/memory/host_pages.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/uffd_handshake.h"
#include "vmm/snapshot/uffd_page_server.h"

extern char** environ;

namespace ember::snapshot {
namespace {

constexpr size_t kRegionPages = 16;
constexpr size_t kRegionBytes = kRegionPages * kPageSize;
constexpr uint64_t kHugePageBytes = uint64_t{2} << 20;

TEST(UffdHandshakeJson, RoundTripsFirecrackersFieldNames) {
    std::vector<UffdRegion> regions = {
        {.base_host_virt_addr = 0x7f0000000000, .size = 1 << 20, .offset = 0, .page_size = 4096},
        {.base_host_virt_addr = 0x7f1000000000,
         .size = 2 << 20,
         .offset = 1 << 20,
         .page_size = 4096}};
    std::string json = uffd_regions_json(regions);
    EXPECT_NE(json.find(R"("base_host_virt_addr":139637976727552)"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("page_size_kib":4096)"), std::string::npos) << json;
    Result<std::vector<UffdRegion>> parsed = parse_uffd_regions_json(json);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, regions);
}

TEST(UffdHandshakeJson, CarriesTwoMibPagesAndRefusesRegionsNotMadeOfThem) {
    std::vector<UffdRegion> regions = {{.base_host_virt_addr = 0x7f0000200000,
                                        .size = 4 << 20,
                                        .offset = 2 << 20,
                                        .page_size = kHugePageBytes}};
    std::string json = uffd_regions_json(regions);
    EXPECT_NE(json.find(R"("page_size":2097152,"page_size_kib":2097152)"), std::string::npos)
        << json;
    Result<std::vector<UffdRegion>> parsed = parse_uffd_regions_json(json);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, regions);
    for (const char* bad : {
             // Address, size or file offset off the 2 MiB grid.
             R"([{"base_host_virt_addr":4096,"size":2097152,"offset":0,"page_size":2097152}])",
             R"([{"base_host_virt_addr":0,"size":4096,"offset":0,"page_size":2097152}])",
             R"([{"base_host_virt_addr":0,"size":2097152,"offset":4096,"page_size":2097152}])",
         }) {
        EXPECT_FALSE(parse_uffd_regions_json(bad)) << bad;
    }
}

TEST(UffdRegions, TakeTheMemorysPageSizeAndRefuseFileOffsetsOffItsGrid) {
    const GuestRange ranges[] = {{GuestAddress(0), 4 * kPageSize}};
    Result<GuestMemory> memory = GuestMemory::anonymous(ranges);
    ASSERT_TRUE(memory);
    std::vector<MemoryRegionState> layout = {
        {.gpa = 0, .size_bytes = 4 * kPageSize, .file_offset = 0}};
    Result<std::vector<UffdRegion>> regions = uffd_regions_of(*memory, layout);
    ASSERT_TRUE(regions) << regions.error().message();
    EXPECT_EQ((*regions)[0].page_size, kPageSize);
    layout[0].file_offset = 100;
    regions = uffd_regions_of(*memory, layout);
    ASSERT_FALSE(regions);
    EXPECT_NE(regions.error().message().find("not a multiple of the 4096-byte page size"),
              std::string::npos)
        << regions.error().message();
}

TEST(UffdRegions, OfHugetlbMemoryReportTwoMibPages) {
    if (test::available_huge_pages() < 2) {
        GTEST_SKIP() << "needs 2 free 2 MiB hugetlb pages (/proc/sys/vm/nr_hugepages)";
    }
    const GuestRange ranges[] = {{GuestAddress(0), 2 * kHugePageBytes}};
    Result<GuestMemory> memory = GuestMemory::anonymous(ranges, PageBacking::kHugetlb2M);
    ASSERT_TRUE(memory) << memory.error().message();
    std::vector<MemoryRegionState> layout = {
        {.gpa = 0, .size_bytes = 2 * kHugePageBytes, .file_offset = kHugePageBytes}};
    Result<std::vector<UffdRegion>> regions = uffd_regions_of(*memory, layout);
    ASSERT_TRUE(regions) << regions.error().message();
    EXPECT_EQ((*regions)[0].page_size, kHugePageBytes);
    // A file offset on the 4 KiB grid only: the handler could not copy whole pages from it.
    layout[0].file_offset = kPageSize;
    EXPECT_FALSE(uffd_regions_of(*memory, layout));
}

TEST(UffdHandshakeJson, AcceptsTheOldPageSizeNameAndRefusesBadRegions) {
    Result<std::vector<UffdRegion>> old = parse_uffd_regions_json(
        R"([{"base_host_virt_addr":4096,"size":8192,"offset":0,"page_size_kib":4096}])");
    ASSERT_TRUE(old) << old.error().message();
    EXPECT_EQ((*old)[0].page_size, 4096u);
    for (const char* bad : {
             "",
             "{}",
             "[]",
             "[1]",
             R"([{"size":4096,"offset":0,"page_size":4096}])",
             R"([{"base_host_virt_addr":100,"size":4096,"offset":0,"page_size":4096}])",
             R"([{"base_host_virt_addr":4096,"size":0,"offset":0,"page_size":4096}])",
             R"([{"base_host_virt_addr":4096,"size":4096,"offset":0,"page_size":3000}])",
             R"([{"base_host_virt_addr":4096,"size":4096,"offset":-1,"page_size":4096}])",
         }) {
        EXPECT_FALSE(parse_uffd_regions_json(bad)) << bad;
    }
}

// Page p of the memory file: zero when p % 4 == 3, else a pattern naming the page.
uint8_t file_byte(size_t page, size_t i) {
    return page % 4 == 3 ? 0 : static_cast<uint8_t>(page * 13 + i + 1);
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

// Two regions of `region_pages` pages each, registered with a userfaultfd; the memory file holds
// both, in the opposite order. Pages are 4 KiB, or 2 MiB hugetlb pages in UffdHugetlbEndToEnd.
class UffdEndToEnd : public ::testing::Test {
  protected:
    void SetUp() override { prepare(kPageSize, kRegionPages); }

    void prepare(uint64_t page_bytes, size_t region_pages) {
        alarm(120);  // A broken handler leaves faulting reads blocked forever: fail instead.
        page_bytes_ = page_bytes;
        region_pages_ = region_pages;
        const uint64_t region_bytes = region_pages * page_bytes;
        char tmpl[] = "/tmp/ember-uffd-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        std::vector<uint8_t> contents(2 * region_bytes);
        for (size_t p = 0; p < 2 * region_pages; ++p) {
            for (size_t i = 0; i < page_bytes; ++i) contents[p * page_bytes + i] = file_byte(p, i);
        }
        std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = contents}};
        ASSERT_TRUE(write_full_memory(dir_ + "/mem", chunks));

        Result<UniqueFd> uffd = create_userfaultfd();
        if (!uffd) GTEST_SKIP() << "no userfaultfd here: " << uffd.error().message();
        uffd_ = std::move(*uffd);
        for (size_t r = 0; r < 2; ++r) {
            Result<MmapRegion> m = page_bytes == kPageSize
                                       ? MmapRegion::anonymous(region_bytes)
                                       : MmapRegion::anonymous_huge_2m(region_bytes);
            ASSERT_TRUE(m) << m.error().message();
            memory_.push_back(std::move(*m));
        }
        regions_ = {{.base_host_virt_addr = reinterpret_cast<uint64_t>(memory_[0].data()),
                     .size = region_bytes,
                     .offset = region_bytes,
                     .page_size = page_bytes},
                    {.base_host_virt_addr = reinterpret_cast<uint64_t>(memory_[1].data()),
                     .size = region_bytes,
                     .offset = 0,
                     .page_size = page_bytes}};
        Result<void> registered = register_userfaultfd(uffd_.get(), regions_);
        ASSERT_TRUE(registered) << registered.error().message();
    }

    void TearDown() override {
        alarm(0);
        if (!dir_.empty()) {
            for (const char* f : {"/mem", "/sock", "/record", "/prefetch", "/log"}) {
                ::unlink((dir_ + f).c_str());
            }
            ::rmdir(dir_.c_str());
        }
    }

    // Starts the handler and sends it the handshake; stderr goes to dir_/log.
    void start_handler(std::vector<std::string> extra) {
        std::vector<std::string> args = {EMBER_UFFD_HANDLER, "--socket", dir_ + "/sock",
                                         "--mem-file", dir_ + "/mem"};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 2, (dir_ + "/log").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_EQ(posix_spawn(&child_, argv[0], &actions, nullptr, argv.data(), environ), 0);
        posix_spawn_file_actions_destroy(&actions);

        // The handler creates its socket after it starts; give it up to 10 s.
        Result<UniqueFd> conn = Error::invalid("not tried");
        for (int i = 0; i < 1000; ++i) {
            conn = send_uffd_handshake(dir_ + "/sock", uffd_.get(), regions_);
            if (conn) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_TRUE(conn) << conn.error().message();
        connection_ = std::move(*conn);
    }

    // Ends the VM's side and returns the handler's exit status.
    int stop_handler() {
        connection_.reset();
        int status = 0;
        EXPECT_EQ(::waitpid(child_, &status, 0), child_);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    // The file page behind region r's page p.
    size_t file_page(size_t r, size_t p) const { return regions_[r].offset / page_bytes_ + p; }

    void expect_page_contents(size_t r, size_t p) {
        const uint8_t* page = memory_[r].data() + p * page_bytes_;
        for (size_t i = 0; i < page_bytes_; i += 511) {
            ASSERT_EQ(page[i], file_byte(file_page(r, p), i)) << "region " << r << " page " << p;
        }
    }

    bool resident(size_t r, size_t p) {
        unsigned char vec = 0;
        EXPECT_EQ(::mincore(memory_[r].data() + p * page_bytes_, kPageSize, &vec), 0);
        return vec & 1;
    }

    uint64_t page_bytes_ = kPageSize;
    size_t region_pages_ = kRegionPages;
    std::string dir_;
    UniqueFd uffd_;
    std::vector<MmapRegion> memory_;
    std::vector<UffdRegion> regions_;
    pid_t child_ = -1;
    UniqueFd connection_;
};

TEST_F(UffdEndToEnd, ServesEveryPageFromTheFileAndRecordsTheFaults) {
    start_handler({"--record", dir_ + "/record"});
    for (size_t r = 0; r < 2; ++r) {
        for (size_t p = 0; p < kRegionPages; ++p) expect_page_contents(r, p);
    }
    // A page the guest gave back (balloon) comes back as zeros, not as the file's bytes.
    ASSERT_EQ(::madvise(memory_[0].data(), kPageSize, MADV_DONTNEED), 0);
    for (size_t i = 0; i < kPageSize; i += 97) ASSERT_EQ(memory_[0].data()[i], 0) << i;
    // Writes land in this process's memory as usual.
    memory_[1].data()[5] = 0x42;
    EXPECT_EQ(memory_[1].data()[5], 0x42);

    EXPECT_EQ(stop_handler(), 0) << slurp(dir_ + "/log");
    std::string log = slurp(dir_ + "/log");
    EXPECT_NE(log.find("faults=33 copied=24 zero=9 prefetched=0 removes=1"), std::string::npos)
        << log;
    Result<std::vector<uint64_t>> recorded = read_page_offsets(dir_ + "/record");
    ASSERT_TRUE(recorded) << recorded.error().message();
    std::set<uint64_t> offsets(recorded->begin(), recorded->end());
    EXPECT_EQ(recorded->size(),
              2 * kRegionPages);  // The re-fault after the remove is not repeated.
    EXPECT_EQ(offsets.size(), 2 * kRegionPages);
    EXPECT_EQ(*offsets.rbegin(), (2 * kRegionPages - 1) * kPageSize);
}

TEST_F(UffdEndToEnd, PrefetchesARecordedWorkingSetBeforeAnyFault) {
    // The working set: four pages of each region, named by file offset.
    std::ofstream(dir_ + "/prefetch") << "# working set\n0x0\n0x1000\n8192\n0x3000\n"
                                      << (kRegionBytes + 5 * kPageSize) << "\n"
                                      << (kRegionBytes + 6 * kPageSize) << "\n"
                                      << (kRegionBytes + 7 * kPageSize) << "\n"
                                      << (kRegionBytes + 8 * kPageSize) << "\n";
    start_handler({"--prefetch", dir_ + "/prefetch"});
    // Wait, without touching them, until the prefetched pages are mapped.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto prefetched = [&] {
        for (size_t p = 0; p < 4; ++p) {
            if (!resident(1, p) || !resident(0, 5 + p)) return false;
        }
        return true;
    };
    while (!prefetched() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(prefetched());
    EXPECT_FALSE(resident(0, 0));
    for (size_t r = 0; r < 2; ++r) {
        for (size_t p = 0; p < kRegionPages; ++p) expect_page_contents(r, p);
    }
    EXPECT_EQ(stop_handler(), 0);
    std::string log = slurp(dir_ + "/log");
    EXPECT_NE(log.find("faults=24 "), std::string::npos) << log;
    EXPECT_NE(log.find("prefetched=8 "), std::string::npos) << log;
}

TEST_F(UffdEndToEnd, HandlerRefusesAMemoryFileShorterThanTheRegions) {
    ASSERT_EQ(::truncate((dir_ + "/mem").c_str(), kRegionBytes), 0);
    start_handler({});
    EXPECT_EQ(stop_handler(), 1);
    EXPECT_NE(slurp(dir_ + "/log").find("memory file too short"), std::string::npos)
        << slurp(dir_ + "/log");
}

// Guest RAM of 2 MiB hugetlb pages (a 2M VM restored with the Uffd backend): the handler must
// fill each fault with one UFFDIO_COPY of the whole 2 MiB page, zero pages included.
class UffdHugetlbEndToEnd : public UffdEndToEnd {
  protected:
    static constexpr size_t kHugeRegionPages = 2;
    void SetUp() override {
        if (test::available_huge_pages() < 2 * kHugeRegionPages) {
            GTEST_SKIP() << "needs " << 2 * kHugeRegionPages
                         << " free 2 MiB hugetlb pages (/proc/sys/vm/nr_hugepages)";
        }
        prepare(kHugePageBytes, kHugeRegionPages);
    }
};

TEST_F(UffdHugetlbEndToEnd, ServesWholeTwoMibPages) {
    start_handler({"--record", dir_ + "/record"});
    for (size_t r = 0; r < 2; ++r) {
        for (size_t p = 0; p < region_pages_; ++p) expect_page_contents(r, p);
        EXPECT_EQ(test::smaps_of(memory_[r].data())["KernelPageSize"], "2048 kB");
        EXPECT_EQ(test::smaps_kib(test::smaps_of(memory_[r].data()), "Private_Hugetlb"),
                  region_pages_ * 2048);
    }
    EXPECT_EQ(stop_handler(), 0) << slurp(dir_ + "/log");
    // One fault per 2 MiB page; file page 3 (region 0's second page) is all zero.
    std::string log = slurp(dir_ + "/log");
    EXPECT_NE(log.find("faults=4 copied=3 zero=1 "), std::string::npos) << log;
    Result<std::vector<uint64_t>> recorded = read_page_offsets(dir_ + "/record");
    ASSERT_TRUE(recorded) << recorded.error().message();
    std::set<uint64_t> offsets(recorded->begin(), recorded->end());
    EXPECT_EQ(offsets,
              (std::set<uint64_t>{0, kHugePageBytes, 2 * kHugePageBytes, 3 * kHugePageBytes}));
}

}  // namespace
}  // namespace ember::snapshot
