// The MMDS stack frame by frame: ARP, the TCP handshake, requests and windowed responses, its
// limits, and malformed frames, against a fake responder and clock.
#include "devices/virtio/net/mmds/mmds_stack.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"
#include "tests/unit/devices/virtio/net/mmds_guest.h"

namespace ember::virtio::mmds_net {
namespace {

using testing::Bytes;
using testing::kAck;
using testing::kFin;
using testing::kPsh;
using testing::kRst;
using testing::kSyn;
using testing::TcpIn;
using testing::TcpOut;

class MmdsStackTest : public ::testing::Test {
protected:
    void send(const Bytes& frame) {
        ASSERT_TRUE(MmdsStack::is_mmds_frame(frame, testing::kMmdsIp));
        stack_.receive_frame(frame);
    }
    std::vector<Bytes> drain() {
        std::vector<Bytes> out;
        for (int i = 0; i < 1000; ++i) {
            Bytes buf(2048);
            const size_t n = stack_.write_next_frame(buf);
            if (n == 0) break;
            buf.resize(n);
            out.push_back(std::move(buf));
        }
        return out;
    }
    std::vector<TcpIn> drain_tcp() {
        std::vector<TcpIn> segments;
        for (const Bytes& f : drain()) {
            auto s = testing::decode_tcp(f);
            EXPECT_TRUE(s.has_value());
            if (s) segments.push_back(*s);
        }
        return segments;
    }
    // SYN, SYN-ACK, ACK; returns the stack's next sequence number.
    uint32_t connect(uint16_t port = 40000, uint16_t window = 65535, uint16_t mss = 1460) {
        send(testing::tcp_frame(
            {.src_port = port, .seq = 1000, .flags = kSyn, .window = window, .mss = mss}));
        auto out = drain_tcp();
        EXPECT_EQ(out.size(), 1u);
        if (out.empty()) return 0;
        EXPECT_EQ(out[0].flags, kSyn | kAck);
        send(testing::tcp_frame({.src_port = port,
                                 .seq = 1001,
                                 .ack = out[0].seq + 1,
                                 .flags = kAck,
                                 .window = window}));
        EXPECT_TRUE(drain().empty());
        return out[0].seq + 1;
    }

