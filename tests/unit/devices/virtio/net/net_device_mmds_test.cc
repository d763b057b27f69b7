// MMDS through a net device's queues: guest frames for MMDS go from the TX queue to the stack and
// the answers come back on the RX queue, while every other frame reaches the tap unchanged.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <map>
#include <vector>

#include "devices/virtio/net/net_device.h"
#include "devices/virtio/net/net_metrics.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_irq_line.h"
#include "tests/fakes/virtqueue_builder.h"
#include "tests/unit/devices/virtio/net/mmds_guest.h"

namespace ember::virtio {
namespace {

using testing::Bytes;
using testing::kAck;
using testing::kSyn;

constexpr size_t kHeader = Tap::kVnetHeaderBytes;

class NetDeviceMmdsTest : public ::testing::Test {
protected:
    std::unique_ptr<NetDevice> make_device(NetDeviceOptions options = {}, bool with_mmds = true) {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        peer_.reset(fds[1]);
        options.iface_id = "eth0";
        options.clock = &clock_;
        if (with_mmds) options.mmds = NetMmdsOptions{.responder = &responder_};
        auto dev = NetDevice::create(options, Tap::from_fd(UniqueFd(fds[0]), "fake-tap"));
        EXPECT_TRUE(dev.has_value());
        if (!dev) return nullptr;
        rx_.configure((*dev)->queues()[NetDevice::kRxQueue]);
        tx_.configure((*dev)->queues()[NetDevice::kTxQueue]);
        (*dev)->set_acked_features((*dev)->device_features());
        EXPECT_TRUE((*dev)->activate(memory_, interrupt_).has_value());
        return std::move(*dev);
    }
    // The guest transmits `frame` behind a zero virtio-net header, split over two descriptors.
    void transmit(NetDevice& dev, const Bytes& frame) {
        Bytes f(kHeader);
        f.insert(f.end(), frame.begin(), frame.end());
        const auto split = static_cast<uint32_t>(std::min<size_t>(f.size(), 20));
        const uint64_t a = tx_.alloc_bytes(f.data(), split);
        const uint64_t b =
            tx_.alloc_bytes(f.data() + split, static_cast<uint32_t>(f.size() - split));
        tx_.add_chain({{a, split}, {b, static_cast<uint32_t>(f.size() - split)}});
        dev.process_queue(NetDevice::kTxQueue);
    }
    void post_rx_buffers(int n) {
        for (int i = 0; i < n; ++i) {
            const uint64_t gpa = rx_.alloc(2048);
            buffers_[rx_.add_chain({{gpa, 2048, true}})] = gpa;
        }
    }
    // Frames delivered on the RX queue since the last call, without their virtio-net header.
    std::vector<Bytes> received() {
        std::vector<Bytes> frames;
        for (; seen_ < rx_.used_idx(); ++seen_) {
            const testing::UsedElement used = rx_.used_element(seen_);
            Bytes f = rx_.read(buffers_.at(static_cast<uint16_t>(used.id)), used.len);
            EXPECT_EQ(f[10] | (f[11] << 8), 1);  // num_buffers, little-endian.
            frames.emplace_back(f.begin() + kHeader, f.end());
        }
        return frames;
    }
    Bytes receive_at_tap() {
        Bytes buf(70000);
        const ssize_t n = ::recv(peer_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
        return buf;
    }
    void send_from_tap(const Bytes& frame) {
        Bytes f(kHeader);
        f.insert(f.end(), frame.begin(), frame.end());
        ASSERT_EQ(::send(peer_.get(), f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
    }

    testing::FakeClock clock_;
    testing::FakeResponder responder_;
    GuestMemory memory_ = testing::make_guest_memory(4 << 20);
    testing::VirtqueueBuilder rx_{memory_, 64, 0x1000};
    testing::VirtqueueBuilder tx_{memory_, 64, 0x100000};
    testing::FakeIrqLine irq_;
    VirtioInterrupt interrupt_{irq_};
    UniqueFd peer_;
    std::map<uint16_t, uint64_t> buffers_;
    uint16_t seen_ = 0;
};

TEST_F(NetDeviceMmdsTest, AGetGoesFromTheTxQueueToTheResponderAndBackOnRx) {
    auto dev = make_device();
    post_rx_buffers(8);
    transmit(*dev, testing::arp_request());
    auto arp = received();
    ASSERT_EQ(arp.size(), 1u);
    EXPECT_EQ(testing::get16(arp[0], 20), 2);
    const uint64_t irqs = irq_.count();
    EXPECT_GT(irqs, 0u);
    rx_.set_used_event(rx_.used_idx());  // The driver asks to hear of the next used buffer.

    transmit(*dev, testing::tcp_frame({.seq = 1, .flags = kSyn, .mss = 1460}));
    auto syn_ack = received();
    ASSERT_EQ(syn_ack.size(), 1u);
    auto s = testing::decode_tcp(syn_ack[0]);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->flags, kSyn | kAck);
    EXPECT_GT(irq_.count(), irqs);  // Delivered at once, though the tap said nothing.

    transmit(*dev, testing::tcp_frame({.seq = 2,
                                       .ack = s->seq + 1,
                                       .flags = kAck,
                                       .payload = "GET /latest HTTP/1.1\r\n\r\n"}));
    auto answer = received();
    ASSERT_EQ(answer.size(), 1u);
    auto data = testing::decode_tcp(answer[0]);
    ASSERT_TRUE(data);
    EXPECT_EQ(data->payload, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde");
    ASSERT_EQ(responder_.requests.size(), 1u);

    EXPECT_TRUE(receive_at_tap().empty());
    EXPECT_EQ(tx_.used_idx(), 3);
    EXPECT_EQ(dev->counters().tx_packets_count, 0u);
    const mmds_net::MmdsCounters* c = dev->mmds_counters();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->rx_accepted, 3u);
    EXPECT_EQ(c->tx_frames, 3u);
    EXPECT_EQ(c->tx_bytes, arp[0].size() + syn_ack[0].size() + answer[0].size());
    EXPECT_EQ(c->connections_created, 1u);
    EXPECT_EQ(mmds_metrics(*c).name, "mmds");
    EXPECT_EQ(mmds_metrics(*c).metrics.size(), 13u);
}

TEST_F(NetDeviceMmdsTest, OtherFramesReachTheTapByteForByte) {
    auto dev = make_device();
    const std::vector<Bytes> frames = {
        testing::tcp_frame({.flags = kSyn, .dst = {10, 0, 0, 1}}),
        testing::arp_request({10, 0, 0, 1}),
        Bytes(20, 0xab),  // Too short to be IPv4.
        [] {
            Bytes f = testing::tcp_frame({.flags = kSyn});
            testing::put16(f, 12, 0x86dd);  // Not IPv4 though the bytes match.
            return f;
        }(),
    };
    for (const Bytes& f : frames) {
        transmit(*dev, f);
        Bytes expected(kHeader);
        expected.insert(expected.end(), f.begin(), f.end());
        EXPECT_EQ(receive_at_tap(), expected);
    }
    EXPECT_EQ(dev->counters().tx_packets_count, frames.size());
    EXPECT_EQ(dev->mmds_counters()->rx_accepted, 0u);
}

TEST_F(NetDeviceMmdsTest, WithoutMmdsFramesToItsAddressGoToTheTap) {
    auto dev = make_device({}, false);
    EXPECT_EQ(dev->mmds_counters(), nullptr);
    transmit(*dev, testing::arp_request());
    EXPECT_EQ(receive_at_tap().size(), kHeader + 42);
}

TEST_F(NetDeviceMmdsTest, MmdsFramesSpendNoTxRateLimiterTokens) {
    auto dev = make_device({.tx_ops = {1, 0, 1000}});
    post_rx_buffers(8);
    for (int i = 0; i < 3; ++i) transmit(*dev, testing::arp_request());
    transmit(*dev, testing::tcp_frame({.flags = kSyn, .dst = {10, 0, 0, 1}}));
    EXPECT_EQ(tx_.used_idx(), 4);
    EXPECT_FALSE(receive_at_tap().empty());
    EXPECT_EQ(dev->counters().tx_rate_limiter_throttled, 0u);
    // The one token went to the tap frame: the next one waits.
    transmit(*dev, testing::tcp_frame({.flags = kSyn, .dst = {10, 0, 0, 1}}));
    EXPECT_EQ(tx_.used_idx(), 4);
}

TEST_F(NetDeviceMmdsTest, MmdsFramesWaitForRxBuffersAndTheRxRateLimiter) {
    auto dev = make_device({.rx_ops = {1, 0, 1000}});
    transmit(*dev, testing::arp_request());
    EXPECT_TRUE(dev->rx_deferred());
    EXPECT_EQ(dev->counters().no_rx_avail_buffer, 1u);
    transmit(*dev, testing::tcp_frame({.seq = 1, .flags = kSyn}));
    post_rx_buffers(4);
    dev->process_queue(NetDevice::kRxQueue);
    ASSERT_EQ(received().size(), 1u);  // One token: the ARP reply; the SYN-ACK waits.
    EXPECT_EQ(dev->counters().rx_rate_limiter_throttled, 1u);
    clock_.advance(std::chrono::seconds(1));
    pollfd pfd{dev->rx_rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    dev->process_rx_rate_limiter_event();
    auto later = received();
    ASSERT_EQ(later.size(), 1u);
    EXPECT_TRUE(testing::decode_tcp(later[0]).has_value());
}

TEST_F(NetDeviceMmdsTest, MmdsFramesGoBeforeTapFramesThatWait) {
    auto dev = make_device();
    const Bytes first(60, 1), second(60, 2);
    send_from_tap(first);
    dev->process_tap_rx();  // No RX buffers: the first tap frame waits in the device.
    transmit(*dev, testing::arp_request());
    send_from_tap(second);
    dev->process_tap_rx();
    post_rx_buffers(4);
    dev->process_queue(NetDevice::kRxQueue);
    auto frames = received();
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_EQ(frames[0], first);
    EXPECT_EQ(testing::get16(frames[1], 12), 0x0806);  // The stack's answer before the tap's next.
    EXPECT_EQ(frames[2], second);
}

TEST_F(NetDeviceMmdsTest, ResetForgetsTheConnections) {
    auto dev = make_device();
    post_rx_buffers(4);
    transmit(*dev, testing::tcp_frame({.seq = 1, .flags = kSyn}));
    ASSERT_EQ(dev->mmds_stack()->connection_count(), 1u);
    dev->reset();
    EXPECT_EQ(dev->mmds_stack()->connection_count(), 0u);
}

}  // namespace
}  // namespace ember::virtio
