// TcpConnection: one passive-open TCP connection (RFC 9293) of the MMDS stack, modelled on
// Firecracker's dumbo Connection and Endpoint: it accepts in-order data only, hands the bytes to
// the mmds::Responder, and sends the response as the guest's window and ACKs allow.
// Owned by MmdsStack, on the vmm thread. Its buffers are fixed at construction; a request over
// Responder::kMaxRequestBytes or a response over kMaxResponseBytes resets the connection.
//
// Retransmission: a segment is "sent" when the net device copies it into a guest RX buffer, which
// cannot lose it. When the guest has no RX buffers the device does not ask for the next segment
// at all: the one frame it holds waits for buffers and nothing else is generated, so no timer is
// needed to recover from a full RX queue. Only a drop inside the guest's own stack loses data;
// for that the connection goes back to the first unacknowledged byte on three duplicate ACKs or,
// as Firecracker does, when the device next asks for output and kRtoNs has passed without
// progress. After kMaxRetransmissions rounds without progress it resets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "devices/virtio/net/mmds/net_bytes.h"
#include "devices/virtio/net/mmds/tcp_segment.h"
#include "vmm/mmds/responder.h"

namespace ember::virtio::mmds_net {

class TcpConnection {
public:
    static constexpr size_t kMaxRequestBytes = ember::mmds::Responder::kMaxRequestBytes;
    // One response (headers and body) the stack will hold for a connection.
    static constexpr size_t kMaxResponseBytes = 1 << 20;
    static constexpr uint64_t kRtoNs = 500'000'000;
    static constexpr uint32_t kMaxRetransmissions = 15;
    // Firecracker's EVICTION_THRESHOLD is ~10 s of cycles; a half-open connection goes sooner.
    static constexpr uint64_t kEvictIdleNs = 10'000'000'000;
    static constexpr uint64_t kEvictHalfOpenNs = 2'000'000'000;

    // What a received segment did, for the stack's counters.
    enum class Received { kAccepted, kUnusual, kClosed };

    TcpConnection();

    // Passive open from a SYN (RFC 9293 §3.10.7.2): the SYN-ACK is the first segment out.
    void open(const Ipv4Address& remote_ip, const TcpSegment& syn, uint32_t iss, uint16_t local_mss,
              uint64_t now_ns);
    Received receive(const TcpSegment& segment, ember::mmds::Responder& responder, uint64_t now_ns);
    // The next segment to send, if any, without its source port (its payload points into the
    // response buffer, valid until the next call).
    std::optional<TcpSegmentOut> next_segment(uint64_t now_ns);
    // Sends a RST next and closes.
    void reset();

    bool in_use() const { return state_ != State::kFree; }
    void release();  // Frees the slot, keeping its buffers.
    // RST sent or received, or both FINs exchanged and acknowledged.
    bool done() const;
    bool evictable(uint64_t now_ns) const;
    bool matches(const Ipv4Address& ip, uint16_t port) const {
        return in_use() && remote_port_ == port && remote_ip_ == ip;
    }
    const Ipv4Address& remote_ip() const { return remote_ip_; }
    uint16_t remote_port() const { return remote_port_; }
    uint32_t snd_nxt() const { return snd_nxt_; }
    uint32_t rcv_nxt() const { return rcv_nxt_; }
    size_t request_bytes() const { return request_len_; }
    size_t response_bytes() const { return response_.size(); }

private:
    enum class State : uint8_t { kFree, kSynReceived, kEstablished, kClosed };

    uint16_t window() const { return static_cast<uint16_t>(kMaxRequestBytes - request_len_); }
    uint32_t data_end() const { return data_seq_ + static_cast<uint32_t>(response_.size()); }
    void take_ack(const TcpSegment& segment, uint64_t now_ns);
    Received take_data(const TcpSegment& segment);
    void serve(ember::mmds::Responder& responder);
    void rewind();
    TcpSegmentOut segment(uint8_t flags, uint32_t seq) const;

    State state_ = State::kFree;
    Ipv4Address remote_ip_{};
    uint16_t remote_port_ = 0;
    uint16_t mss_ = kTcpDefaultMss;        // What one segment to the guest may carry.
    uint16_t local_mss_ = kTcpDefaultMss;  // What we offer in our SYN-ACK.

    uint32_t irs_ = 0;      // The guest's initial sequence number.
    uint32_t rcv_nxt_ = 0;  // Next byte expected from the guest.
    uint32_t iss_ = 0;
    uint32_t snd_una_ = 0;   // Oldest byte the guest has not acknowledged.
    uint32_t snd_nxt_ = 0;   // Next byte to send.
    uint32_t snd_wnd_ = 0;   // The guest's window, from snd_una_ (no window scaling is offered).
    uint32_t data_seq_ = 0;  // Sequence number of response_[0].

    bool ack_pending_ = false;
    bool rst_pending_ = false;
    bool fin_received_ = false;
    bool fin_queued_ = false;  // Our FIN follows the response (Reply::close or the guest's FIN).
    uint8_t dup_acks_ = 0;
    uint32_t retransmissions_ = 0;
    uint64_t opened_ns_ = 0;
    uint64_t last_rx_ns_ = 0;
    uint64_t last_progress_ns_ = 0;

    std::unique_ptr<uint8_t[]> request_;  // kMaxRequestBytes.
    size_t request_len_ = 0;
    std::string response_;  // The bytes from data_seq_ not yet acknowledged.
};

}  // namespace ember::virtio::mmds_net
