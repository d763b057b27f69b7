// kvm_smoke: proves that /dev/kvm works where the integration tests run (directly or inside
// ember-sandbox's outer VM). It creates a VM with one small memory slot, runs a few real-mode
// instructions that compute (2 + 2) * 10 + 2 and write it to an I/O port, and checks the
// KVM_EXIT_IO exit and the final KVM_EXIT_HLT. Exit status 0 only if the value matches.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {
namespace {

constexpr uint64_t kCodeGpa = 0x1000;
constexpr size_t kSlotSizeBytes = 0x4000;
constexpr uint16_t kPort = 0x10;
constexpr uint8_t kExpectedValue = 42;

// Real-mode code: mov al,2; add al,2; mov bl,10; mul bl; add al,2; mov dx,0x10; out dx,al; hlt.
constexpr std::array<uint8_t, 14> kCode = {
    0xB0, 0x02,        // mov al, 2
    0x04, 0x02,        // add al, 2
    0xB3, 0x0A,        // mov bl, 10
    0xF6, 0xE3,        // mul bl        (ax = al * bl = 40)
    0x04, 0x02,        // add al, 2     (42)
    0xBA, 0x10, 0x00,  // mov dx, 0x10
    0xEE,              // out dx, al
};
constexpr uint8_t kHlt = 0xF4;

struct Report {
    int api_version = 0;
    uint16_t port = 0;
    uint32_t value = 0;
};

Result<UniqueFd> checked_fd(int fd, const char* context) {
    if (fd < 0) return Error::from_errno(context);
    return UniqueFd(fd);
}

Result<void> checked(int rc, const char* context) {
    if (rc < 0) return Error::from_errno(context);
    return ok();
}

Result<Report> run_smoke() {
    Report report;
    UniqueFd kvm = EMBER_TRY(checked_fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC), "open /dev/kvm"));
    report.api_version = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
    if (report.api_version != KVM_API_VERSION) {
        return Error::invalid("KVM_GET_API_VERSION", std::to_string(report.api_version));
    }
    UniqueFd vm = EMBER_TRY(checked_fd(::ioctl(kvm.get(), KVM_CREATE_VM, 0), "KVM_CREATE_VM"));

    MmapRegion memory = EMBER_TRY(MmapRegion::anonymous(kSlotSizeBytes));
    std::memcpy(memory.data() + kCodeGpa, kCode.data(), kCode.size());
    memory.data()[kCodeGpa + kCode.size()] = kHlt;
    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = kSlotSizeBytes;
    region.userspace_addr = reinterpret_cast<uint64_t>(memory.data());
    EMBER_TRY(checked(::ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region),
                      "KVM_SET_USER_MEMORY_REGION"));

    UniqueFd vcpu = EMBER_TRY(checked_fd(::ioctl(vm.get(), KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU"));
    const int run_size = ::ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    EMBER_TRY(checked(run_size, "KVM_GET_VCPU_MMAP_SIZE"));
    MmapRegion run_map = EMBER_TRY(MmapRegion::of_file(vcpu.get(), static_cast<size_t>(run_size), 0,
                                                       PROT_READ | PROT_WRITE, MAP_SHARED));
    auto* run = reinterpret_cast<kvm_run*>(run_map.data());

    kvm_sregs sregs{};
    EMBER_TRY(checked(::ioctl(vcpu.get(), KVM_GET_SREGS, &sregs), "KVM_GET_SREGS"));
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    EMBER_TRY(checked(::ioctl(vcpu.get(), KVM_SET_SREGS, &sregs), "KVM_SET_SREGS"));
    kvm_regs regs{};
    regs.rip = kCodeGpa;
    regs.rflags = 0x2;  // Bit 1 is reserved and must be set.
    EMBER_TRY(checked(::ioctl(vcpu.get(), KVM_SET_REGS, &regs), "KVM_SET_REGS"));

    EMBER_TRY(checked(::ioctl(vcpu.get(), KVM_RUN, 0), "KVM_RUN"));
    if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
        run->io.size != 1 || run->io.count != 1) {
        return Error::invalid("first exit", "expected a one-byte KVM_EXIT_IO out, got reason " +
                                                std::to_string(run->exit_reason));
    }
    report.port = run->io.port;
    report.value = run_map.data()[run->io.data_offset];

    EMBER_TRY(checked(::ioctl(vcpu.get(), KVM_RUN, 0), "KVM_RUN"));
    if (run->exit_reason != KVM_EXIT_HLT) {
        return Error::invalid(
            "second exit", "expected KVM_EXIT_HLT, got reason " + std::to_string(run->exit_reason));
    }
    return report;
}

}  // namespace
}  // namespace ember

int main() {
    auto report = ember::run_smoke();
    if (!report) {
        std::fprintf(stderr, "kvm_smoke: FAIL: %s\n", report.error().message().c_str());
        return 1;
    }
    std::printf("kvm_smoke: port 0x%x value %u (KVM API %d)\n", report->port, report->value,
                report->api_version);
    if (report->port != ember::kPort || report->value != ember::kExpectedValue) {
        std::fprintf(stderr, "kvm_smoke: FAIL: expected port 0x%x value %u\n", ember::kPort,
                     ember::kExpectedValue);
        return 1;
    }
    return 0;
}
