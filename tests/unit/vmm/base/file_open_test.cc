// open_named_file and read_named_file: every kind of file a client could name, answered at once
// (a FIFO with no peer, a directory, character devices, a symlink to a FIFO, a missing file).
#include "vmm/base/file_open.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "tests/fakes/scratch_dir.h"

namespace ember {
namespace {

using std::chrono::milliseconds;

class FileOpenTest : public ::testing::Test {
protected:
    void SetUp() override { std::ofstream(file_) << "contents"; }

    // Runs `open` on another thread and fails (instead of hanging) if it does not return within
    // two seconds; a blocked open is then released by opening the FIFO's other end.
    template <typename Open>
    auto bounded(Open open) -> decltype(open()) {
        auto answer = std::async(std::launch::async, open);
        if (answer.wait_for(std::chrono::seconds(2)) == std::future_status::timeout) {
            ADD_FAILURE() << "open blocked";
            UniqueFd release(::open(fifo_.c_str(), O_RDWR | O_NONBLOCK));
            return answer.get();
        }
        return answer.get();
    }

    testing::ScratchDir scratch_{"ember-file-open"};
    const std::string dir_ = scratch_.path();
    const std::string fifo_ = scratch_.make_fifo("fifo");
    const std::string link_ = scratch_.make_symlink("link", fifo_);
    const std::string file_ = scratch_ / "file";
};

// Every FileKinds that a path must be refused for, with the word the message must use.
struct Refused {
    std::string path;
    const char* kind;
};

TEST_F(FileOpenTest, RefusesEveryNonRegularKindForADriveWithoutBlocking) {
    const Refused cases[] = {{fifo_, "is a FIFO"},
                             {link_, "is a FIFO"},
                             {dir_, "is a directory"},
                             {".", "is a directory"},
                             {"/dev/kmsg", "is a character device"},
                             {"/dev/null", "is a character device"},
                             {"/dev/zero", "is a character device"},
                             {"/dev/tty", "is a character device"}};
    for (const Refused& c : cases) {
        for (FileAccess access : {FileAccess::kReadOnly, FileAccess::kReadWrite}) {
            auto opened = bounded([&] {
                return open_named_file(c.path, access, FileKinds::kRegularOrBlockDevice,
                                       IoMode::kBlocking, "open disk");
            });
            ASSERT_FALSE(opened) << c.path;
            EXPECT_EQ(opened.error().message(), "open disk: " + c.path + ": " + c.kind +
                                                    ", not a regular file or block device");
        }
    }
}

TEST_F(FileOpenTest, RefusesAFifoForEveryAccessWhereOnlyRegularFilesAreAllowed) {
    for (FileAccess access : {FileAccess::kReadOnly, FileAccess::kReadWrite,
                              FileAccess::kAppendOrCreate, FileAccess::kTruncateOrCreate}) {
        for (const std::string& path : {fifo_, link_}) {
            auto opened = bounded([&] {
                return open_named_file(path, access, FileKinds::kRegular, IoMode::kBlocking,
                                       "open memory file");
            });
            ASSERT_FALSE(opened);
            EXPECT_NE(opened.error().message().find("is a FIFO, not a regular file"),
                      std::string::npos);
        }
    }
}

TEST_F(FileOpenTest, NamesAMissingFileWithItsErrno) {
    auto opened = open_named_file(dir_ + "/none", FileAccess::kReadOnly, FileKinds::kRegular,
                                  IoMode::kBlocking, "open kernel image");
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code(), std::errc::no_such_file_or_directory);
    EXPECT_EQ(opened.error().message(),
              "open kernel image: " + dir_ + "/none: No such file or directory");
}

TEST_F(FileOpenTest, RefusesAnEmptyPathAndOneWithANul) {
    auto empty = open_named_file("", FileAccess::kReadOnly, FileKinds::kRegular, IoMode::kBlocking,
                                 "open disk");
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message(), "open disk: the path is empty");
    auto nul = open_named_file(file_ + std::string(1, '\0') + "x", FileAccess::kReadOnly,
                               FileKinds::kRegular, IoMode::kBlocking, "open disk");
    ASSERT_FALSE(nul);
    EXPECT_EQ(nul.error().message(), "open disk: the path contains a NUL byte");
}

