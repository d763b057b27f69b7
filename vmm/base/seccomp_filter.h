// Seccomp filters, one BPF program per thread kind, installed by each thread on itself.
//
// The programs come from a compiled filter file (see resources/seccomp/README.md for the format),
// either the one embedded in ember at build time (seccomp_builtin.h) or one given with
// `--seccomp-filter FILE`. A forbidden syscall raises SIGSYS (SECCOMP_RET_TRAP); the handler
// installed by install_sigsys_handler() writes the syscall number to stderr and exits with 148,
// as Firecracker does.
#pragma once

#include <linux/filter.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace ember {

// The threads of an ember process, as Firecracker's: the vmm event loop, the API server, vCPUs.
enum class ThreadKind : uint8_t { kVmm = 0, kApi, kVcpu };
inline constexpr size_t kThreadKindCount = 3;

std::string_view thread_kind_name(ThreadKind kind);
std::optional<ThreadKind> parse_thread_kind(std::string_view name);

// Firecracker's exit code after a seccomp violation.
inline constexpr int kSeccompViolationExitCode = 148;

// One classic BPF program. Empty means "no filter" (what --no-seccomp installs).
using BpfProgram = std::vector<sock_filter>;

// The compiled filter file: a magic, a version, then one named program per thread kind.
//   "EMBRBPF1"  u32 count  { char name[16] (NUL padded)  u32 insn_count  sock_filter[insn_count] }
// All integers are little endian; sock_filter is {u16 code, u8 jt, u8 jf, u32 k}.
inline constexpr std::string_view kSeccompFileMagic = "EMBRBPF1";
inline constexpr size_t kSeccompNameBytes = 16;

// The set of programs for the three thread kinds. Owned by main, read by every thread.
class SeccompFilters {
public:
    // Parses a compiled filter file; it must name each of vmm, api and vcpu exactly once.
    static Result<SeccompFilters> parse(std::span<const uint8_t> bytes);
    // Reads and parses a compiled filter file (`--seccomp-filter FILE`).
    static Result<SeccompFilters> load_file(const std::string& path);
    // No filtering at all (`--no-seccomp`; not for production).
    static SeccompFilters none() { return SeccompFilters(); }

    // Serializes programs into the compiled file format (used by ember-seccompiler and tests).
    static std::vector<uint8_t> serialize(const std::array<BpfProgram, kThreadKindCount>& programs);

    const BpfProgram& program(ThreadKind kind) const {
        return programs_[static_cast<size_t>(kind)];
    }

    // Thread: any; filters only the calling thread (no TSYNC: each thread installs its own).
    // Sets PR_SET_NO_NEW_PRIVS, then seccomp(SECCOMP_SET_MODE_FILTER). An empty program is a
    // no-op.
    Result<void> install(ThreadKind kind) const;

private:
    std::array<BpfProgram, kThreadKindCount> programs_;
};

// Installs the process-wide SIGSYS handler that reports a forbidden syscall and exits with 148.
// Call once in main before any filter is installed.
Result<void> install_sigsys_handler();

// Makes every thread that starts afterwards allocate from glibc's main arena
// (mallopt(M_ARENA_MAX, 1), as musl's single heap in Firecracker): malloc and free then need only
// brk, mmap, munmap, mremap and madvise(MADV_DONTNEED), which every filter allows. A per-thread
// arena would also reach openat (glibc reads /proc/sys/vm/overcommit_memory the first time it
// shrinks one) and sched_getaffinity (when a ninth arena is made). Thread: main, before any other
// thread starts (a thread keeps the arena it first allocated from). Fails only under an allocator
// that replaces glibc's (sanitizers), where it does nothing. See resources/seccomp/README.md.
Result<void> use_one_malloc_arena();

// Installs `program` on the calling thread (the primitive behind SeccompFilters::install).
// `label` names the thread in the SIGSYS handler's message (a string literal: it is kept).
Result<void> install_bpf_program(const BpfProgram& program, const char* label = "custom");

}  // namespace ember
