#include "devices/virtio/net/mmds/tcp_connection.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace ember::virtio::mmds_net {
namespace {

// A response buffer that grew past this is given back when its connection ends, so that one
// large answer does not keep its memory for the VM's lifetime.
constexpr size_t kKeptResponseCapacity = 64 << 10;
constexpr uint8_t kDupAckThreshold = 3;  // RFC 5681 §3.2.
constexpr uint16_t kMinMss = 48;

}  // namespace

TcpConnection::TcpConnection()
    : request_(std::make_unique_for_overwrite<uint8_t[]>(kMaxRequestBytes)) {}

void TcpConnection::open(const Ipv4Address& remote_ip, const TcpSegment& syn, uint32_t iss,
                         uint16_t local_mss, uint64_t now_ns) {
    state_ = State::kSynReceived;
    remote_ip_ = remote_ip;
    remote_port_ = syn.src_port;
    // RFC 9293 §3.7.1: the guest's MSS option bounds what we send; without one, 536. A tiny MSS
    // is raised to Linux's tcp_min_snd_mss (48), so that a guest cannot have us cut a response
    // into one frame per byte.
    mss_ = std::max(kMinMss, std::min(syn.mss.value_or(kTcpDefaultMss), local_mss));
    local_mss_ = local_mss;
    irs_ = syn.seq;
    rcv_nxt_ = syn.seq + 1;
    iss_ = iss;
    snd_una_ = iss;
    snd_nxt_ = iss;
    snd_wnd_ = syn.window;
    data_seq_ = iss + 1;
    ack_pending_ = false;
    rst_pending_ = false;
    fin_received_ = false;
    fin_queued_ = false;
    dup_acks_ = 0;
    retransmissions_ = 0;
    opened_ns_ = now_ns;
    last_rx_ns_ = now_ns;
    last_progress_ns_ = now_ns;
    request_len_ = 0;
    response_.clear();
}

void TcpConnection::release() {
    state_ = State::kFree;
    request_len_ = 0;
    response_.clear();
    if (response_.capacity() > kKeptResponseCapacity) std::string().swap(response_);
}

void TcpConnection::reset() {
    if (state_ == State::kFree || state_ == State::kClosed) return;
    rst_pending_ = true;
}

bool TcpConnection::done() const {
    if (state_ == State::kClosed) return true;
    // Both FINs acknowledged and our ACK of the guest's FIN sent: nothing left to say.
    return fin_received_ && fin_queued_ && snd_una_ == data_end() + 1 && !ack_pending_ &&
           !rst_pending_;
}

bool TcpConnection::evictable(uint64_t now_ns) const {
    const uint64_t idle = now_ns - last_rx_ns_;
    return state_ == State::kSynReceived ? idle > kEvictHalfOpenNs : idle > kEvictIdleNs;
}

TcpConnection::Received TcpConnection::receive(const TcpSegment& segment,
                                               ember::mmds::Responder& responder, uint64_t now_ns) {
    if (state_ == State::kClosed || rst_pending_) return Received::kUnusual;
    last_rx_ns_ = now_ns;
    if (segment.has(kTcpRst)) {
        // RFC 5961 §3.2: only a RST at the expected sequence number closes the connection.
        if (segment.seq != rcv_nxt_) return Received::kUnusual;
        state_ = State::kClosed;
        return Received::kClosed;
    }
    if (segment.has(kTcpSyn)) {
        // The guest did not get our SYN-ACK and sent its SYN again: answer it again. Any other
        // SYN gets a challenge ACK (RFC 5961 §4.2).
        if (state_ == State::kSynReceived && segment.seq == irs_) {
            snd_nxt_ = iss_;
        } else {
            ack_pending_ = true;
        }
        return Received::kUnusual;
    }
    if (!segment.has(kTcpAck)) return Received::kUnusual;  // RFC 9293 §3.10.7.4, fifth.
    if (seq_before(snd_nxt_, segment.ack)) {
        // It acknowledges what was never sent: re-ACK and drop it.
        ack_pending_ = true;
        return Received::kUnusual;
    }
    take_ack(segment, now_ns);
    if (state_ == State::kSynReceived) return Received::kUnusual;  // The ACK did not cover SYN.
    const Received received = take_data(segment);
    serve(responder);
    return received;
}

void TcpConnection::take_ack(const TcpSegment& segment, uint64_t now_ns) {
    if (seq_before(snd_una_, segment.ack)) {
        snd_una_ = segment.ack;
        snd_wnd_ = segment.window;
        dup_acks_ = 0;
        retransmissions_ = 0;
        last_progress_ns_ = now_ns;
        if (state_ == State::kSynReceived) state_ = State::kEstablished;
        // Drop what the guest now has; the whole buffer once all of it is acknowledged.
        const uint32_t acked = snd_una_ - data_seq_;
        if (!seq_before(snd_una_, data_seq_) && acked >= response_.size() && !response_.empty()) {
            data_seq_ += static_cast<uint32_t>(response_.size());
            response_.clear();
        }
        return;
    }
    if (segment.ack != snd_una_) return;  // An old ACK: its window is stale too.
    const bool duplicate = segment.payload.empty() && !segment.has(kTcpFin) &&
                           segment.window == snd_wnd_ && snd_nxt_ != snd_una_;
    snd_wnd_ = segment.window;
    if (duplicate && ++dup_acks_ == kDupAckThreshold) {
        // The guest dropped a segment: send again from the first byte it lacks.
        rewind();
        dup_acks_ = 0;
    }
}

