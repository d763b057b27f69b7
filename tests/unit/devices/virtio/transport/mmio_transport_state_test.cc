// Snapshot state of the virtio-mmio transport and its queues: save, restore into a fresh
// transport and device over the same guest memory, continue at the same ring indices; corrupt
// states are refused and leave the fresh transport untouched.
#include <gtest/gtest.h>

#include "devices/virtio/transport/mmio_transport.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/fakes/fake_irq_line.h"
#include "tests/fakes/fake_virtio_device.h"
#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

using testing::FakeVirtioDevice;

class MmioTransportStateTest : public ::testing::Test {
protected:
    uint32_t read32(MmioTransport& t, uint64_t offset) {
        uint32_t v = 0;
        t.read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
        return v;
    }
    void write32(uint64_t offset, uint32_t v) {
        transport_.write(offset, {reinterpret_cast<const uint8_t*>(&v), 4});
    }
    void set_status(uint32_t bits) {
        write32(mmio::kStatus, read32(transport_, mmio::kStatus) | bits);
    }
    void setup_queue(uint32_t index, const testing::VirtqueueBuilder& vq) {
        write32(mmio::kQueueSel, index);
        write32(mmio::kQueueNum, vq.size());
        write32(mmio::kQueueDescLow, static_cast<uint32_t>(vq.desc_table()));
        write32(mmio::kQueueDriverLow, static_cast<uint32_t>(vq.avail_ring()));
        write32(mmio::kQueueDeviceLow, static_cast<uint32_t>(vq.used_ring()));
        write32(mmio::kQueueReady, 1);
    }
    void bring_up() {
        set_status(kStatusAcknowledge);
        set_status(kStatusDriver);
        write32(mmio::kDriverFeaturesSel, 0);
        write32(mmio::kDriverFeatures, static_cast<uint32_t>(FakeVirtioDevice::kFeatures));
        write32(mmio::kDriverFeaturesSel, 1);
        write32(mmio::kDriverFeatures, static_cast<uint32_t>(FakeVirtioDevice::kFeatures >> 32));
        set_status(kStatusFeaturesOk);
        setup_queue(0, vq0_);
        setup_queue(1, vq1_);
        set_status(kStatusDriverOk);
        ASSERT_TRUE(device_.is_activated());
    }
    // The device side of `count` requests on `queue`: pop each and return it used.
    void serve(VirtioDevice& device, uint32_t queue, uint32_t count) {
        Queue& q = device.queues()[queue];
        for (uint32_t i = 0; i < count; ++i) {
            auto next = q.pop(memory_);
            ASSERT_TRUE(next.has_value());
            ASSERT_TRUE(next->has_value());
            ASSERT_TRUE(q.add_used(memory_, (*next)->head, 100 + i).has_value());
        }
    }
    void add_requests(testing::VirtqueueBuilder& vq, int count) {
        for (int i = 0; i < count; ++i) vq.add_chain({{vq.alloc(64), 64, true}});
    }

    GuestMemory memory_ = testing::make_guest_memory(4 << 20);
    testing::VirtqueueBuilder vq0_{memory_, 16, 0x1000};
    testing::VirtqueueBuilder vq1_{memory_, 8, 0x100000};
    testing::FakeIrqLine irq_;
    FakeVirtioDevice device_;
    MmioTransport transport_{device_, memory_, irq_};

    testing::FakeIrqLine irq2_;
    FakeVirtioDevice device2_;
    MmioTransport restored_{device2_, memory_, irq2_};
};

TEST_F(MmioTransportStateTest, RestoredTransportContinuesAtTheSavedRingIndices) {
    bring_up();
    add_requests(vq0_, 5);
    serve(device_, 0, 3);  // Two requests stay available across the snapshot.
    add_requests(vq1_, 2);
    serve(device_, 1, 2);
    device_.interrupt->signal_used_buffer();
    write32(mmio::kQueueSel, 1);
    device_.change_config();

    const MmioTransportState state = transport_.save_state();
    EXPECT_EQ(state.device.queues[0].next_avail, 3);
    EXPECT_EQ(state.device.queues[0].next_used, 3);
    EXPECT_EQ(state.device.queues[1].next_used, 2);

    auto restored = restored_.restore_state(state);
    ASSERT_TRUE(restored.has_value()) << restored.error().message();
    EXPECT_TRUE(device2_.is_activated());
    EXPECT_EQ(device2_.activations, 1);
    EXPECT_EQ(device2_.acked_features(), FakeVirtioDevice::kFeatures);
    EXPECT_EQ(read32(restored_, mmio::kStatus), read32(transport_, mmio::kStatus));
    EXPECT_EQ(read32(restored_, mmio::kInterruptStatus), kInterruptUsedBuffer);
    EXPECT_EQ(read32(restored_, mmio::kConfigGeneration), 1u);
    EXPECT_EQ(read32(restored_, mmio::kQueueNumMax), 128u);  // Queue 1 is still selected.
    EXPECT_EQ(read32(restored_, mmio::kQueueDeviceLow), vq1_.used_ring());
    EXPECT_EQ(irq2_.count(), 0u);  // The interrupt controller's own state says what is pending.

    // The two pending requests and a new one come out next, used at indices 3, 4 and 5.
    add_requests(vq0_, 1);
    Queue& q = device2_.queues()[0];
    EXPECT_EQ(*q.pending(memory_), 3);
    serve(device2_, 0, 3);
    EXPECT_EQ(vq0_.used_idx(), 6);
    EXPECT_EQ(vq0_.used_element(3).id, 3u);
    EXPECT_EQ(vq0_.used_element(5).id, 5u);
    EXPECT_EQ(vq0_.used_element(5).len, 102u);
    EXPECT_TRUE(q.save_state().event_idx);
    EXPECT_EQ(transport_.save_state().device.queues[1].next_used,
              restored_.save_state().device.queues[1].next_used);
}

