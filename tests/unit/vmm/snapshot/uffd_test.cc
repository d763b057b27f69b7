// The userfaultfd backend end to end on the host: this test plays ember (anonymous memory
// registered with a userfaultfd, the handshake) against the real ember-uffd-handler binary.
#include <fcntl.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>

#include "tests/unit/vmm/memory/host_pages.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/uffd_handshake.h"
#include "vmm/snapshot/uffd_page_server.h"
#include "vmm/snapshot/working_set.h"

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
    for (
        const char* bad : {
            "",
            "{}",
            "[]",
            "[1]",
            R"([{"size":4096,"offset":0,"page_size":4096}])",
            R"([{"base_host_virt_addr":100,"size":4096,"offset":0,"page_size":4096}])",
            R"([{"base_host_virt_addr":4096,"size":0,"offset":0,"page_size":4096}])",
            R"([{"base_host_virt_addr":4096,"size":4096,"offset":0,"page_size":3000}])",
            R"([{"base_host_virt_addr":4096,"size":4096,"offset":-1,"page_size":4096}])",
            // The file range wraps around.
            R"([{"base_host_virt_addr":4096,"size":8192,"offset":18446744073709547520,"page_size":4096}])",
        }) {
        EXPECT_FALSE(parse_uffd_regions_json(bad)) << bad;
    }
}

std::string region_json(uint64_t address, uint64_t size, uint64_t offset) {
    return fmt::format(R"({{"base_host_virt_addr":{},"size":{},"offset":{},"page_size":4096}})",
                       address, size, offset);
}

// Before: overlapping regions were accepted, each getting bookkeeping for its whole size, and two
// regions could claim one fault.
TEST(UffdHandshakeJson, RefusesRegionsThatOverlapInMemoryOrInTheFile) {
    std::string in_memory =
        "[" + region_json(0x10000, 0x4000, 0) + "," + region_json(0x13000, 0x1000, 0x4000) + "]";
    Result<std::vector<UffdRegion>> r = parse_uffd_regions_json(in_memory);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("overlap in the address space"), std::string::npos)
        << r.error().message();
    std::string in_file = "[" + region_json(0x20000, 0x4000, 0x1000) + "," +
                          region_json(0x10000, 0x2000, 0x4000) + "]";
    r = parse_uffd_regions_json(in_file);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("overlap in the memory file"), std::string::npos)
        << r.error().message();
    // Adjacent is fine, in either order.
    std::string adjacent =
        "[" + region_json(0x20000, 0x4000, 0x2000) + "," + region_json(0x10000, 0x2000, 0) + "]";
    EXPECT_TRUE(parse_uffd_regions_json(adjacent));
}

TEST(UffdHandshakeJson, RefusesMoreRegionsThanTheBound) {
    auto list = [](size_t count) {
        std::string json = "[";
        for (size_t i = 0; i < count; ++i) {
            json += (i ? "," : "") + region_json((i + 1) * 0x1000, 0x1000, i * 0x1000);
        }
        return json + "]";
    };
    EXPECT_TRUE(parse_uffd_regions_json(list(kMaxUffdRegions)));
    Result<std::vector<UffdRegion>> r = parse_uffd_regions_json(list(kMaxUffdRegions + 1));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("at most 256"), std::string::npos) << r.error().message();
}

// Sends `bytes` over `sock`, with `fd` attached when it is valid.
void send_with_fd(int sock, std::string_view bytes, int fd) {
    iovec iov{.iov_base = const_cast<char*>(bytes.data()), .iov_len = bytes.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT),
              static_cast<ssize_t>(bytes.size()));
}

// The handler's side of the handshake, in process: a listening socket and a peer connected to it
// (the backlog holds the connection until accept_uffd_handshake takes it).
class UffdHandshakeAccept : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ember-uffd-hs-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        Result<UniqueFd> listener = listen_unix_socket(dir_ + "/sock");
        ASSERT_TRUE(listener) << listener.error().message();
        listener_ = std::move(*listener);
        peer_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/sock", dir_.c_str());
        ASSERT_EQ(::connect(peer_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    }
    void TearDown() override {
        ::unlink((dir_ + "/sock").c_str());
        ::rmdir(dir_.c_str());
    }
    std::string valid_json() const { return "[" + region_json(0x10000, 0x4000, 0) + "]"; }

    std::string dir_;
    UniqueFd listener_;
    UniqueFd peer_;
};