TEST_F(FileOpenTest, OpensARegularFileBlockingForReadAndWrite) {
    auto opened = open_named_file(file_, FileAccess::kReadWrite, FileKinds::kRegularOrBlockDevice,
                                  IoMode::kBlocking, "open disk");
    ASSERT_TRUE(opened) << opened.error().message();
    int flags = ::fcntl(opened->fd.get(), F_GETFL);
    EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
    EXPECT_EQ(flags & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(opened->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(opened->st.st_size, 8);
}

TEST_F(FileOpenTest, AcceptsAFifoWithNoReaderForLogsAndDropsWhatDoesNotFit) {
    for (const std::string& path : {fifo_, link_}) {
        auto opened = bounded([&] {
            return open_named_file(path, FileAccess::kAppendOrCreate,
                                   FileKinds::kRegularFifoOrCharDevice, IoMode::kBlocking,
                                   "open log file");
        });
        ASSERT_TRUE(opened) << opened.error().message();
        EXPECT_TRUE(S_ISFIFO(opened->st.st_mode));
        // Non-blocking whatever was asked: once the pipe is full, a write fails at once.
        EXPECT_NE(::fcntl(opened->fd.get(), F_GETFL) & O_NONBLOCK, 0);
        std::string chunk(65536, 'x');
        ssize_t n = 0;
        for (int i = 0; i < 64 && n >= 0; ++i)
            n = ::write(opened->fd.get(), chunk.data(), chunk.size());
        EXPECT_EQ(n, -1);
        EXPECT_EQ(errno, EAGAIN);
    }
}

TEST_F(FileOpenTest, AcceptsDevNullAndATtyAsALogButNotADirectory) {
    for (const char* path : {"/dev/null", "/dev/tty"}) {
        auto opened = bounded([&] {
            return open_named_file(path, FileAccess::kAppendOrCreate,
                                   FileKinds::kRegularFifoOrCharDevice, IoMode::kNonBlocking,
                                   "open log file");
        });
        // /dev/tty fails with ENXIO when the test has no controlling terminal, at once.
        if (!opened && std::string(path) == "/dev/tty") {
            EXPECT_EQ(opened.error().code(), std::errc::no_such_device_or_address);
            continue;
        }
        ASSERT_TRUE(opened) << opened.error().message();
        EXPECT_TRUE(S_ISCHR(opened->st.st_mode));
    }
    auto dir =
        open_named_file(dir_, FileAccess::kAppendOrCreate, FileKinds::kRegularFifoOrCharDevice,
                        IoMode::kNonBlocking, "open log file");
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().message(), "open log file: " + dir_ +
                                         ": is a directory, not a regular file, FIFO or "
                                         "character device");
}

TEST_F(FileOpenTest, CreatesAMissingFileForAppendAndKeepsAnExistingOne) {
    const std::string path = dir_ + "/log";
    auto created =
        open_named_file(path, FileAccess::kAppendOrCreate, FileKinds::kRegularFifoOrCharDevice,
                        IoMode::kNonBlocking, "open log file");
    ASSERT_TRUE(created) << created.error().message();
    EXPECT_TRUE(S_ISREG(created->st.st_mode));
    EXPECT_EQ(created->st.st_mode & 0777, 0600u);
    auto appended =
        open_named_file(file_, FileAccess::kAppendOrCreate, FileKinds::kRegularFifoOrCharDevice,
                        IoMode::kNonBlocking, "open log file");
    ASSERT_TRUE(appended);
    ASSERT_EQ(::write(appended->fd.get(), "!", 1), 1);
    struct stat st {};
    ASSERT_EQ(::stat(file_.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 9);
}

TEST_F(FileOpenTest, TruncatesOnlyAFileOfTheRightKind) {
    auto opened = open_named_file(file_, FileAccess::kTruncateOrCreate, FileKinds::kRegular,
                                  IoMode::kBlocking, "open snapshot state file");
    ASSERT_TRUE(opened) << opened.error().message();
    struct stat st {};
    ASSERT_EQ(::fstat(opened->fd.get(), &st), 0);
    EXPECT_EQ(st.st_size, 0);
    auto created = open_named_file(dir_ + "/new", FileAccess::kTruncateOrCreate,
                                   FileKinds::kRegular, IoMode::kBlocking, "open memory file");
    ASSERT_TRUE(created) << created.error().message();
    EXPECT_EQ(::fcntl(created->fd.get(), F_GETFL) & O_NONBLOCK, 0);
}

TEST_F(FileOpenTest, ReadsARegularFileWhole) {
    auto text = read_named_file(file_, FileKinds::kRegularOrFifo, 1024, milliseconds(0), "config");
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_EQ(*text, "contents");
}

TEST_F(FileOpenTest, RefusesAFileLargerThanTheLimitWithoutReadingIt) {
    const std::string big = dir_ + "/big";
    UniqueFd fd(::open(big.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_EQ(::ftruncate(fd.get(), 100 << 20), 0);  // Sparse: 100 MiB that take no space.
    auto begin = std::chrono::steady_clock::now();
    auto text = read_named_file(big, FileKinds::kRegularOrFifo, 4 << 20, milliseconds(0), "config");
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().message(),
              "config: " + big + ": 104857600 bytes, more than the 4194304 allowed");
    EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(100));
    auto small = read_named_file(file_, FileKinds::kRegular, 7, milliseconds(0), "config");
    ASSERT_FALSE(small);
}

TEST_F(FileOpenTest, RefusesDevZeroAndADirectoryAsAWholeFile) {
    for (const std::string& path : {std::string("/dev/zero"), dir_}) {
        auto text =
            read_named_file(path, FileKinds::kRegularOrFifo, 4 << 20, milliseconds(0), "config");
        ASSERT_FALSE(text) << path;
        EXPECT_NE(text.error().message().find(", not a regular file or FIFO"), std::string::npos);
    }
}

TEST_F(FileOpenTest, ReadsAFifoWhoseWriterConnectsAfterItIsOpened) {
    // A write-only open blocks until the reader has opened: the writer always comes second, as
    // with bash's `--config-file <(...)`.
    std::jthread writer([this] {
        UniqueFd w(::open(fifo_.c_str(), O_WRONLY | O_CLOEXEC));
        ASSERT_TRUE(w);
        ASSERT_EQ(::write(w.get(), "{\"a\":", 5), 5);
        ASSERT_EQ(::write(w.get(), "1}", 2), 2);
    });
    auto text =
        read_named_file(link_, FileKinds::kRegularOrFifo, 1024, milliseconds(5000), "config");
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_EQ(*text, "{\"a\":1}");
}

TEST_F(FileOpenTest, GivesUpOnAFifoWithNoWriterAtTheDeadline) {
    auto begin = std::chrono::steady_clock::now();
    auto text = bounded([&] {
        return read_named_file(fifo_, FileKinds::kRegularOrFifo, 1024, milliseconds(200), "config");
    });
    auto took = std::chrono::steady_clock::now() - begin;
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().message(),
              "config: " + fifo_ + ": the FIFO's writer did not finish within 200 ms");
    EXPECT_GE(took, milliseconds(200));
    EXPECT_LT(took, milliseconds(1000));
}

TEST_F(FileOpenTest, StopsReadingAFifoPastTheLimit) {
    ::signal(SIGPIPE, SIG_IGN);
    std::jthread writer([this] {
        UniqueFd w(::open(fifo_.c_str(), O_WRONLY | O_CLOEXEC));
        std::string chunk(4096, ' ');
        // Writes until the reader goes away (EPIPE; SIGPIPE is ignored below).
        while (::write(w.get(), chunk.data(), chunk.size()) > 0) {
        }
    });
    auto text =
        read_named_file(fifo_, FileKinds::kRegularOrFifo, 100000, milliseconds(5000), "config");
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().message(), "config: " + fifo_ + ": more than the 100000 bytes allowed");
}

TEST(FileKindName, NamesEachKind) {
    EXPECT_STREQ(file_kind_name(S_IFREG), "a regular file");
    EXPECT_STREQ(file_kind_name(S_IFDIR), "a directory");
    EXPECT_STREQ(file_kind_name(S_IFIFO), "a FIFO");
    EXPECT_STREQ(file_kind_name(S_IFCHR), "a character device");
    EXPECT_STREQ(file_kind_name(S_IFBLK), "a block device");
    EXPECT_STREQ(file_kind_name(S_IFSOCK), "a socket");
}

}  // namespace
}  // namespace ember