TEST_F(MmioTransportStateTest, RestoresATransportInTheMiddleOfQueueSetup) {
    set_status(kStatusAcknowledge | kStatusDriver);
    const MmioTransportState state = transport_.save_state();
    ASSERT_TRUE(restored_.restore_state(state).has_value());
    EXPECT_FALSE(device2_.is_activated());
    EXPECT_EQ(read32(restored_, mmio::kStatus), kStatusAcknowledge | kStatusDriver);
}

class CorruptStateTest : public MmioTransportStateTest {
protected:
    void SetUp() override {
        bring_up();
        add_requests(vq0_, 2);
        serve(device_, 0, 2);
        good_ = transport_.save_state();
    }
    void expect_refused(const MmioTransportState& state, const char* what) {
        FakeVirtioDevice device;
        testing::FakeIrqLine irq;
        MmioTransport transport(device, memory_, irq);
        auto restored = transport.restore_state(state);
        EXPECT_FALSE(restored.has_value()) << what;
        // Nothing of the refused state leaked into the fresh transport.
        EXPECT_EQ(read32(transport, mmio::kStatus), 0u) << what;
        EXPECT_FALSE(device.is_activated()) << what;
        EXPECT_EQ(device.acked_features(), 0u) << what;
        EXPECT_EQ(device.queues()[0].next_avail(), 0) << what;
        EXPECT_EQ(device.queues()[0].size(), 256) << what;
        // And a good state still restores into it afterwards.
        EXPECT_TRUE(transport.restore_state(good_).has_value()) << what;
    }
    MmioTransportState good_;
};

TEST_F(CorruptStateTest, RefusesEveryKindOfCorruption) {
    MmioTransportState s = good_;
    s.device.queues[0].size = 12;
    expect_refused(s, "size not a power of two");
    s = good_;
    s.device.queues[1].size = 256;
    expect_refused(s, "size above the queue's max");
    s = good_;
    s.device.queues[0].size = 0;
    expect_refused(s, "size zero");
    s = good_;
    s.device.queues[0].used_ring = (4 << 20) - 8;
    expect_refused(s, "used ring past the end of RAM");
    s = good_;
    s.device.queues[0].desc_table = 1ull << 50;
    expect_refused(s, "descriptor table outside RAM");
    s = good_;
    s.device.queues[0].avail_ring += 1;
    expect_refused(s, "misaligned ring");
    s = good_;
    s.device.queues[0].next_avail = 40;
    expect_refused(s, "available index behind ours by more than a queue");
    s = good_;
    s.device.queues[0].ready = 7;
    expect_refused(s, "flag not 0/1");
    s = good_;
    s.device.queues[1].ready = 0;
    expect_refused(s, "active device with a queue not ready");
    s = good_;
    s.device.queues.pop_back();
    expect_refused(s, "queue count");
    s = good_;
    s.device.acked_features |= feature_bit(40);
    expect_refused(s, "features not offered");
    s = good_;
    s.device.acked_features &= ~feature_bit(kFeatureVersion1);
    expect_refused(s, "FEATURES_OK without VERSION_1");
    s = good_;
    s.status = kStatusAcknowledge | kStatusDriverOk;
    expect_refused(s, "status out of order");
    s = good_;
    s.status |= kStatusDeviceNeedsReset;
    expect_refused(s, "status with a computed bit");
    s = good_;
    s.status = 0x1000;
    expect_refused(s, "unknown status bit");
    s = good_;
    s.device.activated = 0;
    expect_refused(s, "DRIVER_OK but never activated");
    s = good_;
    s.activate_failed = 1;
    expect_refused(s, "failed activation yet active");
    s = good_;
    s.interrupt_status = 0x80;
    expect_refused(s, "interrupt status");
}

TEST_F(CorruptStateTest, RefusesARestoreIntoATransportInUse) {
    EXPECT_FALSE(transport_.restore_state(good_).has_value());
    EXPECT_EQ(device_.activations, 1);
}

TEST_F(CorruptStateTest, ReportsADeviceThatCannotReactivate) {
    FakeVirtioDevice device;
    device.fail_activation = true;
    testing::FakeIrqLine irq;
    MmioTransport transport(device, memory_, irq);
    auto restored = transport.restore_state(good_);
    ASSERT_FALSE(restored.has_value());
    EXPECT_NE(restored.error().message().find("re-activate"), std::string::npos);
}

TEST(QueueStateTest, RoundTripsAnUnreadyQueueWithoutTouchingMemory) {
    GuestMemory memory = testing::make_guest_memory(1 << 20);
    Queue q(64);
    q.set_size(32);
    q.set_desc_table(GuestAddress(1ull << 40));  // Not checked until the driver sets ready.
    Queue restored(64);
    ASSERT_TRUE(restored.restore_state(q.save_state(), memory).has_value());
    EXPECT_EQ(restored.size(), 32);
    EXPECT_FALSE(restored.ready());
    EXPECT_EQ(restored.desc_table().value(), 1ull << 40);

    QueueState bad = q.save_state();
    bad.num_added = 33;
    EXPECT_FALSE(restored.restore_state(bad, memory).has_value());
    EXPECT_EQ(restored.size(), 32);
}

}  // namespace
}  // namespace ember::virtio
