// The seccomp filters: the compiled file format, and each thread kind's embedded filter
// installed in a forked child that makes an allowed call, then a forbidden one.
#include "vmm/base/seccomp_filter.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "vmm/base/seccomp_builtin.h"

namespace ember {
namespace {

struct ChildResult {
    int exit_code = -1;
    std::string stderr_text;
};

// Forks; the child installs the SIGSYS handler and `filters`' program for `kind`, then runs
// `body`. The body may only use raw syscalls its filter allows (no gtest in the child).
ChildResult run_filtered(const SeccompFilters& filters, ThreadKind kind,
                         const std::function<int()>& body) {
    ChildResult result;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return result;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], STDERR_FILENO);
        if (!install_sigsys_handler()) ::_exit(90);
        if (!filters.install(kind)) ::_exit(91);
        // Not _exit: under sanitizers it runs a leak check that the filters would stop.
        ::syscall(SYS_exit_group, body());
    }
    ::close(fds[1]);
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0)
        result.stderr_text.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

void say(const char* text) {
    ssize_t ignored = ::write(STDERR_FILENO, text, std::char_traits<char>::length(text));
    (void)ignored;
}

std::string violation(long nr, ThreadKind kind) {
    return "Shutting down VM after intercepting a bad syscall (" + std::to_string(nr) +
           ") in a thread under the " + std::string(thread_kind_name(kind)) + " filter.\n";
}

SeccompFilters builtin() {
    auto filters = builtin_seccomp_filters();
    EXPECT_TRUE(filters) << filters.error().message();
    return filters ? std::move(*filters) : SeccompFilters::none();
}

TEST(SeccompFilters, TheEmbeddedFileHoldsANonEmptyProgramPerThreadKind) {
    SeccompFilters filters = builtin();
    for (ThreadKind kind : {ThreadKind::kVmm, ThreadKind::kApi, ThreadKind::kVcpu}) {
        EXPECT_GT(filters.program(kind).size(), 10u) << thread_kind_name(kind);
    }
    // The filters differ: vcpu is the narrowest.
    EXPECT_LT(filters.program(ThreadKind::kVcpu).size(), filters.program(ThreadKind::kVmm).size());
}

TEST(SeccompFilters, TheCompiledFileOnDiskIsTheEmbeddedOneAndLoads) {
    std::ifstream in(EMBER_SECCOMP_BPF_FILE, std::ios::binary);
    std::vector<uint8_t> on_disk((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
    auto embedded = builtin_seccomp_bytes();
    EXPECT_EQ(on_disk, std::vector<uint8_t>(embedded.begin(), embedded.end()));
    auto loaded = SeccompFilters::load_file(EMBER_SECCOMP_BPF_FILE);
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->program(ThreadKind::kApi).size(), builtin().program(ThreadKind::kApi).size());
}

TEST(SeccompFilters, SerializeAndParseRoundTrip) {
    std::array<BpfProgram, kThreadKindCount> programs;
    programs[0] = {{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW}};
    programs[2] = {{BPF_LD | BPF_W | BPF_ABS, 1, 2, 3}, {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRAP}};
    auto parsed = SeccompFilters::parse(SeccompFilters::serialize(programs));
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->program(ThreadKind::kVmm).size(), 1u);
    EXPECT_TRUE(parsed->program(ThreadKind::kApi).empty());
    ASSERT_EQ(parsed->program(ThreadKind::kVcpu).size(), 2u);
    EXPECT_EQ(parsed->program(ThreadKind::kVcpu)[0].jt, 1);
    EXPECT_EQ(parsed->program(ThreadKind::kVcpu)[0].jf, 2);
    EXPECT_EQ(parsed->program(ThreadKind::kVcpu)[0].k, 3u);
}

TEST(SeccompFilters, RejectsMalformedFiles) {
    std::array<BpfProgram, kThreadKindCount> programs;
    programs[1] = {{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW}};
    std::vector<uint8_t> good = SeccompFilters::serialize(programs);
    ASSERT_TRUE(SeccompFilters::parse(good));

    std::vector<uint8_t> bad_magic = good;
    bad_magic[0] = 'X';
    EXPECT_FALSE(SeccompFilters::parse(bad_magic));
    for (size_t cut : {size_t{0}, size_t{5}, size_t{11}, good.size() - 1}) {
        EXPECT_FALSE(SeccompFilters::parse(std::span(good.data(), cut))) << "cut at " << cut;
    }
    std::vector<uint8_t> trailing = good;
    trailing.push_back(0);
    EXPECT_FALSE(SeccompFilters::parse(trailing));
    // The second entry renamed to "vmm": a duplicate, and "api" missing.
    std::vector<uint8_t> duplicate = good;
    size_t second_name = 8 + 4 + 16 + 4;
    std::memcpy(&duplicate[second_name], "vmm", 4);
    EXPECT_FALSE(SeccompFilters::parse(duplicate));
    // A length past the kernel's 4096-instruction limit.
    std::vector<uint8_t> huge = good;
    huge[8 + 4 + 16] = 0xff;
    huge[8 + 4 + 16 + 1] = 0xff;
    EXPECT_FALSE(SeccompFilters::parse(huge));
    EXPECT_FALSE(SeccompFilters::load_file("/nonexistent/filter.bpf"));
}