    testing::FakeClock clock_;
    testing::FakeResponder responder_;
    MmdsStack stack_{testing::kMmdsIp, responder_, clock_, 1500};
};

TEST_F(MmdsStackTest, AnswersArpForItsAddressWithFirecrackersMac) {
    send(testing::arp_request());
    auto out = drain();
    ASSERT_EQ(out.size(), 1u);
    const Bytes& f = out[0];
    ASSERT_EQ(f.size(), 42u);
    EXPECT_TRUE(std::equal(testing::kGuestMac.begin(), testing::kGuestMac.end(), f.begin()));
    EXPECT_TRUE(std::equal(MmdsStack::kMac.begin(), MmdsStack::kMac.end(), f.begin() + 6));
    EXPECT_EQ(testing::get16(f, 12), 0x0806);
    EXPECT_EQ(testing::get16(f, 20), 2);  // Reply.
    EXPECT_TRUE(std::equal(MmdsStack::kMac.begin(), MmdsStack::kMac.end(), f.begin() + 22));
    EXPECT_TRUE(std::equal(testing::kMmdsIp.begin(), testing::kMmdsIp.end(), f.begin() + 28));
    EXPECT_TRUE(std::equal(testing::kGuestMac.begin(), testing::kGuestMac.end(), f.begin() + 32));
    EXPECT_TRUE(std::equal(testing::kGuestIp.begin(), testing::kGuestIp.end(), f.begin() + 38));
    EXPECT_EQ(stack_.counters().tx_count, 1u);
}

TEST_F(MmdsStackTest, TheFrameTestTakesOnlyArpAndIpv4ForTheMmdsAddress) {
    EXPECT_FALSE(MmdsStack::is_mmds_frame(testing::arp_request({10, 0, 0, 1}), testing::kMmdsIp));
    EXPECT_FALSE(
        MmdsStack::is_mmds_frame(testing::tcp_frame({.dst = {10, 0, 0, 1}}), testing::kMmdsIp));
    Bytes vlan = testing::tcp_frame({});
    testing::put16(vlan, 12, 0x8100);
    EXPECT_FALSE(MmdsStack::is_mmds_frame(vlan, testing::kMmdsIp));
    EXPECT_FALSE(MmdsStack::is_mmds_frame(Bytes(33), testing::kMmdsIp));
    EXPECT_TRUE(MmdsStack::is_mmds_frame(testing::tcp_frame({}), testing::kMmdsIp));
}

TEST_F(MmdsStackTest, ArpRepliesAndShortArpAreCountedNotAnswered) {
    send(testing::arp_request(testing::kMmdsIp, 2));
    Bytes short_arp = testing::arp_request();
    short_arp[18] = 8;  // hlen 8: not Ethernet/IPv4 ARP.
    send(short_arp);
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(stack_.counters().rx_accepted, 2u);
    EXPECT_EQ(stack_.counters().rx_accepted_unusual, 1u);
    EXPECT_EQ(stack_.counters().rx_bad_eth, 1u);
}

TEST_F(MmdsStackTest, SynGetsASynAckWithTheMssAndTheRequestWindow) {
    send(testing::tcp_frame({.seq = 77, .flags = kSyn, .mss = 1200}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].flags, kSyn | kAck);
    EXPECT_EQ(out[0].ack, 78u);
    EXPECT_EQ(out[0].src_port, 80);
    EXPECT_EQ(out[0].dst_port, 40000);
    EXPECT_EQ(out[0].window, mmds::Responder::kMaxRequestBytes);
    EXPECT_EQ(out[0].mss, 1460);  // MTU - 40.
    EXPECT_EQ(stack_.counters().connections_created, 1u);
    // The guest did not hear it and sends its SYN again: the same SYN-ACK.
    send(testing::tcp_frame({.seq = 77, .flags = kSyn, .mss = 1200}));
    auto again = drain_tcp();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].seq, out[0].seq);
    EXPECT_EQ(stack_.connection_count(), 1u);
}

