// MmioTransport: a virtio-mmio version 2 register window (virtio 1.2 §4.2.2) in front of one
// VirtioDevice. It owns the status state machine, feature selection, queue configuration and
// the interrupt status; the device behind it owns the queues and the configuration space.
// Thread: read()/write() on vCPU threads with mutex() held (BusDevice contract); the vmm thread
// takes mutex() before calling into the device from the event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "devices/bus_device.h"
#include "devices/irq_line.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_interrupt.h"
#include "vmm/base/log.h"
#include "vmm/memory/guest_memory.h"

namespace ember::virtio {

// Register offsets (virtio 1.2 §4.2.2, Table 4.1).
namespace mmio {
inline constexpr uint64_t kMagicValue = 0x000;
inline constexpr uint64_t kVersion = 0x004;
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorId = 0x00c;
inline constexpr uint64_t kDeviceFeatures = 0x010;
inline constexpr uint64_t kDeviceFeaturesSel = 0x014;
inline constexpr uint64_t kDriverFeatures = 0x020;
inline constexpr uint64_t kDriverFeaturesSel = 0x024;
inline constexpr uint64_t kQueueSel = 0x030;
inline constexpr uint64_t kQueueNumMax = 0x034;
inline constexpr uint64_t kQueueNum = 0x038;
inline constexpr uint64_t kQueueReady = 0x044;
inline constexpr uint64_t kQueueNotify = 0x050;
inline constexpr uint64_t kInterruptStatus = 0x060;
inline constexpr uint64_t kInterruptAck = 0x064;
inline constexpr uint64_t kStatus = 0x070;
inline constexpr uint64_t kQueueDescLow = 0x080;
inline constexpr uint64_t kQueueDescHigh = 0x084;
inline constexpr uint64_t kQueueDriverLow = 0x090;
inline constexpr uint64_t kQueueDriverHigh = 0x094;
inline constexpr uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr uint64_t kConfigGeneration = 0x0fc;
inline constexpr uint64_t kConfig = 0x100;

inline constexpr uint32_t kMagic = 0x74726976;  // "virt"
inline constexpr uint32_t kVersion2 = 2;
inline constexpr uint32_t kVendor = 0;
// The window the device manager maps per device (the register file and configuration space),
// and where the queue notify ioeventfds go.
inline constexpr uint64_t kWindowSize = 0x1000;
inline constexpr uint64_t kQueueNotifyOffset = kQueueNotify;
}  // namespace mmio

struct MmioTransportCounters {
    uint64_t activate_fails = 0;
    uint64_t invalid_accesses = 0;  // Bad width, unknown register, write in the wrong state.
};

// The transport's snapshot state, with its device's common state and queues.
struct MmioTransportState {
    uint32_t status = 0;
    uint32_t device_features_sel = 0;
    uint32_t driver_features_sel = 0;
    uint32_t queue_sel = 0;
    uint64_t driver_features = 0;
    uint32_t interrupt_status = 0;
    uint8_t activate_failed = 0;
    VirtioDeviceState device;
    bool operator==(const MmioTransportState&) const = default;
};

class MmioTransport final : public BusDevice {
public:
    // Called with the queue index on a direct QueueNotify write (when no ioeventfd caught it).
    // The VMM typically writes that queue's ioeventfd so the vmm thread does the work.
    using NotifyCallback = std::function<void(uint32_t queue_index)>;

    MmioTransport(VirtioDevice& device, const GuestMemory& memory, IrqLine& irq,
                  NotifyCallback notify = {});
    // For a device manager that assigns the IRQ after creating the transport: call
    // attach_irq() before the guest runs.
    MmioTransport(VirtioDevice& device, const GuestMemory& memory, NotifyCallback notify = {});
    // Owns the device: the device manager keeps transports and finds devices through them.
    MmioTransport(std::unique_ptr<VirtioDevice> device, const GuestMemory& memory,
                  NotifyCallback notify = {});
    void attach_irq(IrqLine& irq) { interrupt_.attach(irq); }

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    VirtioDevice& device() { return *device_; }
    VirtioInterrupt& interrupt() { return interrupt_; }
    uint32_t device_status() const;
    const MmioTransportCounters& counters() const { return counters_; }

    // Snapshot. The VM is paused and the device quiesced (no I/O in flight) before saving.
    MmioTransportState save_state() const;
    // Restores into a fresh transport whose device was created with the snapshot's options and
    // whose guest memory is already restored; re-activates the device if the driver had. Every
    // field is checked first: a corrupt state is an Error and the transport stays unchanged
    // unless the device itself fails to activate (then discard it).
    Result<void> restore_state(const MmioTransportState& state);

private:
    uint32_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint32_t value);
    void set_status(uint32_t value);
    void reset();
    void activate();
    void fail_activation();
    // Queue registers may only change between FEATURES_OK and DRIVER_OK (virtio 1.2 §4.2.3.2).
    Queue* writable_queue();
    void bad_access(const char* what, uint64_t offset);

    std::unique_ptr<VirtioDevice> owned_device_;
    VirtioDevice* device_;
    const GuestMemory* memory_;
    VirtioInterrupt interrupt_;
    NotifyCallback notify_;
    uint32_t status_ = 0;
    bool activate_failed_ = false;
    uint32_t device_features_sel_ = 0;
    uint32_t driver_features_sel_ = 0;
    uint64_t driver_features_ = 0;
    uint32_t queue_sel_ = 0;
    MmioTransportCounters counters_;
    log::LineLimiter log_limiter_;
};

}  // namespace ember::virtio
