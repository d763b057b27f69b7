// virtio-net RX and TX against a socketpair standing in for the tap.
#include "devices/virtio/net/net_device.h"

#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "devices/virtio/net/virtio_net_spec.h"
#include "devices/virtio/transport/mmio_transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_irq_line.h"
#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

using testing::BufferSpec;

constexpr size_t kHeader = Tap::kVnetHeaderBytes;

std::vector<uint8_t> frame(size_t payload_len, uint8_t seed) {
    std::vector<uint8_t> f(kHeader + payload_len);
    for (size_t i = kHeader; i < f.size(); ++i) f[i] = static_cast<uint8_t>(seed + i);
    return f;
}

class NetDeviceTest : public ::testing::Test {
protected:
    // Not activated, as the snapshot loader creates a device, on a new tap (a socketpair).
    std::unique_ptr<NetDevice> make_inactive_device(NetDeviceOptions options) {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        peer_.reset(fds[1]);
        options.iface_id = "eth0";
        options.clock = &clock_;
        auto dev = NetDevice::create(options, Tap::from_fd(UniqueFd(fds[0]), "fake-tap"));
        EXPECT_TRUE(dev.has_value());
        return dev ? std::move(*dev) : nullptr;
    }
    std::unique_ptr<NetDevice> make_device(NetDeviceOptions options = {},
                                           uint64_t drop_features = 0) {
        auto dev = make_inactive_device(std::move(options));
        if (!dev) return nullptr;
        rx_.configure(dev->queues()[NetDevice::kRxQueue]);
        tx_.configure(dev->queues()[NetDevice::kTxQueue]);
        dev->set_acked_features(dev->device_features() & ~drop_features);
        EXPECT_TRUE(dev->activate(memory_, interrupt_).has_value());
        return dev;
    }
    // What the transport of an active device saves, for the tests that bypass the registers.
    static MmioTransportState active_transport_state(const NetDevice& dev) {
        MmioTransportState state;
        state.status = kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk;
        state.device = dev.save_common_state();
        return state;
    }
    void send_from_tap(const std::vector<uint8_t>& f) {
        ASSERT_EQ(::send(peer_.get(), f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
    }
    std::vector<uint8_t> receive_at_tap() {
        std::vector<uint8_t> buf(70000);
        const ssize_t n = ::recv(peer_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
        return buf;
    }
    uint64_t post_rx_buffer(uint32_t len) {
        const uint64_t gpa = rx_.alloc(len);
        rx_.add_chain({{gpa, len, true}});
        return gpa;
    }
    uint16_t num_buffers_at(uint64_t gpa) { return rx_.read_obj<uint16_t>(gpa + 10); }

    testing::FakeClock clock_;
    GuestMemory memory_ = testing::make_guest_memory(4 << 20);
    testing::VirtqueueBuilder rx_{memory_, 16, 0x1000};
    testing::VirtqueueBuilder tx_{memory_, 16, 0x100000};
    testing::FakeIrqLine irq_;
    VirtioInterrupt interrupt_{irq_};
    UniqueFd peer_;
};

TEST_F(NetDeviceTest, OffersMacAndMtuOnlyWhenConfigured) {
    auto plain = make_device();
    EXPECT_FALSE(plain->device_features() & feature_bit(kNetFMac));
    EXPECT_FALSE(plain->device_features() & feature_bit(kNetFMtu));
    EXPECT_TRUE(plain->device_features() & feature_bit(kNetFMrgRxbuf));
    EXPECT_TRUE(plain->device_features() & feature_bit(kFeatureVersion1));

    auto dev = make_device({.guest_mac = MacAddress{0x06, 0, 0xac, 0x10, 0, 2}, .mtu = 1400});
    EXPECT_TRUE(dev->device_features() & feature_bit(kNetFMac));
    EXPECT_TRUE(dev->device_features() & feature_bit(kNetFMtu));
    uint8_t config[12] = {};
    dev->read_config(0, config);
    EXPECT_EQ(config[0], 0x06);
    EXPECT_EQ(config[3], 0x10);
    EXPECT_EQ(config[5], 2);
    uint16_t mtu = 0;
    std::memcpy(&mtu, config + 10, 2);
    EXPECT_EQ(mtu, 1400);
}

TEST_F(NetDeviceTest, DeclaresTheTapEdgeTriggeredAndBothLimiterTimers) {
    auto dev = make_device();
    EXPECT_EQ(dev->id(), "eth0");
    std::vector<EventSource> sources = dev->event_sources();
    ASSERT_EQ(sources.size(), 3u);
    EXPECT_EQ(sources[0].fd, dev->tap_fd());
    EXPECT_EQ(sources[0].events, static_cast<uint32_t>(EPOLLIN | EPOLLET));
    EXPECT_EQ(sources[1].fd, dev->rx_rate_limiter_fd());
    EXPECT_EQ(sources[2].fd, dev->tx_rate_limiter_fd());
    // The tap's handler reads what the tap holds into the guest's buffers.
    const uint64_t gpa = post_rx_buffer(2048);
    send_from_tap(frame(60, 7));
    EXPECT_EQ(sources[0].handler(), EventSource::Next::kKeepWatching);
    EXPECT_EQ(num_buffers_at(gpa), 1);
    EXPECT_EQ(dev->counters().rx_packets_count, 1u);
}

TEST_F(NetDeviceTest, TransmitsAGatheredGuestFrameToTheTap) {
    auto dev = make_device();
    const auto f = frame(100, 7);
    const uint64_t hdr = tx_.alloc_bytes(f.data(), kHeader);
    const uint64_t body = tx_.alloc_bytes(f.data() + kHeader, 100);
    const uint16_t head = tx_.add_chain({{hdr, kHeader}, {body, 100}});
    dev->process_queue(NetDevice::kTxQueue);
    EXPECT_EQ(receive_at_tap(), f);
    EXPECT_EQ(tx_.used_idx(), 1);
    EXPECT_EQ(tx_.used_element(0).id, head);
    EXPECT_EQ(dev->counters().tx_packets_count, 1u);
    EXPECT_EQ(dev->counters().tx_bytes_count, f.size());
    EXPECT_EQ(irq_.count(), 1u);
}

TEST_F(NetDeviceTest, DropsMalformedTxFramesAndReturnsTheirBuffers) {
    auto dev = make_device();
    tx_.add_chain({{tx_.alloc(8), 8}});                             // Shorter than the header.
    tx_.add_chain({{tx_.alloc(64), 64}, {tx_.alloc(8), 8, true}});  // Device-writable part.
    tx_.add_chain({{1ull << 40, 64}});                              // Outside guest RAM.
    dev->process_queue(NetDevice::kTxQueue);
    EXPECT_EQ(tx_.used_idx(), 3);
    EXPECT_EQ(dev->counters().tx_malformed_frames, 3u);
    EXPECT_TRUE(receive_at_tap().empty());
    EXPECT_FALSE(dev->needs_reset());
}

TEST_F(NetDeviceTest, ReceivesAFrameIntoOneBufferWithNumBuffersOne) {
    auto dev = make_device();
    const uint64_t buf = post_rx_buffer(2048);
    const auto f = frame(200, 3);
    send_from_tap(f);
    dev->process_tap_rx();
    EXPECT_EQ(rx_.used_idx(), 1);
    EXPECT_EQ(rx_.used_element(0).len, f.size());
    auto got = rx_.read(buf, f.size());
    EXPECT_EQ(num_buffers_at(buf), 1);
    got[10] = got[11] = 0;
    EXPECT_EQ(got, f);
    EXPECT_EQ(dev->counters().rx_packets_count, 1u);
    EXPECT_EQ(irq_.count(), 1u);
}

TEST_F(NetDeviceTest, MergesAFrameAcrossSeveralBuffers) {
    auto dev = make_device();
    const uint64_t a = post_rx_buffer(64), b = post_rx_buffer(64), c = post_rx_buffer(64);
    const auto f = frame(150, 9);  // 162 bytes: 64 + 64 + 34.
    send_from_tap(f);
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 3);
    EXPECT_EQ(rx_.used_element(0).len, 64u);
    EXPECT_EQ(rx_.used_element(1).len, 64u);
    EXPECT_EQ(rx_.used_element(2).len, 34u);
    EXPECT_EQ(num_buffers_at(a), 3);
    EXPECT_EQ(rx_.read(b, 64), std::vector<uint8_t>(f.begin() + 64, f.begin() + 128));
    EXPECT_EQ(rx_.read(c, 34), std::vector<uint8_t>(f.begin() + 128, f.end()));
}

// Direct RX: once the posted chains hold the largest frame, the tap reads straight into them.
TEST_F(NetDeviceTest, ReadsStraightIntoMergedBuffersThatHoldTheLargestFrame) {
    // Chains of 32 KiB: three of them hold the largest frame, and are popped ahead to do so.
    auto dev = make_device();
    const uint64_t a = post_rx_buffer(32768), b = post_rx_buffer(32768), c = post_rx_buffer(32768);
    for (int i = 0; i < 3; ++i) post_rx_buffer(32768);
    const auto small = frame(100, 1);
    const auto big = frame(40000, 2);  // 40012 bytes: b, then part of c.
    send_from_tap(small);
    send_from_tap(big);
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 3);
    EXPECT_EQ(rx_.used_element(0).len, small.size());
    EXPECT_EQ(num_buffers_at(a), 1);
    auto got = rx_.read(a, small.size());
    got[10] = got[11] = 0;
    EXPECT_EQ(got, small);
    // The second frame starts in the next chain and spans two.
    EXPECT_EQ(rx_.used_element(1).id, 1u);
    EXPECT_EQ(rx_.used_element(1).len, 32768u);
    EXPECT_EQ(num_buffers_at(b), 2);
    got = rx_.read(b, 32768);
    got[10] = got[11] = 0;
    EXPECT_EQ(got, std::vector<uint8_t>(big.begin(), big.begin() + 32768));
    EXPECT_EQ(rx_.used_element(2).id, 2u);
    EXPECT_EQ(rx_.used_element(2).len, big.size() - 32768);
    EXPECT_EQ(rx_.read(c, big.size() - 32768),
              std::vector<uint8_t>(big.begin() + 32768, big.end()));
    // The other three wait, popped, for the next frame: the frames were read in place.
    EXPECT_EQ(dev->rx_chains_held(), 3u);
    EXPECT_EQ(dev->counters().rx_packets_count, 2u);
    EXPECT_EQ(dev->counters().rx_count, 3u);
    EXPECT_EQ(dev->counters().rx_bytes_count, small.size() + big.size());
}

TEST_F(NetDeviceTest, ReadsStraightIntoOneLargeBufferWithoutMergedBuffers) {
    auto dev = make_device({}, feature_bit(kNetFMrgRxbuf));
    const uint64_t a = post_rx_buffer(NetDevice::kMaxFrameBytes);
    const uint64_t b = post_rx_buffer(NetDevice::kMaxFrameBytes);
    const auto f = frame(65000, 3);
    send_from_tap(f);
    send_from_tap(frame(10, 4));
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 2);
    EXPECT_EQ(rx_.used_element(0).len, f.size());
    EXPECT_EQ(num_buffers_at(a), 1);
    EXPECT_EQ(num_buffers_at(b), 1);
    auto got = rx_.read(a, f.size());
    got[10] = got[11] = 0;
    EXPECT_EQ(got, f);
    EXPECT_EQ(dev->rx_chains_held(), 0u);
}

