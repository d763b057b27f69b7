// The files and socket a snapshot request names: a FIFO, a directory or a character device as
// the state or memory file is refused at once, and a uffd handler that never accepts fails the
// handshake at its deadline instead of holding the vmm thread.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "tests/fakes/scratch_dir.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/snapshot/uffd_handshake.h"

namespace ember::snapshot {
namespace {

using std::chrono::milliseconds;

class SnapshotFilesTest : public ::testing::Test {
protected:
    // Runs `call` on another thread; fails instead of hanging if it takes over two seconds (a
    // blocked open of the FIFO is then released by opening its other end).
    template <typename Call>
    auto bounded(Call call) -> decltype(call()) {
        auto answer = std::async(std::launch::async, call);
        if (answer.wait_for(std::chrono::seconds(2)) == std::future_status::timeout) {
            ADD_FAILURE() << "blocked";
            UniqueFd release(::open(fifo_.c_str(), O_RDWR | O_NONBLOCK));
            return answer.get();
        }
        return answer.get();
    }

    std::vector<std::string> refused_paths() const {
        return {fifo_, dir_, ".", "/dev/kmsg", "/dev/null", "/dev/zero"};
    }

    testing::ScratchDir scratch_{"ember-snapshot-files"};
    const std::string dir_ = scratch_.path();
    const std::string fifo_ = scratch_.make_fifo("fifo");
};

TEST_F(SnapshotFilesTest, RefusesANonRegularStateFileToReadWithoutBlocking) {
    for (const std::string& path : refused_paths()) {
        auto read = bounded([&] { return read_state_file(path); });
        ASSERT_FALSE(read) << path;
        EXPECT_NE(read.error().message().find("open snapshot state file: " + path + ": is a"),
                  std::string::npos)
            << read.error().message();
    }
}

TEST_F(SnapshotFilesTest, RefusesANonRegularStateFileToWriteWithoutBlocking) {
    const std::vector<uint8_t> bytes(16, 1);
    for (const std::string& path : refused_paths()) {
        auto written = bounded([&] { return write_state_file(path, bytes); });
        ASSERT_FALSE(written) << path;
        EXPECT_NE(written.error().message().find(", not a regular file"), std::string::npos)
            << written.error().message();
    }
}

TEST_F(SnapshotFilesTest, RefusesANonRegularMemoryFileToMapOrWrite) {
    const MemoryRegionState region{.gpa = 0, .size_bytes = 4096, .file_offset = 0};
    std::vector<uint8_t> page(4096, 0);
    const MemoryChunk chunk{.gpa = 0, .bytes = page};
    for (const std::string& path : refused_paths()) {
        auto mapped = bounded([&] { return map_memory_file(path, std::span(&region, 1)); });
        ASSERT_FALSE(mapped) << path;
        EXPECT_NE(mapped.error().message().find("open memory file: " + path + ": is a"),
                  std::string::npos)
            << mapped.error().message();
        auto written = bounded([&] { return write_full_memory(path, std::span(&chunk, 1)); });
        ASSERT_FALSE(written) << path;
    }
}

TEST_F(SnapshotFilesTest, StillWritesAndReadsARegularStateFile) {
    const std::vector<uint8_t> bytes = {1, 2, 3};
    const std::string path = dir_ + "/state";
    ASSERT_TRUE(write_state_file(path, bytes));
    ASSERT_TRUE(write_state_file(path, std::vector<uint8_t>{4}));  // Truncates the old one.
    auto read = read_state_file(path);
    ASSERT_TRUE(read) << read.error().message();
    EXPECT_EQ(*read, std::vector<uint8_t>{4});
}

TEST_F(SnapshotFilesTest, GivesUpOnAUffdHandlerThatNeverAcceptsAtTheDeadline) {
    const std::string path = dir_ + "/uffd.sock";
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener.get(), 0), 0);
    // A backlog of 0 holds one connection: this one fills it, and nobody accepts.
    UniqueFd filler(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(filler.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

    UniqueFd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto begin = std::chrono::steady_clock::now();
    auto answer = std::async(std::launch::async, [&] {
        return send_uffd_handshake(path, passed.get(), {}, milliseconds(200));
    });
    if (answer.wait_for(std::chrono::seconds(2)) == std::future_status::timeout) {
        ADD_FAILURE() << "connect blocked";
        UniqueFd a(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        UniqueFd b(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    }
    auto sent = answer.get();
    auto took = std::chrono::steady_clock::now() - begin;
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code(), std::errc::timed_out);
    EXPECT_EQ(sent.error().message(), "connect to the uffd handler: " + path +
                                          ": not accepting connections after 200 ms: " +
                                          std::generic_category().message(ETIMEDOUT));
    EXPECT_GE(took, milliseconds(190));
    EXPECT_LT(took, milliseconds(1500));
}

TEST_F(SnapshotFilesTest, RefusesAFifoAsTheUffdSocketAtOnce) {
    UniqueFd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto sent = bounded([&] { return send_uffd_handshake(fifo_, passed.get(), {}); });
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code(), std::errc::connection_refused);
}

}  // namespace
}  // namespace ember::snapshot
