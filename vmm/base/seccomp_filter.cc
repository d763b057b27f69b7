#include "vmm/base/seccomp_filter.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "vmm/base/file_open.h"
#include "vmm/base/unique_fd.h"

namespace ember {
namespace {

constexpr std::array<std::string_view, kThreadKindCount> kThreadKindNames = {"vmm", "api", "vcpu"};
// The kernel's limit on one classic BPF program (BPF_MAXINSNS).
constexpr uint32_t kMaxInstructions = 4096;
// A compiled filter file is a few KiB; refuse anything absurd before reading it.
constexpr off_t kMaxFileBytes = 1 << 20;

uint32_t load_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void store_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A cursor over the file bytes that never reads past the end.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    bool take(size_t n, const uint8_t** out) {
        if (bytes_.size() - pos_ < n) return false;
        *out = bytes_.data() + pos_;
        pos_ += n;
        return true;
    }
    bool at_end() const { return pos_ == bytes_.size(); }

private:
    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;
};

// Async-signal-safe: formats `value` in decimal into `buf`, returns the length.
size_t format_decimal(long value, char* buf, size_t size) {
    char tmp[24];
    size_t n = 0;
    bool negative = value < 0;
    unsigned long v =
        negative ? 0UL - static_cast<unsigned long>(value) : static_cast<unsigned long>(value);
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < sizeof(tmp));
    size_t len = 0;
    if (negative && len < size) buf[len++] = '-';
    while (n > 0 && len < size) buf[len++] = tmp[--n];
    return len;
}

// Which filter the thread installed, for the SIGSYS message: a thread_local read in the handler
// is async-signal-safe in this statically linked binary (initial-exec TLS).
thread_local const char* t_filter_label = "none";

// Runs in the faulting thread. Only async-signal-safe calls: write and exit_group (both allowed
// by every filter in resources/seccomp).
void handle_sigsys(int, siginfo_t* info, void*) {
    char line[160];
    size_t len = 0;
    auto append = [&](std::string_view text) {
        size_t n = std::min(text.size(), sizeof(line) - 1 - len);
        std::memcpy(line + len, text.data(), n);
        len += n;
    };
    append("Shutting down VM after intercepting a bad syscall (");
    len += format_decimal(info->si_syscall, line + len, sizeof(line) - len - 1);
    append(") in a thread under the ");
    append(t_filter_label);
    append(" filter.");
    line[len++] = '\n';
    // Raw syscalls: sanitizer runtimes hook write and _exit (a leak check at _exit would make
    // syscalls no filter allows).
    ::syscall(SYS_write, STDERR_FILENO, line, len);
    ::syscall(SYS_exit_group, kSeccompViolationExitCode);
}

}  // namespace

std::string_view thread_kind_name(ThreadKind kind) {
    return kThreadKindNames[static_cast<size_t>(kind)];
}

std::optional<ThreadKind> parse_thread_kind(std::string_view name) {
    for (size_t i = 0; i < kThreadKindCount; ++i) {
        if (kThreadKindNames[i] == name) return static_cast<ThreadKind>(i);
    }
    return std::nullopt;
}