TEST(SeccompFilters, VmmFilterAllowsItsWorkAndStopsExecutableMappings) {
    ChildResult r = run_filtered(builtin(), ThreadKind::kVmm, [] {
        void* rw =
            ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (rw == MAP_FAILED) return 10;
        if (::munmap(rw, 4096) != 0) return 11;
        say("allowed\n");
        (void)::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return 12;
    });
    EXPECT_EQ(r.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(r.stderr_text, "allowed\n" + violation(SYS_mmap, ThreadKind::kVmm));
}

TEST(SeccompFilters, VmmFilterStopsSocketCreation) {
    ChildResult r = run_filtered(builtin(), ThreadKind::kVmm, [] {
        say("allowed\n");
        ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return 12;
    });
    EXPECT_EQ(r.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(r.stderr_text, "allowed\n" + violation(SYS_socket, ThreadKind::kVmm));
}

// The API thread serves the socket made before its filter: it needs no new socket of any kind
// and opens no file (PUT /logger and /metrics open theirs on the vmm thread).
TEST(SeccompFilters, ApiFilterAcceptsButMakesNoSocketsAndOpensNoFiles) {
    ChildResult r = run_filtered(builtin(), ThreadKind::kApi, [] {
        if (::accept4(-1, nullptr, nullptr, SOCK_CLOEXEC) != -1 || errno != EBADF) return 10;
        say("allowed\n");
        ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return 12;
    });
    EXPECT_EQ(r.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(r.stderr_text, "allowed\n" + violation(SYS_socket, ThreadKind::kApi));

    r = run_filtered(builtin(), ThreadKind::kApi, [] {
        (void)::openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
        return 12;
    });
    EXPECT_EQ(r.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(r.stderr_text, violation(SYS_openat, ThreadKind::kApi));
}

TEST(SeccompFilters, VcpuFilterAllowsKvmRunButNotOtherKvmIoctls) {
    ChildResult r = run_filtered(builtin(), ThreadKind::kVcpu, [] {
        // Not a vCPU fd: the kernel fails the call, but the filter let it through.
        if (::ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF) return 10;
        say("allowed\n");
        ::ioctl(-1, KVM_SET_USER_MEMORY_REGION, 0);
        return 12;
    });
    EXPECT_EQ(r.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(r.stderr_text, "allowed\n" + violation(SYS_ioctl, ThreadKind::kVcpu));
}

TEST(SeccompFilters, VcpuFilterStopsOpeningFiles) {
    ChildResult r = run_filtered(builtin(), ThreadKind::kVcpu, [] {
        ::syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
        return 12;
    });
    EXPECT_EQ(r.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(r.stderr_text, violation(SYS_openat, ThreadKind::kVcpu));
}

TEST(SeccompFilters, EveryThreadKindStopsExecve) {
    for (ThreadKind kind : {ThreadKind::kVmm, ThreadKind::kApi, ThreadKind::kVcpu}) {
        ChildResult r = run_filtered(builtin(), kind, [] {
            char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
            char* envp[] = {nullptr};
            ::syscall(SYS_execve, "/bin/true", argv, envp);
            return 12;
        });
        EXPECT_EQ(r.exit_code, kSeccompViolationExitCode) << thread_kind_name(kind);
        EXPECT_EQ(r.stderr_text, violation(SYS_execve, kind)) << thread_kind_name(kind);
    }
}

TEST(SeccompFilters, ACustomFilterFileIsLoadedAndEnforced) {
    // vmm: trap getppid, allow everything else; api and vcpu: no filter.
    std::array<BpfProgram, kThreadKindCount> programs;
    programs[0] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(seccomp_data, nr)},
        {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_getppid},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRAP},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW},
    };
    std::vector<uint8_t> bytes = SeccompFilters::serialize(programs);
    char path[] = "/tmp/ember-seccomp-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    auto filters = SeccompFilters::load_file(path);
    ::unlink(path);
    ASSERT_TRUE(filters) << filters.error().message();

    ChildResult vmm = run_filtered(*filters, ThreadKind::kVmm, [] {
        if (::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0) return 10;
        say("allowed\n");
        ::syscall(SYS_getppid);
        return 12;
    });
    EXPECT_EQ(vmm.exit_code, kSeccompViolationExitCode);
    EXPECT_EQ(vmm.stderr_text, "allowed\n" + violation(SYS_getppid, ThreadKind::kVmm));

    ChildResult api = run_filtered(*filters, ThreadKind::kApi,
                                   [] { return ::syscall(SYS_getppid) > 0 ? 0 : 10; });
    EXPECT_EQ(api.exit_code, 0) << api.stderr_text;
}

TEST(SeccompFilters, NoFiltersMeansNoRestriction) {
    ChildResult r = run_filtered(SeccompFilters::none(), ThreadKind::kVcpu, [] {
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return s >= 0 ? 0 : 10;
    });
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
}

}  // namespace
}  // namespace ember
