// VmState: the VM-wide KVM state a snapshot must carry: the in-kernel PIC pair and IOAPIC, the
// PIT, kvmclock and the host's wall-clock time when kvmclock was read. Thread: the vmm thread,
// with every vCPU paused.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "vmm/base/result.h"

namespace ember::kvm {

struct VmState {
    kvm_irqchip pic_master{};
    kvm_irqchip pic_slave{};
    kvm_irqchip ioapic{};
    kvm_pit_state2 pit{};
    kvm_clock_data clock{};
    // The host's CLOCK_REALTIME (ns) read right after KVM_GET_CLOCK. KVM itself reports the pair
    // (clock.realtime with KVM_CLOCK_REALTIME) only when the host clocksource is the TSC, which a
    // nested or older host lacks. 0 in snapshots of Embers before it (format 1.0 and 1.1 files).
    uint64_t host_realtime_ns = 0;

    // Whether the state says when it was taken, so kvmclock can be moved on to the host's now.
    bool has_save_time() const {
        return host_realtime_ns != 0 || (clock.flags & KVM_CLOCK_REALTIME) != 0;
    }
};

// How kvmclock is set at restore.
enum class ClockRestore {
    kAsSaved,   // Guest time continues from the saved value (the default, as Firecracker's).
    kRealtime,  // Advanced by the host wall-clock time elapsed since the save (clock_realtime).
};

// What KVM_SET_CLOCK gets for `mode` at host wall-clock time `now_realtime_ns`. kRealtime with
// KVM's own pair passes KVM_CLOCK_REALTIME, so KVM adds the elapsed time at the ioctl; else it
// adds now - host_realtime_ns itself (never stepping back when the host clock went back).
// Needs has_save_time() for kRealtime.
Result<kvm_clock_data> clock_to_set(const VmState& state, ClockRestore mode,
                                    uint64_t now_realtime_ns);

Result<VmState> capture_vm_state(int vm_fd);
// Restores PIT, clock (see clock_to_set), then the irqchips (Firecracker's order).
Result<void> restore_vm_state(int vm_fd, const VmState& state, ClockRestore clock);

// KVM_GET_DIRTY_LOG for one memory slot registered with KVM_MEM_LOG_DIRTY_PAGES: one bit per 4 KiB
// page (page i is bit i % 64 of word i / 64), as snapshot::write_diff_memory takes it. Reading
// also resets the log, so the next diff starts from this moment.
Result<std::vector<uint64_t>> dirty_log(int vm_fd, uint32_t slot, uint64_t size_bytes);

}  // namespace ember::kvm