TEST_F(MmdsStackTest, ServesAGetAndClosesOnTheGuestsFin) {
    const uint32_t our = connect();
    send(testing::tcp_frame(
        {.seq = 1001, .ack = our, .flags = kAck | kPsh, .payload = "GET /a HTTP/1.1\r\n\r\n"}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, 1001u + 19);
    EXPECT_EQ(out[0].payload, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde");
    EXPECT_TRUE(out[0].has(kPsh));
    ASSERT_EQ(responder_.requests.size(), 1u);
    EXPECT_EQ(responder_.requests[0], "GET /a HTTP/1.1\r\n\r\n");
    const uint32_t end = our + static_cast<uint32_t>(out[0].payload.size());
    // The guest acknowledges and closes; the stack ACKs its FIN and sends its own.
    send(testing::tcp_frame({.seq = 1020, .ack = end, .flags = kAck | kFin}));
    auto fin = drain_tcp();
    ASSERT_EQ(fin.size(), 1u);
    EXPECT_TRUE(fin[0].has(kFin));
    EXPECT_EQ(fin[0].ack, 1021u);
    EXPECT_EQ(stack_.connection_count(), 1u);
    send(testing::tcp_frame({.seq = 1021, .ack = end + 1, .flags = kAck}));
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(stack_.connection_count(), 0u);
    EXPECT_EQ(stack_.counters().connections_destroyed, 1u);
}

TEST_F(MmdsStackTest, AResponderCloseSendsFinAfterTheResponse) {
    const uint32_t our = connect();
    send(testing::tcp_frame({.seq = 1001,
                             .ack = our,
                             .flags = kAck,
                             .payload = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].has(kFin));  // Carried by the last data segment.
    const uint32_t fin_seq = our + static_cast<uint32_t>(out[0].payload.size());
    send(testing::tcp_frame({.seq = 1038, .ack = fin_seq + 1, .flags = kAck | kFin}));
    auto last = drain_tcp();
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].flags, kAck);
    EXPECT_EQ(stack_.connection_count(), 0u);
}

TEST_F(MmdsStackTest, ARequestInPiecesIsAnsweredWhenComplete) {
    const uint32_t our = connect();
    send(testing::tcp_frame({.seq = 1001, .ack = our, .flags = kAck, .payload = "GET / HT"}));
    auto ack = drain_tcp();
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_TRUE(ack[0].payload.empty());
    EXPECT_EQ(ack[0].window, mmds::Responder::kMaxRequestBytes - 8);
    send(testing::tcp_frame({.seq = 1009, .ack = our, .flags = kAck, .payload = "TP/1.1\r\n\r\n"}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].payload.empty());
    EXPECT_EQ(out[0].window, mmds::Responder::kMaxRequestBytes);
}

TEST_F(MmdsStackTest, OutOfOrderDataIsDroppedAndReacknowledged) {
    const uint32_t our = connect();
    send(testing::tcp_frame({.seq = 1010, .ack = our, .flags = kAck, .payload = "later"}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, 1001u);
    EXPECT_EQ(responder_.calls, 0u);
    EXPECT_EQ(stack_.counters().rx_accepted_unusual, 1u);
    // A retransmission overlapping what was taken adds only the new bytes.
    send(testing::tcp_frame({.seq = 1001, .ack = our, .flags = kAck, .payload = "GET"}));
    send(testing::tcp_frame({.seq = 1001, .ack = our, .flags = kAck, .payload = "GET / HTTP/1.1"}));
    send(testing::tcp_frame({.seq = 1015, .ack = our, .flags = kAck, .payload = "\r\n\r\n"}));
    drain();
    ASSERT_EQ(responder_.requests.size(), 1u);
    EXPECT_EQ(responder_.requests[0], "GET / HTTP/1.1\r\n\r\n");
}

TEST_F(MmdsStackTest, SendsA60KResponseWithinTheGuestsWindowAndMss) {
    responder_.body_bytes = 60 << 10;
    const uint16_t window = 8000;
    const uint32_t our = connect(40000, window, 1000);
    send(testing::tcp_frame({.seq = 1001,
                             .ack = our,
                             .flags = kAck,
                             .window = window,
                             .payload = "GET / HTTP/1.1\r\n\r\n"}));
    std::string received;
    uint32_t acked = our;
    for (int round = 0; round < 100; ++round) {
        auto out = drain_tcp();
        if (out.empty()) break;
        size_t in_flight = 0;
        for (const TcpIn& s : out) {
            EXPECT_EQ(s.seq, acked + in_flight);
            EXPECT_LE(s.payload.size(), 1000u);
            in_flight += s.payload.size();
            received += s.payload;
        }
        EXPECT_LE(in_flight, window);
        acked += static_cast<uint32_t>(in_flight);
        send(testing::tcp_frame({.seq = 1019, .ack = acked, .flags = kAck, .window = window}));
    }
    const std::string body = responder_.body_for("");
    ASSERT_GT(received.size(), body.size());
    EXPECT_EQ(received.substr(received.size() - body.size()), body);
    EXPECT_EQ(stack_.max_buffered_bytes(), 0u);  // Fully acknowledged: released.
}

TEST_F(MmdsStackTest, ATinyMssIsRaisedToLinuxsMinimum) {
    responder_.body_bytes = 200;
    const uint32_t our = connect(40000, 65535, 1);
    send(testing::tcp_frame(
        {.seq = 1001, .ack = our, .flags = kAck, .payload = "GET / HTTP/1.1\r\n\r\n"}));
    auto out = drain_tcp();
    ASSERT_GT(out.size(), 2u);
    EXPECT_EQ(out[0].payload.size(), 48u);
}

TEST_F(MmdsStackTest, AZeroWindowHoldsDataUntilTheGuestOpensIt) {
    responder_.body_bytes = 3000;
    const uint32_t our = connect();
    send(testing::tcp_frame({.seq = 1001,
                             .ack = our,
                             .flags = kAck,
                             .window = 0,
                             .payload = "GET / HTTP/1.1\r\n\r\n"}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);  // The ACK of the request only.
    EXPECT_TRUE(out[0].payload.empty());
    send(testing::tcp_frame({.seq = 1019, .ack = our, .flags = kAck, .window = 2000}));
    out = drain_tcp();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].payload.size() + out[1].payload.size(), 2000u);
}

TEST_F(MmdsStackTest, ThreeDuplicateAcksResendFromTheFirstMissingByte) {
    responder_.body_bytes = 4000;
    const uint32_t our = connect();
    send(testing::tcp_frame(
        {.seq = 1001, .ack = our, .flags = kAck, .payload = "GET / HTTP/1.1\r\n\r\n"}));
    auto first = drain_tcp();
    ASSERT_GE(first.size(), 3u);
    const uint32_t lost = first[1].seq;
    // The first ACK moves snd_una to the lost byte; three more are duplicates.
    for (int i = 0; i < 4; ++i) send(testing::tcp_frame({.seq = 1019, .ack = lost, .flags = kAck}));
    auto again = drain_tcp();
    ASSERT_FALSE(again.empty());
    EXPECT_EQ(again[0].seq, lost);
}

TEST_F(MmdsStackTest, UnacknowledgedDataIsResentAfterTheRtoWhenOutputIsAskedFor) {
    const uint32_t our = connect();
    send(testing::tcp_frame(
        {.seq = 1001, .ack = our, .flags = kAck, .payload = "GET / HTTP/1.1\r\n\r\n"}));
    auto first = drain_tcp();
    ASSERT_EQ(first.size(), 1u);
    EXPECT_TRUE(drain().empty());
    clock_.advance(std::chrono::seconds(1));
    auto again = drain_tcp();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].seq, our);
    EXPECT_EQ(again[0].payload, first[0].payload);
    // Without progress it gives up after kMaxRetransmissions with a RST.
    for (uint32_t i = 0; i < TcpConnection::kMaxRetransmissions + 1; ++i) {
        clock_.advance(std::chrono::seconds(1));
        drain();
    }
    EXPECT_EQ(stack_.connection_count(), 0u);
}

