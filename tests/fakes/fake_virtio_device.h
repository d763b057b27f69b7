// FakeVirtioDevice: a VirtioDevice that records what its transport asked of it.
#pragma once

#include <array>
#include <cstring>
#include <vector>

#include "devices/virtio/virtio_device.h"

namespace ember::testing {

class FakeVirtioDevice final : public virtio::VirtioDevice {
public:
    static constexpr std::array<uint16_t, 2> kQueueSizes{256, 128};
    static constexpr uint64_t kFeatures = virtio::feature_bit(virtio::kFeatureVersion1) |
                                          virtio::feature_bit(virtio::kFeatureEventIdx) |
                                          virtio::feature_bit(5);

    FakeVirtioDevice() : VirtioDevice(kQueueSizes) {}

    uint32_t device_type() const override { return 42; }
    std::string_view id() const override { return "fake"; }
    uint64_t device_features() const override { return kFeatures; }
    void read_config(uint64_t offset, std::span<uint8_t> data) const override {
        for (size_t i = 0; i < data.size(); ++i) {
            data[i] = offset + i < config.size() ? config[offset + i] : 0;
        }
    }
    void write_config(uint64_t offset, std::span<const uint8_t> data) override {
        for (size_t i = 0; i < data.size() && offset + i < config.size(); ++i) {
            config[offset + i] = data[i];
        }
    }
    Result<void> activate(const GuestMemory& memory, virtio::VirtioInterrupt& irq) override {
        ++activations;
        if (fail_activation) return Error::invalid("fake device", "told to fail");
        (void)memory;
        interrupt = &irq;
        configure_queue_features();
        set_activated(true);
        return ok();
    }
    void reset() override {
        ++resets;
        reset_common();
    }
    void process_queue(uint32_t index) override { notified.push_back(index); }

    void change_config() { bump_config_generation(); }
    void break_device() { mark_needs_reset(interrupt); }

    std::array<uint8_t, 8> config{1, 2, 3, 4, 5, 6, 7, 8};
    bool fail_activation = false;
    int activations = 0;
    int resets = 0;
    std::vector<uint32_t> notified;
    virtio::VirtioInterrupt* interrupt = nullptr;
};

}  // namespace ember::testing
