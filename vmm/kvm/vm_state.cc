#include "vmm/kvm/vm_state.h"

#include <sys/ioctl.h>
#include <time.h>

#include <cerrno>

namespace ember::kvm {
namespace {

Result<kvm_irqchip> get_irqchip(int vm_fd, uint32_t chip_id) {
    kvm_irqchip chip{};
    chip.chip_id = chip_id;
    if (::ioctl(vm_fd, KVM_GET_IRQCHIP, &chip) < 0) return Error::from_errno("KVM_GET_IRQCHIP");
    return chip;
}

Result<void> set_irqchip(int vm_fd, const kvm_irqchip& chip, uint32_t expected_id) {
    if (chip.chip_id != expected_id) {
        return Error::invalid("KVM_SET_IRQCHIP", "irqchip state saved under another chip id");
    }
    if (::ioctl(vm_fd, KVM_SET_IRQCHIP, &chip) < 0) return Error::from_errno("KVM_SET_IRQCHIP");
    return ok();
}

uint64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Result<kvm_clock_data> clock_to_set(const VmState& state, ClockRestore mode,
                                    uint64_t now_realtime_ns) {
    kvm_clock_data clock = state.clock;
    clock.flags = 0;  // KVM_GET_CLOCK's TSC_STABLE/REALTIME/HOST_TSC are outputs, not requests.
    if (mode == ClockRestore::kAsSaved) return clock;
    if (state.clock.flags & KVM_CLOCK_REALTIME) {
        clock.flags = KVM_CLOCK_REALTIME;
        return clock;
    }
    if (state.host_realtime_ns == 0) {
        return Error::invalid("clock_realtime", "the snapshot does not say when it was taken");
    }
    if (now_realtime_ns > state.host_realtime_ns) {
        clock.clock += now_realtime_ns - state.host_realtime_ns;
    }
    clock.realtime = 0;
    return clock;
}

Result<VmState> capture_vm_state(int vm_fd) {
    VmState s;
    if (::ioctl(vm_fd, KVM_GET_PIT2, &s.pit) < 0) return Error::from_errno("KVM_GET_PIT2");
    if (::ioctl(vm_fd, KVM_GET_CLOCK, &s.clock) < 0) return Error::from_errno("KVM_GET_CLOCK");
    s.host_realtime_ns = realtime_ns();
    s.pic_master = EMBER_TRY(get_irqchip(vm_fd, KVM_IRQCHIP_PIC_MASTER));
    s.pic_slave = EMBER_TRY(get_irqchip(vm_fd, KVM_IRQCHIP_PIC_SLAVE));
    s.ioapic = EMBER_TRY(get_irqchip(vm_fd, KVM_IRQCHIP_IOAPIC));
    return s;
}

Result<void> restore_vm_state(int vm_fd, const VmState& s, ClockRestore mode) {
    if (::ioctl(vm_fd, KVM_SET_PIT2, &s.pit) < 0) return Error::from_errno("KVM_SET_PIT2");
    kvm_clock_data clock = EMBER_TRY(clock_to_set(s, mode, realtime_ns()));
    if (::ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0) {
        // A host older than Linux 5.16 refuses KVM_CLOCK_REALTIME: add the elapsed time here.
        if (errno != EINVAL || clock.flags != KVM_CLOCK_REALTIME || s.host_realtime_ns == 0) {
            return Error::from_errno("KVM_SET_CLOCK");
        }
        VmState own = s;
        own.clock.flags = 0;
        clock = EMBER_TRY(clock_to_set(own, mode, realtime_ns()));
        if (::ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0) return Error::from_errno("KVM_SET_CLOCK");
    }
    EMBER_TRY(set_irqchip(vm_fd, s.pic_master, KVM_IRQCHIP_PIC_MASTER));
    EMBER_TRY(set_irqchip(vm_fd, s.pic_slave, KVM_IRQCHIP_PIC_SLAVE));
    EMBER_TRY(set_irqchip(vm_fd, s.ioapic, KVM_IRQCHIP_IOAPIC));
    return ok();
}

Result<std::vector<uint64_t>> dirty_log(int vm_fd, uint32_t slot, uint64_t size_bytes) {
    uint64_t pages = (size_bytes + 4095) / 4096;
    std::vector<uint64_t> bitmap((pages + 63) / 64, 0);
    kvm_dirty_log log{};
    log.slot = slot;
    log.dirty_bitmap = bitmap.data();
    if (::ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) return Error::from_errno("KVM_GET_DIRTY_LOG");
    return bitmap;
}

}  // namespace ember::kvm