TEST_F(NetDeviceTest, HeldChainsGoBackForASnapshotAndAReset) {
    auto dev = make_device();
    for (int i = 0; i < 5; ++i) post_rx_buffer(32768);
    send_from_tap(frame(100, 1));
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 1);
    EXPECT_EQ(dev->rx_chains_held(), 3u);
    EXPECT_EQ(dev->queues()[NetDevice::kRxQueue].next_avail(), 4);
    // What a snapshot saves counts only the chain the guest got back.
    dev->quiesce();
    EXPECT_EQ(dev->rx_chains_held(), 0u);
    EXPECT_EQ(dev->queues()[NetDevice::kRxQueue].next_avail(), 1);
    // And the device goes on: the chains are popped again for the next frame.
    send_from_tap(frame(200, 2));
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 2);
    EXPECT_EQ(rx_.used_element(1).id, 1u);
    EXPECT_EQ(rx_.used_element(1).len, kHeader + 200);
    EXPECT_EQ(dev->rx_chains_held(), 3u);
    dev->reset();
    EXPECT_EQ(dev->rx_chains_held(), 0u);
}

TEST_F(NetDeviceTest, TooFewBuffersForTheLargestFrameTakeTheCopyPath) {
    // 16 chains of 4 KiB hold 65536 bytes, 26 short of the largest frame: each frame is read
    // into the device's own buffer and copied, and the chains popped ahead are given back first.
    auto dev = make_device();
    for (int i = 0; i < 16; ++i) post_rx_buffer(4096);
    send_from_tap(frame(5000, 1));
    send_from_tap(frame(60, 2));
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 3);
    EXPECT_EQ(rx_.used_element(0).id, 0u);
    EXPECT_EQ(rx_.used_element(1).id, 1u);
    EXPECT_EQ(rx_.used_element(2).id, 2u);
    EXPECT_EQ(rx_.used_element(2).len, kHeader + 60);
    EXPECT_EQ(dev->rx_chains_held(), 0u);
    EXPECT_EQ(dev->queues()[NetDevice::kRxQueue].next_avail(), 3);
}

