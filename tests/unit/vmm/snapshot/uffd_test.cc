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

#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/uffd_handshake.h"
#include "vmm/snapshot/uffd_page_server.h"

extern char** environ;

namespace ember::snapshot {
namespace {

constexpr size_t kRegionPages = 16;
constexpr size_t kRegionBytes = kRegionPages * kPageSize;

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

class UffdEndToEnd : public ::testing::Test {
  protected:
    void SetUp() override {
        alarm(120);  // A broken handler leaves faulting reads blocked forever: fail instead.
        char tmpl[] = "/tmp/ember-uffd-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        std::vector<uint8_t> contents(2 * kRegionBytes);
        for (size_t p = 0; p < 2 * kRegionPages; ++p) {
            for (size_t i = 0; i < kPageSize; ++i) contents[p * kPageSize + i] = file_byte(p, i);
        }
        std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = contents}};
        ASSERT_TRUE(write_full_memory(dir_ + "/mem", chunks));

        Result<UniqueFd> uffd = create_userfaultfd();
        if (!uffd) GTEST_SKIP() << "no userfaultfd here: " << uffd.error().message();
        uffd_ = std::move(*uffd);
        // Two regions, mapped in the opposite order of their file offsets.
        for (size_t r = 0; r < 2; ++r) {
            Result<MmapRegion> m = MmapRegion::anonymous(kRegionBytes);
            ASSERT_TRUE(m);
            memory_.push_back(std::move(*m));
        }
        regions_ = {{.base_host_virt_addr = reinterpret_cast<uint64_t>(memory_[0].data()),
                     .size = kRegionBytes,
                     .offset = kRegionBytes,
                     .page_size = kPageSize},
                    {.base_host_virt_addr = reinterpret_cast<uint64_t>(memory_[1].data()),
                     .size = kRegionBytes,
                     .offset = 0,
                     .page_size = kPageSize}};
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
    size_t file_page(size_t r, size_t p) const { return regions_[r].offset / kPageSize + p; }

    void expect_page_contents(size_t r, size_t p) {
        const uint8_t* page = memory_[r].data() + p * kPageSize;
        for (size_t i = 0; i < kPageSize; i += 511) {
            ASSERT_EQ(page[i], file_byte(file_page(r, p), i)) << "region " << r << " page " << p;
        }
    }

    bool resident(size_t r, size_t p) {
        unsigned char vec = 0;
        EXPECT_EQ(::mincore(memory_[r].data() + p * kPageSize, kPageSize, &vec), 0);
        return vec & 1;
    }

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

}  // namespace
}  // namespace ember::snapshot
