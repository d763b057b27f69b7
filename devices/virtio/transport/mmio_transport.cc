#include "devices/virtio/transport/mmio_transport.h"

#include <fmt/core.h>

#include <cstring>

#include "devices/virtio/virtio_spec.h"

namespace ember::virtio {

MmioTransport::MmioTransport(VirtioDevice& device, const GuestMemory& memory, IrqLine& irq,
                             NotifyCallback notify)
    : device_(&device), memory_(&memory), interrupt_(irq), notify_(std::move(notify)) {}

MmioTransport::MmioTransport(VirtioDevice& device, const GuestMemory& memory, NotifyCallback notify)
    : device_(&device), memory_(&memory), notify_(std::move(notify)) {}

MmioTransport::MmioTransport(std::unique_ptr<VirtioDevice> device, const GuestMemory& memory,
                             NotifyCallback notify)
    : owned_device_(std::move(device)),
      device_(owned_device_.get()),
      memory_(&memory),
      notify_(std::move(notify)) {}

uint32_t MmioTransport::device_status() const {
    const bool needs_reset = activate_failed_ || device_->needs_reset();
    return status_ | (needs_reset ? kStatusDeviceNeedsReset : 0);
}

void MmioTransport::bad_access(const char* what, uint64_t offset) {
    ++counters_.invalid_accesses;
    EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "virtio-mmio: {} at offset {:#x}", what,
                      offset);
}

void MmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
    std::memset(data.data(), 0, data.size());
    if (offset >= mmio::kConfig) {
        device_->read_config(offset - mmio::kConfig, data);
        return;
    }
    // virtio 1.2 §4.2.2.2: the driver uses only 32-bit wide, aligned accesses for registers.
    if (data.size() != sizeof(uint32_t) || offset % 4 != 0) {
        bad_access("register read of bad width", offset);
        return;
    }
    const uint32_t value = read_register(offset);
    std::memcpy(data.data(), &value, sizeof(value));
}

void MmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= mmio::kConfig) {
        if (!(status_ & kStatusDriver) || (status_ & kStatusFailed)) {
            bad_access("config write before DRIVER", offset);
            return;
        }
        device_->write_config(offset - mmio::kConfig, data);
        return;
    }
    if (data.size() != sizeof(uint32_t) || offset % 4 != 0) {
        bad_access("register write of bad width", offset);
        return;
    }
    uint32_t value = 0;
    std::memcpy(&value, data.data(), sizeof(value));
    write_register(offset, value);
}

uint32_t MmioTransport::read_register(uint64_t offset) {
    auto& queues = device_->queues();
    const Queue* queue = queue_sel_ < queues.size() ? &queues[queue_sel_] : nullptr;
    switch (offset) {
        case mmio::kMagicValue: return mmio::kMagic;
        case mmio::kVersion: return mmio::kVersion2;
        case mmio::kDeviceId: return device_->device_type();
        case mmio::kVendorId: return mmio::kVendor;
        case mmio::kDeviceFeatures: {
            const uint64_t features = device_->device_features();
            if (device_features_sel_ == 0) return static_cast<uint32_t>(features);
            if (device_features_sel_ == 1) return static_cast<uint32_t>(features >> 32);
            return 0;
        }
        case mmio::kQueueNumMax: return queue ? queue->max_size() : 0;
        case mmio::kQueueReady: return queue && queue->ready() ? 1 : 0;
        case mmio::kQueueDescLow:
            return queue ? static_cast<uint32_t>(queue->desc_table().value()) : 0;
        case mmio::kQueueDescHigh:
            return queue ? static_cast<uint32_t>(queue->desc_table().value() >> 32) : 0;
        case mmio::kQueueDriverLow:
            return queue ? static_cast<uint32_t>(queue->avail_ring().value()) : 0;
        case mmio::kQueueDriverHigh:
            return queue ? static_cast<uint32_t>(queue->avail_ring().value() >> 32) : 0;
        case mmio::kQueueDeviceLow:
            return queue ? static_cast<uint32_t>(queue->used_ring().value()) : 0;
        case mmio::kQueueDeviceHigh:
            return queue ? static_cast<uint32_t>(queue->used_ring().value() >> 32) : 0;
        case mmio::kInterruptStatus: return interrupt_.status();
        case mmio::kStatus: return device_status();
        case mmio::kConfigGeneration: return device_->config_generation();
        default: bad_access("read of unknown register", offset); return 0;
    }
}

Queue* MmioTransport::writable_queue() {
    auto& queues = device_->queues();
    const bool configuring = (status_ & kStatusFeaturesOk) && !(status_ & kStatusDriverOk) &&
                             !(status_ & kStatusFailed) && !activate_failed_ &&
                             !device_->needs_reset();
    if (!configuring || queue_sel_ >= queues.size()) return nullptr;
    return &queues[queue_sel_];
}