TcpConnection::Received TcpConnection::take_data(const TcpSegment& segment) {
    Received received = Received::kAccepted;
    const std::span<const uint8_t> payload = segment.payload;
    if (!payload.empty()) {
        const auto offset = static_cast<int32_t>(rcv_nxt_ - segment.seq);
        if (fin_received_ || offset < 0) {
            // Data after the guest's FIN, or out of order: dropped; the ACK says what we lack.
            ack_pending_ = true;
            return Received::kUnusual;
        }
        if (static_cast<size_t>(offset) < payload.size()) {
            // New bytes, possibly after a retransmitted prefix; what exceeds the window is
            // dropped and the guest sends it again when the window opens.
            const std::span<const uint8_t> fresh = payload.subspan(static_cast<size_t>(offset));
            const size_t n = std::min(fresh.size(), kMaxRequestBytes - request_len_);
            std::memcpy(request_.get() + request_len_, fresh.data(), n);
            request_len_ += n;
            rcv_nxt_ += static_cast<uint32_t>(n);
            if (n < fresh.size()) received = Received::kUnusual;
        }
        ack_pending_ = true;
    }
    if (segment.has(kTcpFin)) {
        const uint32_t fin_seq = segment.seq + static_cast<uint32_t>(payload.size());
        if (!fin_received_ && fin_seq == rcv_nxt_) {
            fin_received_ = true;
            ++rcv_nxt_;
        }
        ack_pending_ = true;
    }
    return received;
}

void TcpConnection::serve(ember::mmds::Responder& responder) {
    // One response at a time, as Firecracker's Endpoint: the next request waits until the guest
    // has acknowledged the whole of the previous response.
    if (state_ != State::kEstablished || rst_pending_ || fin_queued_ || !response_.empty()) {
        return;
    }
    if (request_len_ > 0) {
        const std::string_view received(reinterpret_cast<const char*>(request_.get()),
                                        request_len_);
        const std::optional<ember::mmds::Reply> reply = responder.respond(received, response_);
        if (reply) {
            const size_t consumed = std::min(reply->consumed, request_len_);
            std::memmove(request_.get(), request_.get() + consumed, request_len_ - consumed);
            request_len_ -= consumed;
            if (response_.size() > kMaxResponseBytes) {
                response_.clear();
                reset();
                return;
            }
            if (reply->close) fin_queued_ = true;
        } else if (request_len_ == kMaxRequestBytes) {
            // A full buffer and still no complete request: over the bound.
            reset();
            return;
        }
    }
    // The guest will send nothing more: close our side once the response is out.
    if (fin_received_ && response_.empty()) fin_queued_ = true;
}

void TcpConnection::rewind() {
    snd_nxt_ = snd_una_;
    ++retransmissions_;
}

TcpSegmentOut TcpConnection::segment(uint8_t flags, uint32_t seq) const {
    TcpSegmentOut out;
    out.dst_port = remote_port_;
    out.seq = seq;
    out.ack = rcv_nxt_;
    out.flags = static_cast<uint8_t>(flags | kTcpAck);
    out.window = window();
    return out;
}

std::optional<TcpSegmentOut> TcpConnection::next_segment(uint64_t now_ns) {
    if (state_ == State::kFree || state_ == State::kClosed) return std::nullopt;
    if (rst_pending_) {
        rst_pending_ = false;
        state_ = State::kClosed;
        return segment(kTcpRst, snd_nxt_);
    }
    if (snd_nxt_ != snd_una_ && now_ns - last_progress_ns_ > kRtoNs) {
        if (retransmissions_ >= kMaxRetransmissions) {
            state_ = State::kClosed;
            return segment(kTcpRst, snd_nxt_);
        }
        rewind();
        last_progress_ns_ = now_ns;
    }
    if (snd_nxt_ == iss_) {
        // SYN-ACK (again, after a rewind or a repeated SYN), with our MSS.
        TcpSegmentOut out = segment(kTcpSyn, iss_);
        out.mss = local_mss_;
        snd_nxt_ = iss_ + 1;
        ack_pending_ = false;
        return out;
    }
    if (state_ == State::kEstablished) {
        const uint32_t end = data_end();
        const uint32_t wnd_edge = snd_una_ + snd_wnd_;
        if (seq_before(snd_nxt_, end) && seq_before(snd_nxt_, wnd_edge)) {
            const uint32_t n = std::min({end - snd_nxt_, wnd_edge - snd_nxt_, uint32_t{mss_}});
            uint8_t flags = snd_nxt_ + n == end ? kTcpPsh : 0;
            if (fin_queued_ && snd_nxt_ + n == end) flags |= kTcpFin;
            TcpSegmentOut out = segment(flags, snd_nxt_);
            out.payload = std::span<const uint8_t>(
                reinterpret_cast<const uint8_t*>(response_.data()) + (snd_nxt_ - data_seq_), n);
            snd_nxt_ += n + ((flags & kTcpFin) ? 1 : 0);
            ack_pending_ = false;
            return out;
        }
        if (fin_queued_ && snd_nxt_ == end) {
            snd_nxt_ = end + 1;
            ack_pending_ = false;
            return segment(kTcpFin, end);
        }
    }
    if (ack_pending_) {
        ack_pending_ = false;
        return segment(0, snd_nxt_);
    }
    return std::nullopt;
}

}  // namespace ember::virtio::mmds_net