TEST_F(NetDeviceTest, ARuntFrameReadDirectlyIsCountedAndItsChainReused) {
    auto dev = make_device();
    for (int i = 0; i < 4; ++i) post_rx_buffer(32768);
    const std::vector<uint8_t> runt(5, 0xee);
    send_from_tap(runt);
    send_from_tap(frame(30, 1));
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 1);
    EXPECT_EQ(rx_.used_element(0).id, 0u);
    EXPECT_EQ(rx_.used_element(0).len, kHeader + 30);
    EXPECT_EQ(dev->counters().rx_fails, 1u);
    EXPECT_EQ(dev->rx_chains_held(), 3u);
}

TEST_F(NetDeviceTest, DefersRxUntilTheGuestPostsBuffersThenReadsOn) {
    auto dev = make_device();
    send_from_tap(frame(50, 1));
    send_from_tap(frame(60, 2));
    dev->process_tap_rx();
    EXPECT_TRUE(dev->rx_deferred());
    EXPECT_EQ(dev->counters().no_rx_avail_buffer, 1u);
    EXPECT_EQ(rx_.used_idx(), 0);

    post_rx_buffer(2048);
    post_rx_buffer(2048);
    dev->process_queue(NetDevice::kRxQueue);  // No new tap event: the tap was left readable.
    EXPECT_EQ(rx_.used_idx(), 2);
    EXPECT_EQ(rx_.used_element(0).len, kHeader + 50);
    EXPECT_EQ(rx_.used_element(1).len, kHeader + 60);
    EXPECT_FALSE(dev->rx_deferred());
}

