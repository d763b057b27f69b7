// VirtioDevice: what a virtio device is to its transport: a device type, feature bits, a
// configuration space, queues, and the work to do when the driver notifies a queue. It knows no
// registers, no eventfds and no KVM (the transport owns those).
// Thread: the transport calls it on vCPU threads with the bus mutex held; the event loop calls
// process_queue() and the device's own fd handlers on the vmm thread with the same mutex held.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio_interrupt.h"
#include "devices/virtio/virtio_spec.h"
#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::virtio {

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual uint32_t device_type() const = 0;
    // Feature bits the device offers (VIRTIO_F_VERSION_1 included).
    virtual uint64_t device_features() const = 0;
    // Device-specific configuration space (virtio 1.2 §4.2.2 offset 0x100 onwards). Reads past
    // the end return zeros; writes the device does not accept are ignored.
    virtual void read_config(uint64_t offset, std::span<uint8_t> data) const = 0;
    virtual void write_config(uint64_t offset, std::span<const uint8_t> data) {
        (void)offset;
        (void)data;
    }

    // Called at DRIVER_OK with validated queues and the negotiated features. The device keeps
    // `memory` and `interrupt`, which outlive it. An error leaves the device inactive and the
    // transport sets DEVICE_NEEDS_RESET.
    virtual Result<void> activate(const GuestMemory& memory, VirtioInterrupt& interrupt) = 0;
    // The driver wrote 0 to the status register: drop in-flight state and the queues' indices.
    virtual void reset() = 0;
    // The driver notified queue `index` (its ioeventfd fired or QueueNotify was written).
    virtual void process_queue(uint32_t index) = 0;

    std::vector<Queue>& queues() { return queues_; }
    const std::vector<Queue>& queues() const { return queues_; }
    uint64_t acked_features() const { return acked_features_; }
    void set_acked_features(uint64_t features) { acked_features_ = features; }
    bool has_feature(unsigned bit) const { return (acked_features_ & feature_bit(bit)) != 0; }
    bool is_activated() const { return activated_; }
    // Set when the device hits a driver error it cannot recover from; the transport reports it
    // as DEVICE_NEEDS_RESET in the status register (virtio 1.2 §2.1.2).
    bool needs_reset() const { return needs_reset_; }
    // Bumped whenever the device changes its configuration space (virtio-mmio ConfigGeneration).
    uint32_t config_generation() const { return config_generation_; }

protected:
    explicit VirtioDevice(std::span<const uint16_t> queue_max_sizes) {
        for (uint16_t size : queue_max_sizes) queues_.emplace_back(size);
    }

    // Applies the negotiated ring features to every queue; call from activate().
    void configure_queue_features() {
        for (Queue& q : queues_) {
            q.set_event_idx(has_feature(kFeatureEventIdx));
            q.set_indirect(has_feature(kFeatureIndirectDesc));
        }
    }
    void set_activated(bool activated) { activated_ = activated; }
    // Marks DEVICE_NEEDS_RESET and tells the driver with a configuration-change interrupt.
    void mark_needs_reset(VirtioInterrupt* interrupt) {
        if (needs_reset_) return;
        needs_reset_ = true;
        if (interrupt) interrupt->signal_config_change();
    }
    void clear_needs_reset() { needs_reset_ = false; }
    void bump_config_generation() { ++config_generation_; }
    // Resets what this base class holds; devices call it from reset().
    void reset_common() {
        for (Queue& q : queues_) q.reset();
        acked_features_ = 0;
        activated_ = false;
        needs_reset_ = false;
    }

private:
    std::vector<Queue> queues_;
    uint64_t acked_features_ = 0;
    bool activated_ = false;
    bool needs_reset_ = false;
    uint32_t config_generation_ = 0;
};

}  // namespace ember::virtio