TEST_F(MmdsStackTest, ARequestOverTheBufferGetsAReset) {
    const uint32_t our = connect();
    const std::string chunk(1000, 'x');
    uint32_t seq = 1001;
    std::vector<TcpIn> out;
    for (int i = 0; i < 9; ++i) {
        send(testing::tcp_frame({.seq = seq, .ack = our, .flags = kAck, .payload = chunk}));
        seq += 1000;
        out = drain_tcp();
    }
    // 8192 bytes fill the buffer without a request end: the connection is reset.
    ASSERT_FALSE(out.empty());
    EXPECT_TRUE(out.back().has(kRst));
    EXPECT_EQ(stack_.connection_count(), 0u);
    EXPECT_EQ(stack_.counters().connections_destroyed, 1u);
}

TEST_F(MmdsStackTest, AResponseOverTheBoundGetsAReset) {
    responder_.body_bytes = TcpConnection::kMaxResponseBytes + 1;
    const uint32_t our = connect();
    send(testing::tcp_frame(
        {.seq = 1001, .ack = our, .flags = kAck, .payload = "GET / HTTP/1.1\r\n\r\n"}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].has(kRst));
    EXPECT_EQ(stack_.connection_count(), 0u);
}

TEST_F(MmdsStackTest, ThirtyConnectionsThenResetsUntilOneIsIdleLongEnough) {
    for (uint16_t i = 0; i < MmdsStack::kMaxConnections; ++i)
        connect(static_cast<uint16_t>(1000 + i));
    EXPECT_EQ(stack_.connection_count(), 30u);
    send(testing::tcp_frame({.src_port = 2000, .seq = 5, .flags = kSyn}));
    auto refused = drain_tcp();
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].flags, kRst | kAck);
    EXPECT_EQ(refused[0].ack, 6u);
    EXPECT_EQ(stack_.connection_count(), 30u);
    // Ten idle seconds later the oldest may be evicted for a newcomer, and is told so.
    clock_.advance(std::chrono::seconds(11));
    send(testing::tcp_frame({.src_port = 2000, .seq = 5, .flags = kSyn}));
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(out[0].has(kRst));
    EXPECT_EQ(out[0].dst_port, 1000);
    EXPECT_EQ(out[1].flags, kSyn | kAck);
    EXPECT_EQ(out[1].dst_port, 2000);
    EXPECT_EQ(stack_.connection_count(), 30u);
}