Result<SeccompFilters> SeccompFilters::parse(std::span<const uint8_t> bytes) {
    Reader reader(bytes);
    const uint8_t* p = nullptr;
    if (!reader.take(kSeccompFileMagic.size(), &p) ||
        std::memcmp(p, kSeccompFileMagic.data(), kSeccompFileMagic.size()) != 0) {
        return Error::invalid("seccomp filter file",
                              "bad magic (not compiled by ember-seccompiler)");
    }
    if (!reader.take(4, &p)) return Error::invalid("seccomp filter file", "truncated header");
    uint32_t count = load_u32(p);
    if (count != kThreadKindCount) {
        return Error::invalid("seccomp filter file",
                              "must hold exactly the vmm, api and vcpu filters");
    }
    SeccompFilters filters;
    std::array<bool, kThreadKindCount> seen{};
    for (uint32_t i = 0; i < count; ++i) {
        if (!reader.take(kSeccompNameBytes, &p)) {
            return Error::invalid("seccomp filter file", "truncated filter name");
        }
        std::string_view name(reinterpret_cast<const char*>(p),
                              strnlen(reinterpret_cast<const char*>(p), kSeccompNameBytes));
        auto kind = parse_thread_kind(name);
        if (!kind)
            return Error::invalid("seccomp filter file",
                                  "unknown thread kind: " + std::string(name));
        size_t index = static_cast<size_t>(*kind);
        if (seen[index])
            return Error::invalid("seccomp filter file", "duplicate filter: " + std::string(name));
        seen[index] = true;
        if (!reader.take(4, &p)) return Error::invalid("seccomp filter file", "truncated length");
        uint32_t insns = load_u32(p);
        if (insns > kMaxInstructions) {
            return Error::invalid("seccomp filter file", "program too long: " + std::string(name));
        }
        BpfProgram& program = filters.programs_[index];
        program.resize(insns);
        for (uint32_t j = 0; j < insns; ++j) {
            if (!reader.take(8, &p))
                return Error::invalid("seccomp filter file", "truncated program");
            program[j].code = static_cast<uint16_t>(p[0] | p[1] << 8);
            program[j].jt = p[2];
            program[j].jf = p[3];
            program[j].k = load_u32(p + 4);
        }
    }
    if (!reader.at_end()) return Error::invalid("seccomp filter file", "trailing bytes");
    return filters;
}

Result<SeccompFilters> SeccompFilters::load_file(const std::string& path) {
    // A regular file only, opened without blocking (a FIFO here would hang start-up).
    std::string bytes =
        EMBER_TRY(read_named_file(path, FileKinds::kRegular, static_cast<size_t>(kMaxFileBytes),
                                  std::chrono::milliseconds(0), "seccomp filter file"));
    return parse(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::vector<uint8_t> SeccompFilters::serialize(
    const std::array<BpfProgram, kThreadKindCount>& programs) {
    std::vector<uint8_t> out(kSeccompFileMagic.begin(), kSeccompFileMagic.end());
    store_u32(out, kThreadKindCount);
    for (size_t i = 0; i < kThreadKindCount; ++i) {
        std::string_view name = kThreadKindNames[i];
        for (size_t c = 0; c < kSeccompNameBytes; ++c) {
            out.push_back(c < name.size() ? static_cast<uint8_t>(name[c]) : 0);
        }
        store_u32(out, static_cast<uint32_t>(programs[i].size()));
        for (const sock_filter& insn : programs[i]) {
            out.push_back(static_cast<uint8_t>(insn.code));
            out.push_back(static_cast<uint8_t>(insn.code >> 8));
            out.push_back(insn.jt);
            out.push_back(insn.jf);
            store_u32(out, insn.k);
        }
    }
    return out;
}

Result<void> SeccompFilters::install(ThreadKind kind) const {
    return install_bpf_program(program(kind), thread_kind_name(kind).data());
}

Result<void> install_bpf_program(const BpfProgram& program, const char* label) {
    if (program.empty()) return ok();
    t_filter_label = label;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return Error::from_errno("prctl(PR_SET_NO_NEW_PRIVS)");
    }
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(program.size());
    fprog.filter = const_cast<sock_filter*>(program.data());
    // No SECCOMP_FILTER_FLAG_TSYNC: the filter applies to the calling thread only.
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
        return Error::from_errno("seccomp(SECCOMP_SET_MODE_FILTER)");
    }
    return ok();
}

Result<void> use_one_malloc_arena() {
    // glibc's mallopt returns 1 on success; a replacement allocator's returns 0.
    if (::mallopt(M_ARENA_MAX, 1) != 1) {
        return Error::invalid("mallopt(M_ARENA_MAX, 1)", "not glibc's allocator");
    }
    return ok();
}

Result<void> install_sigsys_handler() {
    struct sigaction action {};
    action.sa_sigaction = handle_sigsys;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGSYS, &action, nullptr) != 0) return Error::from_errno("sigaction(SIGSYS)");
    // A blocked SIGSYS would make the kernel kill the thread silently instead of reporting.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSYS);
    if (::pthread_sigmask(SIG_UNBLOCK, &set, nullptr) != 0) {
        return Error::invalid("pthread_sigmask(SIGSYS)");
    }
    return ok();
}

}  // namespace ember
