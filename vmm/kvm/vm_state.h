// VmState: the VM-wide KVM state a snapshot must carry: the in-kernel PIC pair and IOAPIC, the
// PIT and kvmclock. Thread: the vmm thread, with every vCPU paused.
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
};

Result<VmState> capture_vm_state(int vm_fd);
// Restores PIT, clock, then the irqchips (Firecracker's order). The clock is set without
// KVM_CLOCK_REALTIME: guest time continues from the saved value, not from the host's wall clock.
Result<void> restore_vm_state(int vm_fd, const VmState& state);

// KVM_GET_DIRTY_LOG for one memory slot registered with KVM_MEM_LOG_DIRTY_PAGES: one bit per 4 KiB
// page (page i is bit i % 64 of word i / 64), as snapshot::write_diff_memory takes it. Reading
// also resets the log, so the next diff starts from this moment.
Result<std::vector<uint64_t>> dirty_log(int vm_fd, uint32_t slot, uint64_t size_bytes);

}  // namespace ember::kvm