// Before: any fd was taken as the userfaultfd, and its bytes read as fault messages.
TEST_F(UffdHandshakeAccept, RefusesAPipeSentAsTheUserfaultfd) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    send_with_fd(peer_.get(), valid_json(), read_end.get());
    Result<UffdHandshake> hs = accept_uffd_handshake(listener_.get(), 5000);
    ASSERT_FALSE(hs);
    EXPECT_NE(hs.error().message().find("not a userfaultfd but pipe:"), std::string::npos)
        << hs.error().message();
}

TEST_F(UffdHandshakeAccept, TakesARealUserfaultfdSentOneByteAtATime) {
    Result<UniqueFd> uffd = create_userfaultfd();
    if (!uffd) GTEST_SKIP() << "no userfaultfd here: " << uffd.error().message();
    std::string json = valid_json();
    send_with_fd(peer_.get(), json.substr(0, 1), uffd->get());
    for (size_t i = 1; i < json.size(); ++i) send_with_fd(peer_.get(), json.substr(i, 1), -1);
    Result<UffdHandshake> hs = accept_uffd_handshake(listener_.get(), 5000);
    ASSERT_TRUE(hs) << hs.error().message();
    ASSERT_EQ(hs->regions.size(), 1u);
    EXPECT_EQ(hs->regions[0].size, 0x4000u);
    EXPECT_NE(::fcntl(hs->uffd.get(), F_GETFL) & O_NONBLOCK, 0);
}

TEST_F(UffdHandshakeAccept, GivesUpOnAPeerThatStallsMidMessage) {
    send_with_fd(peer_.get(), "[{\"size\":", -1);
    auto start = std::chrono::steady_clock::now();
    Result<UffdHandshake> hs = accept_uffd_handshake(listener_.get(), 200);
    auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(hs);
    EXPECT_NE(hs.error().message().find("timed out"), std::string::npos) << hs.error().message();
    EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(UffdHandshakeAccept, RefusesAMessageLongerThanTheBound) {
    // An array that never closes: at the bound the handler stops reading.
    std::string endless = "[" + std::string(kMaxUffdHandshakeBytes, ' ');
    send_with_fd(peer_.get(), endless, -1);
    Result<UffdHandshake> hs = accept_uffd_handshake(listener_.get(), 5000);
    ASSERT_FALSE(hs);
    EXPECT_NE(hs.error().message().find("too large"), std::string::npos) << hs.error().message();
}

TEST_F(UffdHandshakeAccept, RefusesAMessageWithoutAnFd) {
    send_with_fd(peer_.get(), valid_json(), -1);
    Result<UffdHandshake> hs = accept_uffd_handshake(listener_.get(), 5000);
    ASSERT_FALSE(hs);
    EXPECT_NE(hs.error().message().find("no userfaultfd"), std::string::npos)
        << hs.error().message();
}

// Before: ember's connect blocked for as long as the handler did not accept.
TEST(UffdHandshakeSend, GivesUpOnAHandlerThatNeverTakesTheConnection) {
    char tmpl[] = "/tmp/ember-uffd-send-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/sock", dir.c_str());
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener.get(), 0), 0);  // Room for one waiting connection.
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    std::vector<UffdRegion> regions = {{.base_host_virt_addr = 0x10000, .size = 0x1000}};
    Result<UniqueFd> first =
        send_uffd_handshake(dir + "/sock", read_end.get(), regions, std::chrono::milliseconds(200));
    ASSERT_TRUE(first) << first.error().message();
    auto start = std::chrono::steady_clock::now();
    Result<UniqueFd> second =
        send_uffd_handshake(dir + "/sock", read_end.get(), regions, std::chrono::milliseconds(200));
    auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message().find("not accepting connections after 200 ms"),
              std::string::npos)
        << second.error().message();
    EXPECT_LT(waited, std::chrono::seconds(5));
    ::unlink((dir + "/sock").c_str());
    ::rmdir(dir.c_str());
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

    // Starts the handler; stderr goes to dir_/log.
    void spawn_handler(std::vector<std::string> extra) {
        std::vector<std::string> args = {EMBER_UFFD_HANDLER, "--socket", dir_ + "/sock",
                                         "--mem-file", dir_ + "/mem"};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        argv.reserve(args.size() + 1);
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 2, (dir_ + "/log").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_EQ(posix_spawn(&child_, argv[0], &actions, nullptr, argv.data(), environ), 0);
        posix_spawn_file_actions_destroy(&actions);
    }

    // Starts the handler and sends it the handshake.
    void start_handler(std::vector<std::string> extra) {
        spawn_handler(std::move(extra));

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

    // Writes the working-set record of `offsets` of dir_/mem, `written` marked, to dir_/prefetch.
    void write_record(std::vector<uint64_t> offsets, std::vector<uint64_t> written = {}) {
        std::string mem = slurp(dir_ + "/mem");
        std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(mem.data()), mem.size());
        Result<WorkingSet> set =
            make_working_set(bytes, std::move(offsets), page_bytes_, std::move(written));
        ASSERT_TRUE(set) << set.error().message();
        ASSERT_TRUE(write_working_set(dir_ + "/prefetch", *set));
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
    Result<WorkingSet> recorded = read_working_set(dir_ + "/record");
    ASSERT_TRUE(recorded) << recorded.error().message();
    // Every page once (the re-fault after the remove is not repeated), sorted.
    ASSERT_EQ(recorded->offsets.size(), 2 * kRegionPages);
    EXPECT_EQ(recorded->offsets.back(), (2 * kRegionPages - 1) * kPageSize);
    EXPECT_EQ(recorded->memory_file_bytes, 2 * kRegionBytes);
    EXPECT_NE(log.find("recorded 32 pages"), std::string::npos) << log;
}