namespace {

GuestAddress with_low(GuestAddress a, uint32_t low) {
    return GuestAddress((a.value() & 0xffff'ffff'0000'0000ull) | low);
}
GuestAddress with_high(GuestAddress a, uint32_t high) {
    return GuestAddress((a.value() & 0xffff'ffffull) | (uint64_t{high} << 32));
}

}  // namespace

void MmioTransport::write_register(uint64_t offset, uint32_t value) {
    switch (offset) {
        case mmio::kDeviceFeaturesSel: device_features_sel_ = value; return;
        case mmio::kDriverFeaturesSel: driver_features_sel_ = value; return;
        case mmio::kDriverFeatures: {
            // virtio 1.2 §3.1.1: features are written after DRIVER and before FEATURES_OK.
            if (!(status_ & kStatusDriver) || (status_ & kStatusFeaturesOk)) {
                bad_access("feature write outside negotiation", offset);
                return;
            }
            if (driver_features_sel_ == 0) {
                driver_features_ = (driver_features_ & 0xffff'ffff'0000'0000ull) | value;
            } else if (driver_features_sel_ == 1) {
                driver_features_ = (driver_features_ & 0xffff'ffffull) | (uint64_t{value} << 32);
            } else {
                bad_access("feature write to unknown bank", offset);
            }
            return;
        }
        case mmio::kQueueSel: queue_sel_ = value; return;
        case mmio::kQueueNotify:
            if (!device_->is_activated()) {
                bad_access("notify before DRIVER_OK", offset);
                return;
            }
            if (value >= device_->queues().size()) {
                bad_access("notify of unknown queue", offset);
                return;
            }
            if (notify_) {
                notify_(value);
            } else {
                device_->process_queue(value);
            }
            return;
        case mmio::kInterruptAck: interrupt_.acknowledge(value); return;
        case mmio::kStatus: set_status(value); return;
        case mmio::kQueueNum:
        case mmio::kQueueReady:
        case mmio::kQueueDescLow:
        case mmio::kQueueDescHigh:
        case mmio::kQueueDriverLow:
        case mmio::kQueueDriverHigh:
        case mmio::kQueueDeviceLow:
        case mmio::kQueueDeviceHigh: break;
        default: bad_access("write of unknown or read-only register", offset); return;
    }

    Queue* queue = writable_queue();
    if (!queue) {
        bad_access("queue register write outside queue setup", offset);
        return;
    }
    switch (offset) {
        case mmio::kQueueNum:
            queue->set_size(static_cast<uint16_t>(value > 0xffff ? 0 : value));
            return;
        case mmio::kQueueReady: queue->set_ready(value == 1); return;
        case mmio::kQueueDescLow:
            queue->set_desc_table(with_low(queue->desc_table(), value));
            return;
        case mmio::kQueueDescHigh:
            queue->set_desc_table(with_high(queue->desc_table(), value));
            return;
        case mmio::kQueueDriverLow:
            queue->set_avail_ring(with_low(queue->avail_ring(), value));
            return;
        case mmio::kQueueDriverHigh:
            queue->set_avail_ring(with_high(queue->avail_ring(), value));
            return;
        case mmio::kQueueDeviceLow:
            queue->set_used_ring(with_low(queue->used_ring(), value));
            return;
        case mmio::kQueueDeviceHigh:
            queue->set_used_ring(with_high(queue->used_ring(), value));
            return;
        default: return;
    }
}

void MmioTransport::set_status(uint32_t value) {
    if (value == 0) {
        reset();
        return;
    }
    // virtio 1.2 §2.1.2: the driver only ever adds bits until it resets the device.
    if ((value & status_) != status_) {
        bad_access("status write clearing bits", mmio::kStatus);
        return;
    }
    const uint32_t added = value & ~status_;
    if (added & kStatusFailed) status_ |= kStatusFailed;
    if (added & kStatusAcknowledge) {
        if (status_ != 0) return bad_access("ACKNOWLEDGE out of order", mmio::kStatus);
        status_ |= kStatusAcknowledge;
    }
    if (added & kStatusDriver) {
        if (!(status_ & kStatusAcknowledge))
            return bad_access("DRIVER out of order", mmio::kStatus);
        status_ |= kStatusDriver;
    }
    if (added & kStatusFeaturesOk) {
        if (!(status_ & kStatusDriver))
            return bad_access("FEATURES_OK out of order", mmio::kStatus);
        const uint64_t offered = device_->device_features();
        if (driver_features_ & ~offered) {
            EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning,
                              "virtio-mmio: driver acked unoffered features {:#x}",
                              driver_features_ & ~offered);
        }
        // virtio 1.2 §6.1: a modern device refuses drivers that do not accept VERSION_1; the
        // driver sees FEATURES_OK stay clear when it reads the status back.
        if (!(driver_features_ & feature_bit(kFeatureVersion1))) {
            return bad_access("FEATURES_OK without VIRTIO_F_VERSION_1", mmio::kStatus);
        }
        device_->set_acked_features(driver_features_ & offered);
        status_ |= kStatusFeaturesOk;
    }
    if (added & kStatusDriverOk) {
        if (!(status_ & kStatusFeaturesOk))
            return bad_access("DRIVER_OK out of order", mmio::kStatus);
        status_ |= kStatusDriverOk;
        activate();
    }
}

void MmioTransport::activate() {
    if (device_->is_activated()) return;
    for (Queue& queue : device_->queues()) {
        Result<void> valid = queue.ready() ? queue.validate(*memory_)
                                           : Result<void>(Error::invalid("virtqueue", "not ready"));
        if (!valid) {
            ++counters_.activate_fails;
            EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning,
                              "virtio-mmio: cannot activate device type {}: {}",
                              device_->device_type(), valid.error().message());
            fail_activation();
            return;
        }
    }
    auto activated = device_->activate(*memory_, interrupt_);
    if (!activated) {
        ++counters_.activate_fails;
        EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning,
                          "virtio-mmio: device type {} failed to activate: {}",
                          device_->device_type(), activated.error().message());
        fail_activation();
    }
}

void MmioTransport::fail_activation() {
    // virtio 1.2 §2.1.2: the device sets DEVICE_NEEDS_RESET and notifies a config change.
    activate_failed_ = true;
    interrupt_.signal_config_change();
}

void MmioTransport::reset() {
    device_->reset();
    interrupt_.clear();
    status_ = 0;
    activate_failed_ = false;
    device_features_sel_ = 0;
    driver_features_sel_ = 0;
    driver_features_ = 0;
    queue_sel_ = 0;
}

}  // namespace ember::virtio

namespace ember::virtio {

MmioTransportState MmioTransport::save_state() const {
    MmioTransportState state;
    state.status = status_;
    state.device_features_sel = device_features_sel_;
    state.driver_features_sel = driver_features_sel_;
    state.queue_sel = queue_sel_;
    state.driver_features = driver_features_;
    state.interrupt_status = interrupt_.status();
    state.activate_failed = activate_failed_ ? 1 : 0;
    state.device = device_->save_common_state();
    return state;
}

Result<void> MmioTransport::restore_state(const MmioTransportState& state) {
    constexpr uint32_t kKnownStatus =
        kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk | kStatusFailed;
    const uint32_t status = state.status;
    if (status & ~kKnownStatus) {
        return Error::invalid("virtio-mmio state", fmt::format("bad status {:#x}", status));
    }
    // The bits a driver can set only in order (set_status() enforces the same).
    const bool ordered = (!(status & kStatusDriver) || (status & kStatusAcknowledge)) &&
                         (!(status & kStatusFeaturesOk) || (status & kStatusDriver)) &&
                         (!(status & kStatusDriverOk) || (status & kStatusFeaturesOk));
    if (!ordered) {
        return Error::invalid("virtio-mmio state",
                              fmt::format("status {:#x} out of order", status));
    }
    if (state.activate_failed > 1) return Error::invalid("virtio-mmio state", "bad activate flag");
    if (state.interrupt_status & ~(kInterruptUsedBuffer | kInterruptConfigChange)) {
        return Error::invalid("virtio-mmio state", "bad interrupt status");
    }
    if ((status & kStatusFeaturesOk) &&
        !(state.device.acked_features & feature_bit(kFeatureVersion1))) {
        return Error::invalid("virtio-mmio state", "FEATURES_OK without VIRTIO_F_VERSION_1");
    }
    if (!(status & kStatusFeaturesOk) && state.device.acked_features != 0) {
        return Error::invalid("virtio-mmio state", "acked features before FEATURES_OK");
    }
    // activate() runs exactly when DRIVER_OK is set, and fails or succeeds.
    const bool driver_ok = (status & kStatusDriverOk) != 0;
    if (state.device.activated != (driver_ok && !state.activate_failed ? 1 : 0)) {
        return Error::invalid("virtio-mmio state", "activation does not match DRIVER_OK");
    }
    if (state.activate_failed && !driver_ok) {
        return Error::invalid("virtio-mmio state", "failed activation without DRIVER_OK");
    }
    if (state.device.activated) {
        for (const QueueState& q : state.device.queues) {
            if (!q.ready)
                return Error::invalid("virtio-mmio state", "active device, queue not ready");
        }
    }
    if (device_->is_activated() || status_ != 0) {
        return Error::invalid("virtio-mmio state", "restore into a transport already in use");
    }
    EMBER_TRY(device_->restore_common_state(state.device, *memory_));

    status_ = status;
    activate_failed_ = state.activate_failed != 0;
    device_features_sel_ = state.device_features_sel;
    driver_features_sel_ = state.driver_features_sel;
    queue_sel_ = state.queue_sel;
    driver_features_ = state.driver_features;
    interrupt_.restore_status(state.interrupt_status);
    if (state.device.activated) {
        auto activated = device_->activate(*memory_, interrupt_);
        if (!activated) {
            return Error::invalid("virtio-mmio state",
                                  fmt::format("device type {} failed to re-activate: {}",
                                              device_->device_type(), activated.error().message()));
        }
    }
    return ok();
}

}  // namespace ember::virtio