TEST_F(NetDeviceTest, PartialBuffersForAMergedFrameAreGivenBack) {
    auto dev = make_device();
    post_rx_buffer(64);
    send_from_tap(frame(150, 4));
    dev->process_tap_rx();
    EXPECT_TRUE(dev->rx_deferred());
    EXPECT_EQ(rx_.used_idx(), 0);
    post_rx_buffer(64);
    post_rx_buffer(64);
    dev->process_queue(NetDevice::kRxQueue);
    EXPECT_EQ(rx_.used_idx(), 3);
}

TEST_F(NetDeviceTest, WithoutMergedBuffersDropsAFrameTooBigForTheBuffer) {
    auto dev = make_device({}, feature_bit(kNetFMrgRxbuf));
    post_rx_buffer(64);
    const uint64_t big = post_rx_buffer(1024);
    send_from_tap(frame(150, 4));
    send_from_tap(frame(100, 5));
    dev->process_tap_rx();
    ASSERT_EQ(rx_.used_idx(), 2);
    EXPECT_EQ(rx_.used_element(0).len, 0u);
    EXPECT_EQ(rx_.used_element(1).len, kHeader + 100);
    EXPECT_EQ(num_buffers_at(big), 1);
    EXPECT_EQ(dev->counters().rx_fails, 1u);
}

TEST_F(NetDeviceTest, DeviceReadableRxBufferMarksTheDeviceNeedsReset) {
    auto dev = make_device();
    rx_.add_chain({{rx_.alloc(2048), 2048, false}});
    send_from_tap(frame(10, 1));
    dev->process_tap_rx();
    EXPECT_TRUE(dev->needs_reset());
    EXPECT_TRUE(interrupt_.status() & kInterruptConfigChange);
}

