#include "devices/virtio/transport/mmio_transport.h"

#include <gtest/gtest.h>

#include <cstring>

#include "devices/virtio/virtio_spec.h"
#include "tests/fakes/fake_irq_line.h"
#include "tests/fakes/fake_virtio_device.h"
#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

using testing::FakeVirtioDevice;

class MmioTransportTest : public ::testing::Test {
protected:
    uint32_t read32(uint64_t offset) {
        uint32_t v = 0;
        transport_.read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
        return v;
    }
    void write32(uint64_t offset, uint32_t v) {
        transport_.write(offset, {reinterpret_cast<const uint8_t*>(&v), 4});
    }
    void set_status(uint32_t bits) { write32(mmio::kStatus, read32(mmio::kStatus) | bits); }
    void negotiate(uint64_t features) {
        set_status(kStatusAcknowledge);
        set_status(kStatusDriver);
        write32(mmio::kDriverFeaturesSel, 0);
        write32(mmio::kDriverFeatures, static_cast<uint32_t>(features));
        write32(mmio::kDriverFeaturesSel, 1);
        write32(mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
        set_status(kStatusFeaturesOk);
    }
    void setup_queue(uint32_t index, const testing::VirtqueueBuilder& vq) {
        write32(mmio::kQueueSel, index);
        write32(mmio::kQueueNum, vq.size());
        write32(mmio::kQueueDescLow, static_cast<uint32_t>(vq.desc_table()));
        write32(mmio::kQueueDescHigh, 0);
        write32(mmio::kQueueDriverLow, static_cast<uint32_t>(vq.avail_ring()));
        write32(mmio::kQueueDriverHigh, 0);
        write32(mmio::kQueueDeviceLow, static_cast<uint32_t>(vq.used_ring()));
        write32(mmio::kQueueDeviceHigh, 0);
        write32(mmio::kQueueReady, 1);
    }
    void bring_up() {
        negotiate(FakeVirtioDevice::kFeatures);
        setup_queue(0, vq0_);
        setup_queue(1, vq1_);
        set_status(kStatusDriverOk);
    }

    GuestMemory memory_ = testing::make_guest_memory(4 << 20);
    testing::VirtqueueBuilder vq0_{memory_, 16, 0x1000};
    testing::VirtqueueBuilder vq1_{memory_, 16, 0x100000};
    testing::FakeIrqLine irq_;
    FakeVirtioDevice device_;
    MmioTransport transport_{device_, memory_, irq_};
};

TEST_F(MmioTransportTest, IdentifiesAsVirtioMmioVersionTwo) {
    EXPECT_EQ(read32(mmio::kMagicValue), 0x74726976u);
    EXPECT_EQ(read32(mmio::kVersion), 2u);
    EXPECT_EQ(read32(mmio::kDeviceId), 42u);
    EXPECT_EQ(read32(mmio::kVendorId), 0u);
}

TEST_F(MmioTransportTest, ExposesFeatureBanksThroughTheSelector) {
    write32(mmio::kDeviceFeaturesSel, 0);
    EXPECT_EQ(read32(mmio::kDeviceFeatures), static_cast<uint32_t>(FakeVirtioDevice::kFeatures));
    write32(mmio::kDeviceFeaturesSel, 1);
    EXPECT_EQ(read32(mmio::kDeviceFeatures), 1u);  // VERSION_1 is bit 32.
    write32(mmio::kDeviceFeaturesSel, 2);
    EXPECT_EQ(read32(mmio::kDeviceFeatures), 0u);
}

TEST_F(MmioTransportTest, NegotiatesOnlyOfferedFeatures) {
    negotiate(FakeVirtioDevice::kFeatures | feature_bit(7));
    EXPECT_TRUE(read32(mmio::kStatus) & kStatusFeaturesOk);
    EXPECT_EQ(device_.acked_features(), FakeVirtioDevice::kFeatures);
}

TEST_F(MmioTransportTest, RefusesFeaturesOkWithoutVersion1) {
    negotiate(feature_bit(kFeatureEventIdx));
    EXPECT_FALSE(read32(mmio::kStatus) & kStatusFeaturesOk);
    EXPECT_EQ(device_.acked_features(), 0u);
}

TEST_F(MmioTransportTest, IgnoresStatusBitsOutOfOrder) {
    write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
    EXPECT_EQ(read32(mmio::kStatus), kStatusAcknowledge | kStatusDriver);
    EXPECT_EQ(device_.activations, 0);
}

TEST_F(MmioTransportTest, RefusesFeatureWritesAfterFeaturesOk) {
    negotiate(FakeVirtioDevice::kFeatures);
    write32(mmio::kDriverFeaturesSel, 0);
    write32(mmio::kDriverFeatures, 0);
    EXPECT_EQ(device_.acked_features(), FakeVirtioDevice::kFeatures);
    EXPECT_GT(transport_.counters().invalid_accesses, 0u);
}

TEST_F(MmioTransportTest, ConfiguresQueuesAndActivatesAtDriverOk) {
    write32(mmio::kQueueSel, 1);
    EXPECT_EQ(read32(mmio::kQueueNumMax), 128u);
    write32(mmio::kQueueSel, 7);
    EXPECT_EQ(read32(mmio::kQueueNumMax), 0u);
    bring_up();
    EXPECT_EQ(device_.activations, 1);
    EXPECT_TRUE(device_.is_activated());
    const Queue& q1 = device_.queues()[1];
    EXPECT_TRUE(q1.ready());
    EXPECT_EQ(q1.size(), 16);
    EXPECT_EQ(q1.desc_table().value(), vq1_.desc_table());
    EXPECT_EQ(q1.avail_ring().value(), vq1_.avail_ring());
    EXPECT_EQ(q1.used_ring().value(), vq1_.used_ring());
    EXPECT_EQ(read32(mmio::kStatus) & kStatusDriverOk, kStatusDriverOk);
}

TEST_F(MmioTransportTest, SplitsSixtyFourBitQueueAddressesIntoLowAndHigh) {
    negotiate(FakeVirtioDevice::kFeatures);
    write32(mmio::kQueueSel, 0);
    write32(mmio::kQueueDescLow, 0x1000);
    write32(mmio::kQueueDescHigh, 0x2);
    EXPECT_EQ(device_.queues()[0].desc_table().value(), 0x2'0000'1000ull);
    EXPECT_EQ(read32(mmio::kQueueDescHigh), 0x2u);
}

TEST_F(MmioTransportTest, IgnoresQueueWritesBeforeFeaturesOkAndAfterDriverOk) {
    write32(mmio::kQueueSel, 0);
    write32(mmio::kQueueNum, 16);
    EXPECT_EQ(device_.queues()[0].size(), 256);
    bring_up();
    write32(mmio::kQueueSel, 0);
    write32(mmio::kQueueNum, 8);
    EXPECT_EQ(device_.queues()[0].size(), 16);
}

TEST_F(MmioTransportTest, SetsNeedsResetWhenAQueueIsInvalidAtDriverOk) {
    negotiate(FakeVirtioDevice::kFeatures);
    setup_queue(0, vq0_);
    write32(mmio::kQueueSel, 1);
    write32(mmio::kQueueNum, 16);
    write32(mmio::kQueueDescLow, 0x1234);  // Misaligned.
    write32(mmio::kQueueReady, 1);
    set_status(kStatusDriverOk);
    EXPECT_FALSE(device_.is_activated());
    EXPECT_TRUE(read32(mmio::kStatus) & kStatusDeviceNeedsReset);
    EXPECT_EQ(read32(mmio::kInterruptStatus), kInterruptConfigChange);
    EXPECT_EQ(transport_.counters().activate_fails, 1u);
}

TEST_F(MmioTransportTest, SetsNeedsResetWhenTheDeviceFailsToActivate) {
    device_.fail_activation = true;
    bring_up();
    EXPECT_TRUE(read32(mmio::kStatus) & kStatusDeviceNeedsReset);
    EXPECT_EQ(irq_.count(), 1u);
}

TEST_F(MmioTransportTest, ResetClearsStatusQueuesFeaturesAndInterrupts) {
    bring_up();
    device_.interrupt->signal_used_buffer();
    EXPECT_EQ(read32(mmio::kInterruptStatus), kInterruptUsedBuffer);
    write32(mmio::kStatus, 0);
    EXPECT_EQ(read32(mmio::kStatus), 0u);
    EXPECT_EQ(device_.resets, 1);
    EXPECT_FALSE(device_.is_activated());
    EXPECT_EQ(device_.acked_features(), 0u);
    EXPECT_EQ(read32(mmio::kInterruptStatus), 0u);
    EXPECT_FALSE(device_.queues()[0].ready());
    write32(mmio::kQueueSel, 0);
    EXPECT_EQ(read32(mmio::kQueueReady), 0u);
    // And it can be brought up again.
    bring_up();
    EXPECT_EQ(device_.activations, 2);
    EXPECT_TRUE(device_.is_activated());
}

TEST_F(MmioTransportTest, InterruptAckClearsOnlyAcknowledgedBits) {
    bring_up();
    device_.interrupt->signal_used_buffer();
    device_.interrupt->signal_config_change();
    EXPECT_EQ(irq_.count(), 2u);
    EXPECT_EQ(read32(mmio::kInterruptStatus), kInterruptUsedBuffer | kInterruptConfigChange);
    write32(mmio::kInterruptAck, kInterruptUsedBuffer);
    EXPECT_EQ(read32(mmio::kInterruptStatus), kInterruptConfigChange);
}

TEST_F(MmioTransportTest, DirectQueueNotifyReachesTheDeviceOrTheCallback) {
    write32(mmio::kQueueNotify, 0);  // Before DRIVER_OK: ignored.
    EXPECT_TRUE(device_.notified.empty());
    bring_up();
    write32(mmio::kQueueNotify, 1);
    write32(mmio::kQueueNotify, 9);  // No such queue.
    EXPECT_EQ(device_.notified, std::vector<uint32_t>{1});

    std::vector<uint32_t> forwarded;
    testing::FakeIrqLine irq;
    FakeVirtioDevice other;
    MmioTransport with_callback(other, memory_, irq, [&](uint32_t q) { forwarded.push_back(q); });
    MmioTransport* saved = &with_callback;
    auto w = [&](uint64_t off, uint32_t v) {
        saved->write(off, {reinterpret_cast<const uint8_t*>(&v), 4});
    };
    w(mmio::kStatus, kStatusAcknowledge);
    w(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
    w(mmio::kDriverFeaturesSel, 1);
    w(mmio::kDriverFeatures, 1);
    w(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    for (uint32_t q = 0; q < 2; ++q) {
        const auto& vq = q == 0 ? vq0_ : vq1_;
        w(mmio::kQueueSel, q);
        w(mmio::kQueueNum, vq.size());
        w(mmio::kQueueDescLow, static_cast<uint32_t>(vq.desc_table()));
        w(mmio::kQueueDriverLow, static_cast<uint32_t>(vq.avail_ring()));
        w(mmio::kQueueDeviceLow, static_cast<uint32_t>(vq.used_ring()));
        w(mmio::kQueueReady, 1);
    }
    w(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    ASSERT_TRUE(other.is_activated());
    w(mmio::kQueueNotify, 0);
    EXPECT_EQ(forwarded, std::vector<uint32_t>{0});
    EXPECT_TRUE(other.notified.empty());
}

TEST_F(MmioTransportTest, OwnsItsDeviceAndTakesTheIrqLineLater) {
    auto owned = std::make_unique<FakeVirtioDevice>();
    FakeVirtioDevice* device = owned.get();
    MmioTransport transport(std::move(owned), memory_);
    device->change_config();
    uint32_t generation = 0;
    transport.read(mmio::kConfigGeneration, {reinterpret_cast<uint8_t*>(&generation), 4});
    EXPECT_EQ(generation, 1u);
    // Before the line is attached an interrupt only sets the status bit.
    transport.interrupt().signal_used_buffer();
    testing::FakeIrqLine late;
    transport.attach_irq(late);
    transport.interrupt().signal_config_change();
    EXPECT_EQ(late.count(), 1u);
    EXPECT_EQ(transport.interrupt().status(), kInterruptUsedBuffer | kInterruptConfigChange);
}

TEST_F(MmioTransportTest, ReadsAndWritesConfigSpaceAtAnyWidth) {
    uint8_t byte = 0;
    transport_.read(mmio::kConfig + 2, {&byte, 1});
    EXPECT_EQ(byte, 3);
    uint64_t wide = 0;
    transport_.read(mmio::kConfig, {reinterpret_cast<uint8_t*>(&wide), 8});
    EXPECT_EQ(wide, 0x0807060504030201ull);
    set_status(kStatusAcknowledge);
    set_status(kStatusDriver);
    const uint16_t v = 0xbeef;
    transport_.write(mmio::kConfig + 4, {reinterpret_cast<const uint8_t*>(&v), 2});
    EXPECT_EQ(device_.config[4], 0xef);
    EXPECT_EQ(device_.config[5], 0xbe);
}

TEST_F(MmioTransportTest, ReportsConfigGenerationAndDeviceNeedsReset) {
    bring_up();
    const uint32_t before = read32(mmio::kConfigGeneration);
    device_.change_config();
    EXPECT_EQ(read32(mmio::kConfigGeneration), before + 1);
    device_.break_device();
    EXPECT_TRUE(read32(mmio::kStatus) & kStatusDeviceNeedsReset);
    EXPECT_TRUE(read32(mmio::kInterruptStatus) & kInterruptConfigChange);
}

TEST_F(MmioTransportTest, IgnoresBadWidthRegisterAccessesAndUnknownRegisters) {
    uint16_t half = 0xffff;
    transport_.read(mmio::kMagicValue, {reinterpret_cast<uint8_t*>(&half), 2});
    EXPECT_EQ(half, 0);
    EXPECT_EQ(read32(0x0c0), 0u);
    write32(0x0c0, 1);
    EXPECT_EQ(transport_.counters().invalid_accesses, 3u);
}

}  // namespace
}  // namespace ember::virtio
