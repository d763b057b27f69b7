// The symbolic constants a policy file may use as argument values, taken from the system headers
// at build time so the policy cannot drift from the ABI.
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "resources/seccomp/seccompiler/policy.h"
#include "vmm/kvm/kvm_abi.h"

namespace ember::seccompiler {
namespace {

struct Constant {
    std::string_view name;
    uint64_t value;
};

#define EMBER_CONSTANT(name) \
    Constant { #name, static_cast < uint64_t>(name) }
// KVM ioctls whose struct ends in a flexible array: the macros give other numbers in C++
// (see vmm/kvm/kvm_abi.h), so these come from Ember's own definitions.

constexpr Constant kConstants[] = {
    // KVM ioctls (linux/kvm.h).
    EMBER_CONSTANT(KVM_RUN),
    EMBER_CONSTANT(KVM_IRQFD),
    EMBER_CONSTANT(KVM_IOEVENTFD),
    EMBER_CONSTANT(KVM_IRQ_LINE),
    EMBER_CONSTANT(KVM_IRQ_LINE_STATUS),
    EMBER_CONSTANT(KVM_SIGNAL_MSI),
    EMBER_CONSTANT(KVM_GET_DIRTY_LOG),
    EMBER_CONSTANT(KVM_GET_IRQCHIP),
    EMBER_CONSTANT(KVM_GET_CLOCK),
    EMBER_CONSTANT(KVM_SET_CLOCK),
    EMBER_CONSTANT(KVM_GET_PIT2),
    EMBER_CONSTANT(KVM_GET_REGS),
    EMBER_CONSTANT(KVM_GET_SREGS),
    EMBER_CONSTANT(KVM_GET_FPU),
    Constant{"KVM_GET_XSAVE", kvm::abi::kGetXsave},
    Constant{"KVM_GET_XSAVE2", kvm::abi::kGetXsave2},
    EMBER_CONSTANT(KVM_GET_XCRS),
    EMBER_CONSTANT(KVM_GET_DEBUGREGS),
    EMBER_CONSTANT(KVM_GET_LAPIC),
    Constant{"KVM_GET_MSRS", kvm::abi::kGetMsrs},
    Constant{"KVM_GET_CPUID2", kvm::abi::kGetCpuid2},
    EMBER_CONSTANT(KVM_GET_VCPU_EVENTS),
    EMBER_CONSTANT(KVM_GET_MP_STATE),
    EMBER_CONSTANT(KVM_GET_TSC_KHZ),
    EMBER_CONSTANT(KVM_KVMCLOCK_CTRL),
    EMBER_CONSTANT(KVM_SET_REGS),
    EMBER_CONSTANT(KVM_SET_USER_MEMORY_REGION),
    EMBER_CONSTANT(KVM_CREATE_VM),
    EMBER_CONSTANT(KVM_CREATE_VCPU),
    // tun/tap ioctls (linux/if_tun.h).
    EMBER_CONSTANT(TUNSETIFF),
    EMBER_CONSTANT(TUNSETOFFLOAD),
    EMBER_CONSTANT(TUNSETVNETHDRSZ),
    // Terminal ioctls.
    EMBER_CONSTANT(FIONBIO),
    EMBER_CONSTANT(TCGETS),
    EMBER_CONSTANT(TCSETS),
    EMBER_CONSTANT(TIOCGWINSZ),
    // Sockets.
    EMBER_CONSTANT(AF_UNIX),
    EMBER_CONSTANT(AF_INET),
    EMBER_CONSTANT(SOCK_STREAM),
    EMBER_CONSTANT(SOCK_CLOEXEC),
    EMBER_CONSTANT(SOCK_NONBLOCK),
    EMBER_CONSTANT(MSG_NOSIGNAL),
    EMBER_CONSTANT(MSG_DONTWAIT),
    // Memory.
    EMBER_CONSTANT(PROT_NONE),
    EMBER_CONSTANT(PROT_READ),
    EMBER_CONSTANT(PROT_WRITE),
    EMBER_CONSTANT(PROT_EXEC),
    EMBER_CONSTANT(MAP_SHARED),
    EMBER_CONSTANT(MAP_PRIVATE),
    EMBER_CONSTANT(MAP_ANONYMOUS),
    EMBER_CONSTANT(MAP_FIXED),
    EMBER_CONSTANT(MAP_POPULATE),
    EMBER_CONSTANT(MADV_DONTNEED),
    EMBER_CONSTANT(MADV_FREE),
    EMBER_CONSTANT(MADV_REMOVE),
    // Futexes.
    EMBER_CONSTANT(FUTEX_WAIT),
    EMBER_CONSTANT(FUTEX_WAKE),
    EMBER_CONSTANT(FUTEX_WAIT_BITSET),
    EMBER_CONSTANT(FUTEX_PRIVATE_FLAG),
    EMBER_CONSTANT(FUTEX_CLOCK_REALTIME),
    // fcntl.
    EMBER_CONSTANT(F_GETFD),
    EMBER_CONSTANT(F_SETFD),
    EMBER_CONSTANT(F_GETFL),
    EMBER_CONSTANT(F_SETFL),
    EMBER_CONSTANT(FD_CLOEXEC),
    EMBER_CONSTANT(O_NONBLOCK),
    // Signals.
    EMBER_CONSTANT(SIGABRT),
    EMBER_CONSTANT(SIGSYS),
    EMBER_CONSTANT(SIG_BLOCK),
    EMBER_CONSTANT(SIG_UNBLOCK),
    EMBER_CONSTANT(SIG_SETMASK),
    // timerfd / eventfd.
    EMBER_CONSTANT(TFD_TIMER_ABSTIME),
    EMBER_CONSTANT(EFD_CLOEXEC),
    EMBER_CONSTANT(EFD_NONBLOCK),
};

#undef EMBER_CONSTANT

std::optional<uint64_t> resolve_one(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text.empty()) return std::nullopt;
    // "SIGRTMIN+N": the vCPU kick signal is a real-time signal.
    if (text.rfind("SIGRTMIN+", 0) == 0) {
        auto offset = resolve_one(text.substr(9));
        if (!offset) return std::nullopt;
        return static_cast<uint64_t>(SIGRTMIN) + *offset;
    }
    for (const Constant& c : kConstants) {
        if (c.name == text) return c.value;
    }
    uint64_t value = 0;
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        text.remove_prefix(2);
        base = 16;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<uint64_t> resolve_value(std::string_view text) {
    uint64_t result = 0;
    size_t start = 0;
    while (true) {
        size_t bar = text.find('|', start);
        auto part =
            resolve_one(text.substr(start, bar == std::string_view::npos ? bar : bar - start));
        if (!part) return std::nullopt;
        result |= *part;
        if (bar == std::string_view::npos) return result;
        start = bar + 1;
    }
}

}  // namespace ember::seccompiler