TEST_F(UffdEndToEnd, RecordsWhichPagesTheVmFirstWroteAndKeepsThoseItWasGiven) {
    // File page 1 (region 1's page 1) comes prefetched and marked written: once installed, a
    // write to it no longer faults, so the mark must come from the record.
    write_record({kPageSize}, {kPageSize});
    start_handler({"--prefetch", dir_ + "/prefetch", "--record", dir_ + "/record"});
    memory_[0].data()[2 * kPageSize] = 1;  // File page 18: first touched by a write.
    volatile uint8_t* read_first = memory_[0].data() + 3 * kPageSize;
    read_first[0] = static_cast<uint8_t>(read_first[1] + 1);  // File page 19: read, then written.
    memory_[1].data()[4 * kPageSize + 9] = 2;                 // File page 4: written.
    ASSERT_EQ(stop_handler(), 0) << slurp(dir_ + "/log");
    Result<WorkingSet> recorded = read_working_set(dir_ + "/record");
    ASSERT_TRUE(recorded) << recorded.error().message();
    EXPECT_EQ(recorded->offsets,
              (std::vector<uint64_t>{kPageSize, 4 * kPageSize, 18 * kPageSize, 19 * kPageSize}));
    // Page 19 was read first: its write did not fault, so it is not marked.
    EXPECT_EQ(recorded->written, (std::vector<uint64_t>{kPageSize, 4 * kPageSize, 18 * kPageSize}));
    EXPECT_NE(slurp(dir_ + "/log").find("recorded 4 pages (3 written)"), std::string::npos)
        << slurp(dir_ + "/log");
}

TEST_F(UffdEndToEnd, InstallsARecordedWorkingSetInRunsBeforeAnyFault) {
    // The working set: file pages 0-3 (region 1's first four, page 3 zero) and 21-24 (region 0's
    // pages 5-8, page 23 zero): five runs, two of them zero-filled.
    std::vector<uint64_t> offsets;
    for (uint64_t p : {0u, 1u, 2u, 3u, 21u, 22u, 23u, 24u}) offsets.push_back(p * kPageSize);
    write_record(offsets);
    start_handler({"--prefetch", dir_ + "/prefetch"});
    // Wait, without touching them, until the working set is mapped.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto installed = [&] {
        for (size_t p = 0; p < 4; ++p) {
            if (!resident(1, p) || !resident(0, 5 + p)) return false;
        }
        return true;
    };
    while (!installed() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(installed());
    EXPECT_FALSE(resident(0, 0));
    for (size_t r = 0; r < 2; ++r) {
        for (size_t p = 0; p < kRegionPages; ++p) expect_page_contents(r, p);
    }
    EXPECT_EQ(stop_handler(), 0);
    std::string log = slurp(dir_ + "/log");
    EXPECT_NE(log.find("working set installed: 8 pages in 5 runs (2 zero)"), std::string::npos)
        << log;
    EXPECT_NE(log.find("faults=24 "), std::string::npos) << log;
    EXPECT_NE(log.find("prefetched=8 "), std::string::npos) << log;
}

