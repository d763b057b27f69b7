// The ember-snapshot command line: describe and merge-diff, run as a user would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tests/unit/vmm/snapshot/test_state.h"
#include "vmm/snapshot/memory_file.h"

extern char** environ;

namespace ember::snapshot {
namespace {

struct ToolRun {
    int status = -1;
    std::string out;
};

ToolRun run_tool(std::vector<std::string> args) {
    // A file of its own: ctest runs the tests of this binary in parallel.
    std::string out_path = ::testing::TempDir() + "/tools_test.out.XXXXXX";
    int out_fd = ::mkstemp(out_path.data());
    EXPECT_GE(out_fd, 0);
    args.insert(args.begin(), EMBER_SNAPSHOT_TOOL);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
    pid_t pid = -1;
    ToolRun run;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_fd);
    EXPECT_EQ(::waitpid(pid, &run.status, 0), pid);
    run.status = WIFEXITED(run.status) ? WEXITSTATUS(run.status) : -1;
    std::ifstream in(out_path);
    run.out.assign(std::istreambuf_iterator<char>(in), {});
    ::unlink(out_path.c_str());
    return run;
}

TEST(EmberSnapshotTool, DescribesAStateFile) {
    std::string path = ::testing::TempDir() + "/tools_test.snap";
    ASSERT_TRUE(save(path, testing::sample_state()));
    ToolRun run = run_tool({"describe", path});
    EXPECT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("format 1.1"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("Check: OK"), std::string::npos) << run.out;

    std::ofstream(path, std::ios::app) << "x";
    run = run_tool({"describe", path});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.out.find("trailing bytes"), std::string::npos) << run.out;
    ::unlink(path.c_str());
}

TEST(EmberSnapshotTool, MergesADiffOntoItsBase) {
    std::string base = ::testing::TempDir() + "/tools_test.base";
    std::string diff = ::testing::TempDir() + "/tools_test.diff";
    std::vector<uint8_t> mem(8 * kPageSize, 0x11);
    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = mem}};
    ASSERT_TRUE(write_full_memory(base, chunks));
    std::fill_n(mem.begin() + 3 * kPageSize, kPageSize, 0x33);
    std::vector<uint64_t> bitmap = {1u << 3};
    std::vector<std::span<const uint64_t>> dirty = {bitmap};
    ASSERT_TRUE(write_diff_memory(diff, chunks, dirty));

    ToolRun run = run_tool({"merge-diff", base, diff});
    EXPECT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("4096 bytes in 1 extents"), std::string::npos) << run.out;
    std::ifstream in(base, std::ios::binary);
    std::vector<uint8_t> merged{std::istreambuf_iterator<char>(in), {}};
    EXPECT_EQ(merged, mem);

    // The same diff without its holes: refused, base untouched, unless --dense.
    std::string dense = ::testing::TempDir() + "/tools_test.dense";
    {
        std::ofstream out(dense, std::ios::binary);
        std::vector<uint8_t> bytes(8 * kPageSize, 0);
        std::fill_n(bytes.begin() + 3 * kPageSize, kPageSize, 0x44);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
    }
    run = run_tool({"merge-diff", base, dense});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.out.find("merge with --dense"), std::string::npos) << run.out;
    run = run_tool({"merge-diff", "--dense", base, dense});
    EXPECT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("32768 bytes in 1 extents"), std::string::npos) << run.out;
    ::unlink(dense.c_str());

    EXPECT_EQ(run_tool({"merge-diff", base}).status, 2);
    EXPECT_EQ(run_tool({"merge-diff", base, diff + ".missing"}).status, 1);
    ::unlink(base.c_str());
    ::unlink(diff.c_str());
}

}  // namespace
}  // namespace ember::snapshot
