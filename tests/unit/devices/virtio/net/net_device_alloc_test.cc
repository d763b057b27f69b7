// The per-frame path of virtio-net allocates nothing: RX into one or several (merged) buffers and
// TX of chains up to 20 descriptors long (a TSO frame of 17 fragments), counted by a replacement
// operator new that counts while this thread asks it to. Its own executable: the replacement is
// global.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "devices/virtio/net/net_device.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_irq_line.h"
#include "tests/fakes/virtqueue_builder.h"

namespace {

thread_local bool counting = false;
std::atomic<size_t> allocations{0};

void* counted_alloc(size_t n) {
    if (counting) allocations.fetch_add(1);
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

// Counts the heap allocations `body` makes on this thread.
template <typename F>
size_t allocations_in(F&& body) {
    const size_t before = allocations.load();
    counting = true;
    body();
    counting = false;
    return allocations.load() - before;
}

}  // namespace

void* operator new(size_t n) { return counted_alloc(n); }
void* operator new[](size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace ember::virtio {
namespace {

using testing::BufferSpec;

constexpr size_t kHeader = Tap::kVnetHeaderBytes;

class NetDeviceAllocTest : public ::testing::Test {
protected:
    void SetUp() override {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        peer_.reset(fds[1]);
        auto dev = NetDevice::create({.iface_id = "eth0", .clock = &clock_},
                                     Tap::from_fd(UniqueFd(fds[0]), "fake-tap"));
        ASSERT_TRUE(dev.has_value());
        dev_ = std::move(*dev);
        rx_.configure(dev_->queues()[NetDevice::kRxQueue]);
        tx_.configure(dev_->queues()[NetDevice::kTxQueue]);
        dev_->set_acked_features(dev_->device_features());
        ASSERT_TRUE(dev_->activate(memory_, interrupt_).has_value());
    }
    void send_from_tap(size_t payload) {
        std::vector<uint8_t> f(kHeader + payload, 0x5a);
        ASSERT_EQ(::send(peer_.get(), f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
    }

    testing::FakeClock clock_;
    GuestMemory memory_ = testing::make_guest_memory(8 << 20);
    testing::VirtqueueBuilder rx_{memory_, 64, 0x1000};
    testing::VirtqueueBuilder tx_{memory_, 64, 0x400000};
    testing::FakeIrqLine irq_;
    VirtioInterrupt interrupt_{irq_};
    UniqueFd peer_;
    std::unique_ptr<NetDevice> dev_;
};

TEST_F(NetDeviceAllocTest, TheCounterSeesAnAllocation) {
    // Without this, a broken counter would pass every other test.
    EXPECT_EQ(allocations_in([] { std::vector<int> v(100); }), 1u);
}

TEST_F(NetDeviceAllocTest, ReceivingFramesAllocatesNothing) {
    // 16 frames of one buffer each, then 4 frames of 5,000 bytes merged over 3 buffers each.
    for (int i = 0; i < 16; ++i) rx_.add_chain({{rx_.alloc(2048), 2048, true}});
    for (int i = 0; i < 12; ++i) rx_.add_chain({{rx_.alloc(2048), 2048, true}});
    for (int i = 0; i < 16; ++i) send_from_tap(1000);
    for (int i = 0; i < 4; ++i) send_from_tap(5000);
    EXPECT_EQ(allocations_in([&] { dev_->process_tap_rx(); }), 0u);
    EXPECT_EQ(dev_->counters().rx_packets_count, 20u);
    EXPECT_EQ(rx_.used_idx(), 28);
}

TEST_F(NetDeviceAllocTest, TransmittingFramesOfUpToTwentyDescriptorsAllocatesNothing) {
    // A header and linear part, and a TSO frame: header, linear part and 18 fragments.
    for (uint32_t descriptors : {2u, 20u}) {
        std::vector<BufferSpec> chain;
        chain.push_back({tx_.alloc(kHeader), static_cast<uint32_t>(kHeader)});
        for (uint32_t i = 1; i < descriptors; ++i) chain.push_back({tx_.alloc(1000), 1000});
        tx_.add_chain(chain);
    }
    EXPECT_EQ(allocations_in([&] { dev_->process_queue(NetDevice::kTxQueue); }), 0u);
    EXPECT_EQ(dev_->counters().tx_packets_count, 2u);
    EXPECT_EQ(tx_.used_idx(), 2);
}

TEST_F(NetDeviceAllocTest, ReceivingStraightIntoGuestBuffersAllocatesNothing) {
    // 64 chains of 4 KiB hold the largest frame with room to spare: 10 frames of 8,000 bytes are
    // read straight into them, two chains each, and the chains popped ahead stay held.
    for (int i = 0; i < 64; ++i) rx_.add_chain({{rx_.alloc(4096), 4096, true}});
    for (int i = 0; i < 10; ++i) send_from_tap(8000);
    EXPECT_EQ(allocations_in([&] { dev_->process_tap_rx(); }), 0u);
    EXPECT_EQ(dev_->counters().rx_packets_count, 10u);
    EXPECT_EQ(rx_.used_idx(), 20);
    EXPECT_GT(dev_->rx_chains_held(), 0u);
}

}  // namespace
}  // namespace ember::virtio