TEST_F(UffdEndToEnd, HandlerRefusesARecordFromAnotherMemoryFile) {
    write_record({0, kPageSize, 5 * kPageSize});
    // The same size, other contents: another snapshot of a VM of the same shape.
    {
        std::fstream mem(dir_ + "/mem", std::ios::in | std::ios::out | std::ios::binary);
        mem.seekp(static_cast<std::streamoff>(kPageSize + 7));
        mem.put('\x55');
    }
    // Refused before the handler listens: ember's connect then fails, its load with it.
    spawn_handler({"--prefetch", dir_ + "/prefetch"});
    int status = 0;
    ASSERT_EQ(::waitpid(child_, &status, 0), child_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(::access((dir_ + "/sock").c_str(), F_OK), 0);
    std::string log = slurp(dir_ + "/log");
    EXPECT_NE(log.find("--prefetch: working-set record: the working-set record " + dir_ +
                       "/prefetch was recorded from another memory file"),
              std::string::npos)
        << log;
}

TEST_F(UffdEndToEnd, HandlerRefusesTheOldTextFormat) {
    std::ofstream(dir_ + "/prefetch") << "0x0\n0x1000\n";
    spawn_handler({"--prefetch", dir_ + "/prefetch"});
    int status = 0;
    ASSERT_EQ(::waitpid(child_, &status, 0), child_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(slurp(dir_ + "/log").find("wrong magic"), std::string::npos) << slurp(dir_ + "/log");
}

TEST_F(UffdEndToEnd, WritesTheRecordOnSigterm) {
    start_handler({"--record", dir_ + "/record"});
    expect_page_contents(0, 2);
    expect_page_contents(1, 7);
    ASSERT_EQ(::kill(child_, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child_, &status, 0), child_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM)
        << status << slurp(dir_ + "/log");
    Result<WorkingSet> recorded = read_working_set(dir_ + "/record");
    ASSERT_TRUE(recorded) << recorded.error().message();
    EXPECT_EQ(recorded->offsets,
              (std::vector<uint64_t>{7 * kPageSize, kRegionBytes + 2 * kPageSize}));
}

TEST_F(UffdEndToEnd, HandlerRefusesAMemoryFileShorterThanTheRegions) {
    ASSERT_EQ(::truncate((dir_ + "/mem").c_str(), kRegionBytes), 0);
    start_handler({});
    EXPECT_EQ(stop_handler(), 1);
    EXPECT_NE(slurp(dir_ + "/log").find("memory file too short"), std::string::npos)
        << slurp(dir_ + "/log");
}

// Before: the handler's open of a FIFO blocked until something wrote to it.
TEST_F(UffdEndToEnd, HandlerRefusesAFifoAsTheMemoryFile) {
    ASSERT_EQ(::unlink((dir_ + "/mem").c_str()), 0);
    ASSERT_EQ(::mkfifo((dir_ + "/mem").c_str(), 0600), 0);
    spawn_handler({});
    int status = 0;
    ASSERT_EQ(::waitpid(child_, &status, 0), child_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
    EXPECT_NE(slurp(dir_ + "/log").find("not a regular file"), std::string::npos)
        << slurp(dir_ + "/log");
}

TEST_F(UffdEndToEnd, HandlerRefusesAFifoAsThePrefetchOrRecordFile) {
    ASSERT_EQ(::mkfifo((dir_ + "/prefetch").c_str(), 0600), 0);
    for (const char* flag : {"--prefetch", "--record"}) {
        spawn_handler({flag, dir_ + "/prefetch"});
        int status = 0;
        ASSERT_EQ(::waitpid(child_, &status, 0), child_);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << flag << " " << status;
        EXPECT_NE(slurp(dir_ + "/log").find(flag), std::string::npos) << slurp(dir_ + "/log");
    }
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
    Result<WorkingSet> recorded = read_working_set(dir_ + "/record");
    ASSERT_TRUE(recorded) << recorded.error().message();
    EXPECT_EQ(recorded->page_size, kHugePageBytes);
    EXPECT_EQ(recorded->offsets,
              (std::vector<uint64_t>{0, kHugePageBytes, 2 * kHugePageBytes, 3 * kHugePageBytes}));
}

TEST_F(UffdHugetlbEndToEnd, InstallsAWorkingSetOfTwoMibPagesInOneRun) {
    write_record({0, kHugePageBytes});  // Region 1, both pages (the second one zero).
    start_handler({"--prefetch", dir_ + "/prefetch"});
    // Untouched until installed: a touch before would be served first, ahead of the batch.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(resident(1, 0) && resident(1, 1)) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (size_t r = 0; r < 2; ++r) {
        for (size_t p = 0; p < region_pages_; ++p) expect_page_contents(r, p);
    }
    EXPECT_EQ(stop_handler(), 0) << slurp(dir_ + "/log");
    std::string log = slurp(dir_ + "/log");
    EXPECT_NE(log.find("working set installed: 2 pages in 1 runs (0 zero)"), std::string::npos)
        << log;
    EXPECT_NE(log.find("faults=2 "), std::string::npos) << log;
}

}  // namespace
}  // namespace ember::snapshot
