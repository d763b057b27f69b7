// The allocator policy of resources/seccomp/README.md: after use_one_malloc_arena(), a thread
// under any of the built-in filters can allocate and free in any pattern (sizes from bytes to
// MiBs, growth by realloc, frees that trim the heap) without a syscall its filter forbids. Each
// case runs in a forked child, since a violation ends the process with 148.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "tests/fakes/sanitizers.h"
#include "vmm/base/seccomp_builtin.h"

namespace ember {
namespace {

constexpr bool kSanitizerAllocator = ember::testing::kUnderSanitizer;

// Allocation patterns that make glibc grow and trim its heap, map and unmap large blocks and
// move them with mremap. Returns a checksum so that nothing is optimised away.
size_t churn(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<void*> live(512, nullptr);
    size_t sum = 0;
    for (int i = 0; i < 20000; ++i) {
        size_t slot = rng() % live.size();
        std::free(live[slot]);
        live[slot] = nullptr;
        size_t size;
        switch (rng() % 8) {
            case 0: size = 1 + rng() % 64; break;
            case 1: size = 1 + rng() % 4096; break;
            case 2: size = 32UL * 1024 + rng() % (96UL * 1024); break;  // Below the mmap threshold.
            case 3: size = 128UL * 1024 + rng() % (2 << 20); break;     // Above it: mmap/munmap.
            default: size = 1 + rng() % 1024; break;
        }
        void* p = std::malloc(size);
        if (p == nullptr) return 0;
        std::memset(p, static_cast<int>(i), size);
        if (rng() % 16 == 0) {
            // Growth in place or by mremap for mmapped blocks.
            void* q = std::realloc(p, size * 3);
            if (q == nullptr) return 0;
            p = q;
        }
        live[slot] = p;
        sum += size;
        // Now and then everything goes at once: the top of the heap is trimmed.
        if (i % 2500 == 2499) {
            for (void*& q : live) {
                std::free(q);
                q = nullptr;
            }
        }
    }
    for (void* p : live) std::free(p);
    return sum;
}

// Forks; the child prepares as ember's main does, then a thread installs `kind`'s built-in filter
// and churns. Returns the child's exit code (148: a forbidden syscall).
int churn_in_filtered_thread(ThreadKind kind) {
    pid_t pid = ::fork();
    if (pid == 0) {
        (void)use_one_malloc_arena();
        if (!install_sigsys_handler()) ::syscall(SYS_exit_group, 90);
        Result<SeccompFilters> filters = builtin_seccomp_filters();
        if (!filters) ::syscall(SYS_exit_group, 91);
        int code = 92;
        std::thread worker([&] {
            if (!filters->install(kind)) return;
            code = churn(static_cast<uint64_t>(kind) + 1) > 0 ? 0 : 93;
        });
        worker.join();
        ::syscall(SYS_exit_group, code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class SeccompAllocator : public ::testing::TestWithParam<ThreadKind> {};

TEST_P(SeccompAllocator, AFilteredThreadAllocatesAndFreesInAnyPatternWithoutAViolation) {
    if (kSanitizerAllocator) GTEST_SKIP() << "a sanitizer's allocator is not glibc's";
    EXPECT_EQ(churn_in_filtered_thread(GetParam()), 0)
        << "148 is a seccomp violation under the " << thread_kind_name(GetParam()) << " filter";
}

INSTANTIATE_TEST_SUITE_P(EveryThreadKind, SeccompAllocator,
                         ::testing::Values(ThreadKind::kVmm, ThreadKind::kApi, ThreadKind::kVcpu),
                         [](const ::testing::TestParamInfo<ThreadKind>& param) {
                             return std::string(thread_kind_name(param.param));
                         });

}  // namespace
}  // namespace ember
