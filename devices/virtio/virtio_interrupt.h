// VirtioInterrupt: the interrupt a virtio device raises through its transport. It sets the
// transport's interrupt status bit (used buffer or configuration change) and triggers the IRQ
// line; the driver reads the status and acknowledges it through the transport's registers.
// Thread: signal_*() on the vmm thread; status()/acknowledge() on vCPU threads (atomic).
#pragma once

#include <atomic>
#include <cstdint>

#include "devices/irq_line.h"
#include "devices/virtio/virtio_spec.h"

namespace ember::virtio {

class VirtioInterrupt {
public:
    VirtioInterrupt() = default;
    explicit VirtioInterrupt(IrqLine& line) : line_(&line) {}

    // Wires the line when it is created after the transport (the device manager assigns GSIs).
    void attach(IrqLine& line) { line_ = &line; }

    void signal_used_buffer() { signal(kInterruptUsedBuffer); }
    void signal_config_change() { signal(kInterruptConfigChange); }

    uint32_t status() const { return status_.load(std::memory_order_acquire); }
    void acknowledge(uint32_t bits) { status_.fetch_and(~bits, std::memory_order_acq_rel); }
    void clear() { status_.store(0, std::memory_order_release); }
    // Snapshot restore: the bits the driver had not acknowledged. The line is not triggered: the
    // interrupt controller's own restored state says whether the IRQ is still pending.
    void restore_status(uint32_t bits) { status_.store(bits, std::memory_order_release); }

private:
    void signal(uint32_t bit) {
        status_.fetch_or(bit, std::memory_order_acq_rel);
        if (line_) line_->trigger();
    }

    IrqLine* line_ = nullptr;
    std::atomic<uint32_t> status_{0};
};

}  // namespace ember::virtio