TEST_F(NetDeviceTest, RxRateLimiterDefersFramesUntilItsTimerFires) {
    auto dev = make_device({.rx_ops = {1, 0, 1000}});
    post_rx_buffer(2048);
    post_rx_buffer(2048);
    send_from_tap(frame(10, 1));
    send_from_tap(frame(10, 2));
    dev->process_tap_rx();
    EXPECT_EQ(rx_.used_idx(), 1);
    EXPECT_EQ(dev->counters().rx_rate_limiter_throttled, 1u);
    clock_.advance(std::chrono::seconds(1));
    pollfd pfd{dev->rx_rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    dev->process_rx_rate_limiter_event();
    EXPECT_EQ(rx_.used_idx(), 2);
}

TEST_F(NetDeviceTest, RxOpsLimiterHoldsDirectReadsUntilItsTimerFires) {
    // Buffers large enough for direct reads: an ops limit is charged before each read.
    auto dev = make_device({.rx_ops = {1, 0, 1000}});
    for (int i = 0; i < 4; ++i) post_rx_buffer(32768);
    send_from_tap(frame(10, 1));
    send_from_tap(frame(10, 2));
    dev->process_tap_rx();
    EXPECT_EQ(rx_.used_idx(), 1);
    EXPECT_EQ(dev->counters().rx_rate_limiter_throttled, 1u);
    EXPECT_GT(dev->rx_chains_held(), 0u);
    clock_.advance(std::chrono::seconds(1));
    pollfd pfd{dev->rx_rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    dev->process_rx_rate_limiter_event();
    ASSERT_EQ(rx_.used_idx(), 2);
    EXPECT_EQ(rx_.used_element(1).len, kHeader + 10);
}

TEST_F(NetDeviceTest, RxByteLimiterTakesTheCopyPathAndChargesTheFrameSize) {
    auto dev = make_device({.rx_bandwidth = {100, 0, 1000}});
    for (int i = 0; i < 4; ++i) post_rx_buffer(32768);
    send_from_tap(frame(60, 1));
    send_from_tap(frame(60, 2));
    dev->process_tap_rx();
    // 72 of the 100 bytes go to the first frame; the second waits for the refill.
    EXPECT_EQ(rx_.used_idx(), 1);
    EXPECT_EQ(dev->counters().rx_rate_limiter_throttled, 1u);
    EXPECT_EQ(dev->rx_chains_held(), 0u);
    EXPECT_TRUE(dev->rx_deferred());
}

TEST_F(NetDeviceTest, TxRateLimiterLeavesFramesInTheQueue) {
    auto dev = make_device({.tx_bandwidth = {100, 0, 1000}});
    for (int i = 0; i < 2; ++i) {
        const auto f = frame(60, static_cast<uint8_t>(i));
        tx_.add_chain({{tx_.alloc_bytes(f.data(), static_cast<uint32_t>(f.size())),
                        static_cast<uint32_t>(f.size())}});
    }
    dev->process_queue(NetDevice::kTxQueue);
    EXPECT_EQ(tx_.used_idx(), 1);
    EXPECT_EQ(dev->counters().tx_rate_limiter_throttled, 1u);
    EXPECT_EQ(dev->tx_rate_limiter().ops(), nullptr);
    clock_.advance(std::chrono::seconds(1));
    pollfd pfd{dev->tx_rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    dev->process_tx_rate_limiter_event();
    EXPECT_EQ(tx_.used_idx(), 2);
    EXPECT_FALSE(receive_at_tap().empty());
    EXPECT_FALSE(receive_at_tap().empty());
}

TEST_F(NetDeviceTest, GuestCanWriteTheMacInConfigSpace) {
    auto dev = make_device({.guest_mac = MacAddress{1, 2, 3, 4, 5, 6}});
    const uint8_t mac[6] = {0xa, 0xb, 0xc, 0xd, 0xe, 0xf};
    dev->write_config(0, mac);
    uint8_t out[6] = {};
    dev->read_config(0, out);
    EXPECT_EQ(out[5], 0xf);
    EXPECT_EQ(dev->counters().mac_address_updates, 1u);
    dev->write_config(4, std::span<const uint8_t>(mac, 4));
    EXPECT_EQ(dev->counters().cfg_fails, 1u);
}

TEST_F(NetDeviceTest, SnapshotRestoreKeepsTheMacAndContinuesTxOnANewTap) {
    auto dev = make_device({.guest_mac = MacAddress{1, 2, 3, 4, 5, 6}, .mtu = 1400},
                           feature_bit(kNetFGuestUfo));
    const uint8_t mac[6] = {0xa, 0xb, 0xc, 0xd, 0xe, 0xf};
    dev->write_config(0, mac);
    const auto f = frame(60, 1);
    tx_.add_chain({{tx_.alloc_bytes(f.data(), static_cast<uint32_t>(f.size())),
                    static_cast<uint32_t>(f.size())}});
    dev->process_queue(NetDevice::kTxQueue);
    EXPECT_EQ(receive_at_tap(), f);

    const NetDeviceState net_state = dev->save_state();
    EXPECT_EQ(net_state.mac[0], 0xa);
    EXPECT_EQ(net_state.mtu, 1400);
    EXPECT_EQ(net_state.tap_offload, unsigned{TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6});
    const MmioTransportState transport_state = active_transport_state(*dev);
    dev.reset();

    // network_overrides may give another tap: here a new socketpair.
    auto restored = make_inactive_device({.guest_mac = MacAddress{1, 2, 3, 4, 5, 6}, .mtu = 1400});
    ASSERT_NE(restored, nullptr);
    ASSERT_TRUE(restored->restore_state(net_state).has_value());
    testing::FakeIrqLine irq;
    MmioTransport transport(*restored, memory_, irq);
    auto done = transport.restore_state(transport_state);
    ASSERT_TRUE(done.has_value()) << done.error().message();
    EXPECT_FALSE(restored->has_feature(kNetFGuestUfo));
    uint8_t config[6] = {};
    transport.read(mmio::kConfig, config);
    EXPECT_EQ(config[0], 0xa);
    EXPECT_EQ(config[5], 0xf);

    const auto g = frame(80, 9);
    const uint16_t head =
        tx_.add_chain({{tx_.alloc_bytes(g.data(), static_cast<uint32_t>(g.size())),
                        static_cast<uint32_t>(g.size())}});
    restored->process_queue(NetDevice::kTxQueue);
    EXPECT_EQ(receive_at_tap(), g);
    EXPECT_EQ(tx_.used_idx(), 2);
    EXPECT_EQ(tx_.used_element(1).id, head);
}

TEST_F(NetDeviceTest, SnapshotRestoreKeepsTheTxRateLimiterDrained) {
    // One TX frame per second: the second waits in the queue when the VM is snapshotted.
    const NetDeviceOptions limited{.rx_bandwidth = {1 << 20, 0, 1000}, .tx_ops = {1, 0, 1000}};
    auto dev = make_device(limited);
    for (uint8_t seed : {uint8_t{1}, uint8_t{2}}) {
        const auto f = frame(60, seed);
        tx_.add_chain({{tx_.alloc_bytes(f.data(), static_cast<uint32_t>(f.size())),
                        static_cast<uint32_t>(f.size())}});
    }
    dev->process_queue(NetDevice::kTxQueue);
    ASSERT_EQ(tx_.used_idx(), 1);
    EXPECT_FALSE(receive_at_tap().empty());
    const NetDeviceState net_state = dev->save_state();
    ASSERT_TRUE(net_state.tx_rate_limiter.ops.has_value());
    EXPECT_EQ(net_state.tx_rate_limiter.ops->budget, 0u);
    ASSERT_TRUE(net_state.rx_rate_limiter.bandwidth.has_value());
    EXPECT_EQ(net_state.rx_rate_limiter.bandwidth->budget, 1u << 20);
    const MmioTransportState transport_state = active_transport_state(*dev);
    dev.reset();

    // Restored an hour later: the hour does not refill the bucket.
    clock_.advance(std::chrono::hours(1));
    auto restored = make_inactive_device(limited);
    ASSERT_NE(restored, nullptr);
    ASSERT_TRUE(restored->restore_state(net_state).has_value());
    testing::FakeIrqLine irq;
    MmioTransport transport(*restored, memory_, irq);
    ASSERT_TRUE(transport.restore_state(transport_state).has_value());
    restored->process_queue(NetDevice::kTxQueue);
    EXPECT_EQ(tx_.used_idx(), 1);
    EXPECT_TRUE(receive_at_tap().empty());
    EXPECT_EQ(restored->counters().tx_rate_limiter_throttled, 1u);

    clock_.advance(std::chrono::seconds(1));
    pollfd pfd{restored->tx_rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    restored->process_tx_rate_limiter_event();
    EXPECT_EQ(tx_.used_idx(), 2);
    EXPECT_FALSE(receive_at_tap().empty());
}

TEST_F(NetDeviceTest, RestoreRefusesAnotherMtuOrOtherFeatures) {
    auto dev = make_device({.mtu = 1400});
    const NetDeviceState state = dev->save_state();
    auto other_mtu = make_device({.mtu = 9000});
    other_mtu->reset();
    EXPECT_FALSE(other_mtu->restore_state(state).has_value());
    auto with_mac = make_device({.guest_mac = MacAddress{1, 2, 3, 4, 5, 6}, .mtu = 1400});
    with_mac->reset();
    EXPECT_FALSE(with_mac->restore_state(state).has_value());
    auto same = make_device({.mtu = 1400});
    EXPECT_FALSE(same->restore_state(state).has_value());  // Active: not a restore target.
    same->reset();
    EXPECT_TRUE(same->restore_state(state).has_value());
}

}  // namespace
}  // namespace ember::virtio
