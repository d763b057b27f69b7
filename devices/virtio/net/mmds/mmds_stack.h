// MmdsStack: the guest side of MMDS inside one virtio-net device. Frames the guest sends to the
// MMDS address (ARP for it, IPv4 to it) come here instead of the tap; the stack answers ARP with
// its fixed MAC and serves TCP port 80, handing each connection's bytes to an mmds::Responder.
// It produces its frames on demand: the device asks for the next one whenever it has room for a
// frame to the guest, before reading the tap.
//
// Why home-made: a small stack modelled on Firecracker's own "dumbo" (src/vmm/src/dumbo/:
// pdu/{ethernet,arp,ipv4,tcp}.rs, tcp/{connection,endpoint,handler}.rs) rather than Debian's
// liblwip-dev, because lwIP keeps global state, runs its own timers and pbuf pools, and is a full
// client/server stack where MMDS needs only a passive responder. This one is a few hundred lines,
// owned per device, and steps only when a frame arrives or the device wants one.
//
// Bounds (a guest cannot exhaust the VMM's memory or time through it):
//   memory   kMaxConnections x (Responder::kMaxRequestBytes + kMaxResponseBytes) at most
//            (30 x (8 KiB + 1 MiB)), plus a fixed table of kMaxPendingResets RSTs; the request
//            buffers are allocated once with the stack, nothing is allocated per frame (the
//            response buffer grows per response, not per frame, and is given back past 64 KiB).
//   time     per received frame, one pass over the headers, a lookup among 30 connections and
//            one copy of the payload (at most the 8 KiB window); per frame sent, one copy of at
//            most one MSS and its checksum. Each Responder call gets at most 8 KiB.
//   frames   each connection has at most one window of the guest's choosing in flight and the
//            stack sends only when asked, so output waits in state, never in a growing queue.
// Idle connections (10 s) and half-open ones (2 s) are evicted when a new SYN finds the table
// full, as Firecracker's handler does, so a guest cannot pin the slots and starve itself.
// Connections are not saved in snapshots: after a restore the guest's segments meet an empty
// table and get RSTs, as with Firecracker.
// Thread: the vmm thread, with the net device's transport lock held.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>

#include "devices/rate_limiter.h"
#include "devices/virtio/net/mmds/ethernet_frame.h"
#include "devices/virtio/net/mmds/mmds_counters.h"
#include "devices/virtio/net/mmds/tcp_connection.h"
#include "vmm/mmds/responder.h"

namespace ember::virtio::mmds_net {

class MmdsStack {
public:
    // Firecracker's mmds/ns.rs values.
    static constexpr MacBytes kMac{0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
    static constexpr uint16_t kPort = 80;
    static constexpr size_t kMaxConnections = 30;
    static constexpr size_t kMaxPendingResets = 100;

    // `mtu` bounds the segments sent to the guest (its MSS option may lower it further).
    MmdsStack(const Ipv4Address& ipv4, ember::mmds::Responder& responder, const Clock& clock,
              uint16_t mtu);

    // The per-frame test on the guest's TX path: an ARP whose target is the MMDS address or an
    // IPv4 packet to it. Reads at most the first 42 bytes of `frame` (from the Ethernet header).
    static bool is_mmds_frame(std::span<const uint8_t> frame, const Ipv4Address& ipv4) {
        if (frame.size() < kEthernetHeaderBytes + 20) return false;
        const uint8_t* p = frame.data();
        if (p[12] == 0x08 && p[13] == 0x00) {
            return std::equal(ipv4.begin(), ipv4.end(), p + kEthernetHeaderBytes + 16);
        }
        if (p[12] == 0x08 && p[13] == 0x06 && frame.size() >= kEthernetHeaderBytes + 28) {
            return std::equal(ipv4.begin(), ipv4.end(), p + kEthernetHeaderBytes + 24);
        }
        return false;
    }

    // A frame (no virtio-net header) that is_mmds_frame() chose.
    void receive_frame(std::span<const uint8_t> frame);
    // Writes the next frame for the guest at the start of `out`; returns its length, 0 when there
    // is nothing to send.
    size_t write_next_frame(std::span<uint8_t> out);
    // Counts a frame the device gave the guest (tx_frames, tx_bytes).
    void count_delivered(size_t bytes) {
        ++counters_.tx_frames;
        counters_.tx_bytes += bytes;
    }
    // Forgets every connection, RST and ARP request (device reset).
    void clear();

    const MmdsCounters& counters() const { return counters_; }
    size_t connection_count() const;
    size_t pending_resets() const { return resets_len_; }
    // The largest request and response buffers any connection holds.
    size_t max_buffered_bytes() const;

private:
    struct PendingReset {
        Ipv4Address ip{};
        uint16_t port = 0;
        uint32_t seq = 0;
        uint32_t ack = 0;
        uint8_t flags = 0;
    };

    void receive_arp(const EthernetFrame& eth);
    void receive_ipv4(const EthernetFrame& eth);
    void receive_tcp(const Ipv4Address& src, const TcpSegment& segment);
    void open_connection(const Ipv4Address& src, const TcpSegment& syn);
    void queue_reset(const Ipv4Address& ip, const TcpSegment& cause);
    void queue_reset(const PendingReset& reset);
    void close(TcpConnection& connection);
    size_t write_arp_reply(std::span<uint8_t> out);
    size_t write_segment(std::span<uint8_t> out, const Ipv4Address& dst,
                         const TcpSegmentOut& segment);

    Ipv4Address ipv4_;
    ember::mmds::Responder& responder_;
    const Clock& clock_;
    uint16_t local_mss_;
    MacBytes guest_mac_{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};  // Learned from its frames.
    bool arp_reply_pending_ = false;
    Ipv4Address arp_requester_{};
    uint32_t next_iss_ = 0;
    size_t next_to_send_ = 0;  // Round-robin start among the connections.

    std::array<TcpConnection, kMaxConnections> connections_;
    std::array<PendingReset, kMaxPendingResets> resets_{};
    size_t resets_head_ = 0;
    size_t resets_len_ = 0;
    MmdsCounters counters_;
};

}  // namespace ember::virtio::mmds_net
