// VirtioDevice: what a virtio device is to its transport: a device type, feature bits, a
// configuration space, queues, and the work to do when the driver notifies a queue. It knows no
// registers, no eventfds and no KVM (the transport owns those); it declares its own fds (tap,
// timers, io_uring completions) as event sources, which the device manager watches for it.
// Thread: the transport calls it on vCPU threads with the bus mutex held; the event loop calls
// process_queue() and the device's event-source handlers on the vmm thread with the same mutex
// held.
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "devices/event_source.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio_interrupt.h"
#include "devices/virtio/virtio_spec.h"
#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::virtio {

// What every virtio device holds for a snapshot besides its device-specific state.
struct VirtioDeviceState {
    uint64_t acked_features = 0;
    uint32_t config_generation = 0;
    uint8_t activated = 0;
    uint8_t needs_reset = 0;
    std::vector<QueueState> queues;
    bool operator==(const VirtioDeviceState&) const = default;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual uint32_t device_type() const = 0;
    // What the API calls the device (drive_id, iface_id): unique among the devices of its type.
    virtual std::string_view id() const = 0;
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
    // The device's own fds to watch besides the queue notifications, for as long as it lives.
    virtual std::vector<EventSource> event_sources() { return {}; }

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

    VirtioDeviceState save_common_state() const {
        VirtioDeviceState state;
        state.acked_features = acked_features_;
        state.config_generation = config_generation_;
        state.activated = activated_ ? 1 : 0;
        state.needs_reset = needs_reset_ ? 1 : 0;
        for (const Queue& q : queues_) state.queues.push_back(q.save_state());
        return state;
    }
    // Restores the negotiated features and the queues into a device that was never activated;
    // activation (with the restored memory and interrupt) is the transport's job. Nothing
    // changes on error.
    Result<void> restore_common_state(const VirtioDeviceState& state, const GuestMemory& memory) {
        if (activated_) return Error::invalid("virtio state", "restore into an active device");
        if (state.acked_features & ~device_features()) {
            return Error::invalid("virtio state",
                                  fmt::format("acked features {:#x} not offered by the device",
                                              state.acked_features & ~device_features()));
        }
        if (state.activated > 1 || state.needs_reset > 1) {
            return Error::invalid("virtio state", "flag that is neither 0 nor 1");
        }
        if (state.queues.size() != queues_.size()) {
            return Error::invalid("virtio state", fmt::format("{} queues for a device with {}",
                                                              state.queues.size(), queues_.size()));
        }
        std::vector<Queue> restored = queues_;
        for (size_t i = 0; i < restored.size(); ++i) {
            auto done = restored[i].restore_state(state.queues[i], memory);
            if (!done) {
                return Error::invalid("virtio state",
                                      fmt::format("queue {}: {}", i, done.error().message()));
            }
        }
        queues_ = std::move(restored);
        acked_features_ = state.acked_features;
        config_generation_ = state.config_generation;
        needs_reset_ = state.needs_reset != 0;
        return ok();
    }

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