TEST_F(MmdsStackTest, StraySegmentsGetResetsUpToTheQueueBound) {
    for (uint32_t i = 0; i < 150; ++i) {
        send(testing::tcp_frame({.src_port = 3000, .seq = i, .ack = 9, .flags = kAck}));
    }
    send(testing::tcp_frame({.src_port = 3000, .seq = 1, .flags = kRst}));  // Never answered.
    EXPECT_EQ(stack_.pending_resets(), MmdsStack::kMaxPendingResets);
    auto out = drain_tcp();
    ASSERT_EQ(out.size(), MmdsStack::kMaxPendingResets);
    EXPECT_EQ(out[0].flags, kRst);
    EXPECT_EQ(out[0].seq, 9u);
}

TEST_F(MmdsStackTest, AGuestResetClosesTheConnection) {
    connect();
    send(testing::tcp_frame({.seq = 5, .flags = kRst}));  // Out of window: ignored.
    EXPECT_EQ(stack_.connection_count(), 1u);
    send(testing::tcp_frame({.seq = 1001, .flags = kRst}));
    EXPECT_EQ(stack_.connection_count(), 0u);
    EXPECT_TRUE(drain().empty());
}

TEST_F(MmdsStackTest, MalformedFramesAreCountedAndDropped) {
    auto corrupt = [](auto edit) {
        Bytes f = testing::tcp_frame({.flags = kSyn});
        edit(f);
        return f;
    };
    send(corrupt([](Bytes& f) { f[14] = 0x65; }));                // Version 6.
    send(corrupt([](Bytes& f) { f[14] = 0x46; }));                // IHL 6: options.
    send(corrupt([](Bytes& f) { testing::put16(f, 16, 400); }));  // Longer than the frame.
    send(corrupt([](Bytes& f) { f[22] = 1; }));                   // TTL changed: bad checksum.
    send(corrupt([](Bytes& f) {
        testing::put16(f, 20, 0x2000);  // More fragments.
        testing::put16(f, 24, 0);
        testing::put16(f, 24, testing::inet_checksum(f, 14, 34));
    }));
    EXPECT_EQ(stack_.counters().rx_bad_eth, 5u);
    send(corrupt([](Bytes& f) { f[46] = 0x10; }));  // TCP data offset 4.
    send(testing::tcp_frame({.dst_port = 8080, .flags = kSyn}));
    EXPECT_EQ(stack_.counters().rx_accepted_err, 2u);
    send(testing::tcp_frame({.flags = kSyn, .protocol = 17}));  // UDP.
    EXPECT_EQ(stack_.counters().rx_accepted_unusual, 1u);
    // A bad MSS option (length past the header).
    send(corrupt([](Bytes& f) {
        f[46] = 0x60;
        f.insert(f.end(), {2, 9, 0, 0});
        testing::put16(f, 16, static_cast<uint16_t>(f.size() - 14));
        testing::put16(f, 24, 0);
        testing::put16(f, 24, testing::inet_checksum(f, 14, 34));
    }));
    EXPECT_EQ(stack_.counters().rx_accepted_err, 3u);
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(stack_.connection_count(), 0u);
    EXPECT_EQ(stack_.counters().rx_accepted, 9u);
}

TEST_F(MmdsStackTest, EthernetPaddingAfterThePacketIsIgnored) {
    Bytes f = testing::tcp_frame({.seq = 1, .flags = kSyn});
    f.resize(80, 0);
    send(f);
    EXPECT_EQ(drain_tcp().size(), 1u);
}

TEST_F(MmdsStackTest, ClearForgetsEverything) {
    connect();
    send(testing::arp_request());
    stack_.clear();
    EXPECT_EQ(stack_.connection_count(), 0u);
    EXPECT_TRUE(drain().empty());
}

}  // namespace
}  // namespace ember::virtio::mmds_net
