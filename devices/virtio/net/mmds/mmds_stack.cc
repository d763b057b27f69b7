#include "devices/virtio/net/mmds/mmds_stack.h"

#include <algorithm>

#include "devices/virtio/net/mmds/arp.h"
#include "devices/virtio/net/mmds/ipv4.h"

namespace ember::virtio::mmds_net {
namespace {

constexpr size_t kIpTcpHeaderBytes = kIpv4HeaderBytes + kTcpHeaderBytes;
// Room a frame needs besides its TCP payload: Ethernet, IPv4, TCP and the MSS option.
constexpr size_t kFrameOverheadBytes =
    kEthernetHeaderBytes + kIpTcpHeaderBytes + kTcpMssOptionBytes;

}  // namespace

MmdsStack::MmdsStack(const Ipv4Address& ipv4, ember::mmds::Responder& responder, const Clock& clock,
                     uint16_t mtu)
    : ipv4_(ipv4),
      responder_(responder),
      clock_(clock),
      local_mss_(static_cast<uint16_t>(std::max<size_t>(mtu, 576) - kIpTcpHeaderBytes)),
      next_iss_(static_cast<uint32_t>(clock.now_ns() >> 10)) {}

void MmdsStack::clear() {
    for (TcpConnection& connection : connections_) {
        if (connection.in_use()) close(connection);
    }
    resets_len_ = 0;
    arp_reply_pending_ = false;
}

size_t MmdsStack::connection_count() const {
    return static_cast<size_t>(std::count_if(connections_.begin(), connections_.end(),
                                             [](const TcpConnection& c) { return c.in_use(); }));
}

size_t MmdsStack::max_buffered_bytes() const {
    size_t most = 0;
    for (const TcpConnection& c : connections_) {
        most = std::max({most, c.request_bytes(), c.response_bytes()});
    }
    return most;
}

void MmdsStack::receive_frame(std::span<const uint8_t> frame) {
    ++counters_.rx_accepted;
    const std::optional<EthernetFrame> eth = parse_ethernet(frame);
    if (!eth) {
        ++counters_.rx_bad_eth;
        return;
    }
    if (eth->ethertype == kEtherTypeArp) {
        receive_arp(*eth);
    } else if (eth->ethertype == kEtherTypeIpv4) {
        receive_ipv4(*eth);
    } else {
        ++counters_.rx_bad_eth;
    }
}

void MmdsStack::receive_arp(const EthernetFrame& eth) {
    const std::optional<ArpPacket> arp = parse_arp(eth.payload);
    if (!arp) {
        ++counters_.rx_bad_eth;
        return;
    }
    if (arp->operation != kArpRequest || arp->target_ip != ipv4_) {
        ++counters_.rx_accepted_unusual;
        return;
    }
    // One reply slot, as Firecracker's: the latest request is the one answered.
    guest_mac_ = arp->sender_mac;
    arp_requester_ = arp->sender_ip;
    arp_reply_pending_ = true;
}

void MmdsStack::receive_ipv4(const EthernetFrame& eth) {
    const Ipv4Parse parsed = parse_ipv4(eth.payload);
    if (!parsed.packet || parsed.packet->dst != ipv4_) {
        ++counters_.rx_bad_eth;
        return;
    }
    if (parsed.packet->protocol != kIpProtocolTcp) {
        ++counters_.rx_accepted_unusual;
        return;
    }
    const std::optional<TcpSegment> segment = parse_tcp(parsed.packet->payload);
    if (!segment || segment->dst_port != kPort) {
        ++counters_.rx_accepted_err;
        return;
    }
    // Replies go to the MAC the guest sends from (one interface, one guest MAC).
    guest_mac_ = eth.src;
    ++counters_.rx_count;
    receive_tcp(parsed.packet->src, *segment);
}

void MmdsStack::receive_tcp(const Ipv4Address& src, const TcpSegment& segment) {
    for (TcpConnection& connection : connections_) {
        if (!connection.matches(src, segment.src_port)) continue;
        const TcpConnection::Received received =
            connection.receive(segment, responder_, clock_.now_ns());
        if (received == TcpConnection::Received::kUnusual) ++counters_.rx_accepted_unusual;
        if (connection.done()) close(connection);
        return;
    }
    if ((segment.flags & (kTcpSyn | kTcpAck | kTcpRst | kTcpFin)) == kTcpSyn) {
        open_connection(src, segment);
        return;
    }
    // RFC 9293 §3.10.7.1: a segment for no connection gets a RST, unless it is one.
    ++counters_.rx_accepted_unusual;
    if (!segment.has(kTcpRst)) queue_reset(src, segment);
}

void MmdsStack::open_connection(const Ipv4Address& src, const TcpSegment& syn) {
    const uint64_t now = clock_.now_ns();
    TcpConnection* slot = nullptr;
    for (TcpConnection& connection : connections_) {
        if (!connection.in_use()) {
            slot = &connection;
            break;
        }
    }
    if (!slot) {
        for (TcpConnection& connection : connections_) {
            if (connection.evictable(now)) {
                slot = &connection;
                break;
            }
        }
        if (!slot) {
            // Full of live connections: refuse this one (Firecracker's NewConnectionDropped).
            ++counters_.rx_accepted_unusual;
            queue_reset(src, syn);
            return;
        }
        // The evicted connection is told (Firecracker's NewConnectionReplacing).
        queue_reset({slot->remote_ip(), slot->remote_port(), slot->snd_nxt(), slot->rcv_nxt(),
                     static_cast<uint8_t>(kTcpRst | kTcpAck)});
        close(*slot);
    }
    // Spread initial sequence numbers (RFC 9293 §3.4.1) so that a reused port meets another.
    next_iss_ += 64000 + static_cast<uint32_t>(now >> 12);
    slot->open(src, syn, next_iss_, local_mss_, now);
    ++counters_.connections_created;
}

void MmdsStack::close(TcpConnection& connection) {
    connection.release();
    ++counters_.connections_destroyed;
}

void MmdsStack::queue_reset(const Ipv4Address& ip, const TcpSegment& cause) {
    PendingReset reset{ip, cause.src_port, 0, 0, kTcpRst};
    if (cause.has(kTcpAck)) {
        reset.seq = cause.ack;
    } else {
        reset.ack = cause.seq + cause.seq_len();
        reset.flags |= kTcpAck;
    }
    queue_reset(reset);
}

void MmdsStack::queue_reset(const PendingReset& reset) {
    // A full queue forgoes the RST, as Firecracker's: the guest's own timeouts end the peer.
    if (resets_len_ == kMaxPendingResets) return;
    resets_[(resets_head_ + resets_len_) % kMaxPendingResets] = reset;
    ++resets_len_;
}

size_t MmdsStack::write_next_frame(std::span<uint8_t> out) {
    if (out.size() < kFrameOverheadBytes) {
        ++counters_.tx_errors;
        return 0;
    }
    size_t len = 0;
    if (arp_reply_pending_) {
        arp_reply_pending_ = false;
        len = write_arp_reply(out);
    } else if (resets_len_ > 0) {
        const PendingReset& r = resets_[resets_head_];
        resets_head_ = (resets_head_ + 1) % kMaxPendingResets;
        --resets_len_;
        len = write_segment(
            out, r.ip,
            {.src_port = kPort, .dst_port = r.port, .seq = r.seq, .ack = r.ack, .flags = r.flags});
    } else {
        const uint64_t now = clock_.now_ns();
        // Round-robin, so that one long response does not hold back the other connections.
        for (size_t i = 0; i < kMaxConnections && len == 0; ++i) {
            TcpConnection& connection = connections_[(next_to_send_ + i) % kMaxConnections];
            if (!connection.in_use()) continue;
            std::optional<TcpSegmentOut> segment = connection.next_segment(now);
            if (segment) {
                // The payload is at most one MSS, which the MTU bounds; `out` holds a full frame.
                const size_t room = out.size() - kFrameOverheadBytes;
                if (segment->payload.size() > room) segment->payload = segment->payload.first(room);
                segment->src_port = kPort;
                len = write_segment(out, connection.remote_ip(), *segment);
                next_to_send_ = (next_to_send_ + i + 1) % kMaxConnections;
            }
            if (connection.done()) close(connection);
        }
    }
    if (len > 0) ++counters_.tx_count;
    return len;
}

size_t MmdsStack::write_arp_reply(std::span<uint8_t> out) {
    const size_t header = write_ethernet_header(out, guest_mac_, kMac, kEtherTypeArp);
    const ArpPacket reply{.operation = kArpReply,
                          .sender_mac = kMac,
                          .sender_ip = ipv4_,
                          .target_mac = guest_mac_,
                          .target_ip = arp_requester_};
    return header + write_arp(out.subspan(header), reply);
}

size_t MmdsStack::write_segment(std::span<uint8_t> out, const Ipv4Address& dst,
                                const TcpSegmentOut& segment) {
    const size_t eth = write_ethernet_header(out, guest_mac_, kMac, kEtherTypeIpv4);
    const size_t tcp = write_tcp(out.subspan(eth + kIpv4HeaderBytes), segment, ipv4_, dst);
    write_ipv4_header(out.subspan(eth), ipv4_, dst, kIpProtocolTcp, tcp);
    return eth + kIpv4HeaderBytes + tcp;
}

}  // namespace ember::virtio::mmds_net
