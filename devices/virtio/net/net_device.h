// NetDevice: virtio-net (virtio 1.2 §5.1) over a TAP interface, as Firecracker's: an RX and a TX
// queue of 256, the 12-byte virtio_net_hdr_v1 passed through to the tap, merged RX buffers, and
// rate limiters on both directions.
// Event sources (all on the vmm thread, with the transport's bus mutex held), besides the queue
// notifications (process_queue(0): new RX buffers, resume deferred RX; process_queue(1): TX):
//   tap_fd(), EPOLLIN | EPOLLET      -> process_tap_rx()
//   rx_rate_limiter_fd()             -> process_rx_rate_limiter_event()
//   tx_rate_limiter_fd()             -> process_tx_rate_limiter_event()
// The tap is edge-triggered: the device reads until EAGAIN, and when it must stop early (no RX
// buffers, throttled) it remembers the tap is readable and resumes on the RX queue or timer event.
// MMDS (options.mmds with a responder): a TX frame that is ARP for, or IPv4 to, the MMDS address
// goes to the device's MmdsStack instead of the tap, without spending TX rate-limiter tokens; the
// stack's frames reach the guest before the tap's, through the RX path and its rate limiter, as
// in Firecracker's device.rs. A TX that fed the stack runs RX at once, so that the answer does not
// wait for a tap event.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/rate_limiter.h"
#include "devices/virtio/descriptor_chain.h"
#include "devices/virtio/net/mmds/mmds_stack.h"
#include "devices/virtio/net/tap.h"
#include "devices/virtio/virtio_device.h"
#include "vmm/base/log.h"
#include "vmm/mmds/responder.h"

namespace ember::virtio {

using MacAddress = std::array<uint8_t, 6>;

// The MMDS endpoint an interface answers (when PUT /mmds/config names it): frames to `ipv4` are
// handled by the device's MMDS stack and never reach the tap.
struct NetMmdsOptions {
    mmds::Responder* responder = nullptr;  // Outlives the device.
    std::array<uint8_t, 4> ipv4{169, 254, 169, 254};
};

struct NetDeviceOptions {
    std::string iface_id;
    std::optional<MacAddress> guest_mac;
    std::optional<uint16_t> mtu;
    TokenBucketParams rx_bandwidth;  // Size 0: no limit.
    TokenBucketParams rx_ops;
    TokenBucketParams tx_bandwidth;
    TokenBucketParams tx_ops;
    const Clock* clock = nullptr;  // Null: the steady clock.
    std::optional<NetMmdsOptions> mmds;
};

// Firecracker's net metrics.
struct NetCounters {
    uint64_t activate_fails = 0;
    uint64_t cfg_fails = 0;
    uint64_t mac_address_updates = 0;
    uint64_t no_rx_avail_buffer = 0;
    uint64_t no_tx_avail_buffer = 0;
    uint64_t event_fails = 0;
    uint64_t rx_queue_event_count = 0;
    uint64_t rx_event_rate_limiter_count = 0;
    uint64_t rx_tap_event_count = 0;
    uint64_t rx_bytes_count = 0;
    uint64_t rx_packets_count = 0;
    uint64_t rx_fails = 0;
    uint64_t rx_count = 0;
    uint64_t rx_rate_limiter_throttled = 0;
    uint64_t tx_bytes_count = 0;
    uint64_t tx_malformed_frames = 0;
    uint64_t tx_fails = 0;
    uint64_t tx_count = 0;
    uint64_t tx_packets_count = 0;
    uint64_t tx_queue_event_count = 0;
    uint64_t tx_rate_limiter_event_count = 0;
    uint64_t tx_rate_limiter_throttled = 0;
};

// The net device's snapshot state beside MmioTransportState. The tap is not in it: the restoring
// caller opens one again (network_overrides may name another), and the transport's re-activation
// applies the negotiated offloads to it.
struct NetDeviceState {
    uint64_t device_features = 0;  // Offered: the restored device's options must offer the same.
    MacAddress mac{};  // The configuration space's MAC (the driver may have written it).
    uint16_t mtu = 0;
    uint32_t tap_offload = 0;  // TUN_F_* from the acked GUEST_* features, for inspection.
    // Tokens left, so that a restore does not refill the buckets.
    RateLimiterState rx_rate_limiter;
    RateLimiterState tx_rate_limiter;
    bool operator==(const NetDeviceState&) const = default;
};

class NetDevice final : public VirtioDevice {
public:
    static constexpr uint16_t kQueueSize = 256;
    static constexpr uint32_t kRxQueue = 0;
    static constexpr uint32_t kTxQueue = 1;
    // virtio_net_hdr_v1 plus the largest frame a TSO/UFO tap hands over (Firecracker's 65562).
    static constexpr size_t kMaxFrameBytes = Tap::kVnetHeaderBytes + 65550;
    // A guest frame to MMDS: headers and at most the stack's 8 KiB receive window (a GSO frame
    // never exceeds the window); a longer one is cut and fails the IPv4 length check.
    static constexpr size_t kMaxMmdsFrameBytes = 16 << 10;

    static Result<std::unique_ptr<NetDevice>> create(const NetDeviceOptions& options, Tap tap);

    uint32_t device_type() const override { return kDeviceIdNet; }
    std::string_view id() const override { return options_.iface_id; }
    uint64_t device_features() const override;
    void read_config(uint64_t offset, std::span<uint8_t> data) const override;
    void write_config(uint64_t offset, std::span<const uint8_t> data) override;
    Result<void> activate(const GuestMemory& memory, VirtioInterrupt& interrupt) override;
    void reset() override;
    void process_queue(uint32_t index) override;
    std::vector<EventSource> event_sources() override;

    void process_tap_rx();
    void process_rx_rate_limiter_event();
    void process_tx_rate_limiter_event();
    int tap_fd() const { return tap_.fd(); }
    int rx_rate_limiter_fd() const { return rx_limiter_.timer_fd(); }
    int tx_rate_limiter_fd() const { return tx_limiter_.timer_fd(); }

    // PATCH /network-interfaces.
    void update_rate_limiters(const BucketUpdate& rx_bandwidth, const BucketUpdate& rx_ops,
                              const BucketUpdate& tx_bandwidth, const BucketUpdate& tx_ops);

    const std::string& iface_id() const { return options_.iface_id; }
    const NetCounters& counters() const { return counters_; }
    const RateLimiter& rx_rate_limiter() const { return rx_limiter_; }
    const RateLimiter& tx_rate_limiter() const { return tx_limiter_; }
    // A received frame waits for guest buffers or tokens.
    bool rx_deferred() const { return rx_pending_; }
    // The MMDS stack's counters (Firecracker's global "mmds" group: the VMM sums the devices');
    // null when the interface does not serve MMDS.
    const mmds_net::MmdsCounters* mmds_counters() const {
        return mmds_ ? &mmds_->counters() : nullptr;
    }
    const mmds_net::MmdsStack* mmds_stack() const { return mmds_.get(); }

    // Before save_state() and the transport's: gives the RX chains popped for direct reads but
    // not filled back to the available ring, so that the saved next_avail counts only used ones.
    void quiesce() { release_rx_chains(); }
    // RX chains popped ahead for direct reads and not yet filled (tests).
    size_t rx_chains_held() const { return rx_held_count_; }

    // A frame read from the tap but not yet delivered is not saved: the network may drop it.
    // Nor is the MMDS stack: its connections are reset after a restore, as in Firecracker.
    NetDeviceState save_state() const;
    // Into a device just created from the snapshot's options and a tap, before the transport's
    // restore_state(): refuses different offered features or MTU, and clamps the rate limiters'
    // state to their configuration.
    Result<void> restore_state(const NetDeviceState& state);

private:
    NetDevice(NetDeviceOptions options, Tap tap, RateLimiter rx, RateLimiter tx);

    enum class Delivery { kDelivered, kNoBuffers, kDropped };
    void process_rx();
    Delivery deliver_frame();
    // Direct RX: the tap's next frame read (readv) straight into the guest's RX chains, without
    // the copy through rx_frame_. kDone: a frame was taken (delivered, or counted as failed);
    // kUseCopy: this one takes the copy path, as the chains on hand cannot hold the largest frame
    // or a byte rate limit needs its size before the read.
    enum class DirectRx { kDone, kNoFrame, kUseCopy };
    DirectRx receive_direct();
    // Pops RX chains into rx_held_ until they can take kMaxFrameBytes; false if they cannot.
    bool hold_rx_chains();
    // Gives every held chain back to the available ring (they are the last ones popped).
    void release_rx_chains();
    void process_tx();
    // True when the chain's frame was for MMDS and the stack took it.
    bool divert_to_mmds(const DescriptorChain& chain);
    // Fill rx_frame_ from the MMDS stack, or from the tap; false when it has no frame.
    bool fetch_mmds_frame();
    bool fetch_tap_frame();
    void signal_used_if_needed(uint32_t queue);
    void fail_queue(const char* what, const Error& error);
    // TUN_F_* flags for the GUEST_* offloads the driver accepted.
    unsigned tap_offload() const;

    NetDeviceOptions options_;
    MacAddress mac_{};
    Tap tap_;
    RateLimiter rx_limiter_;
    RateLimiter tx_limiter_;
    const GuestMemory* memory_ = nullptr;
    VirtioInterrupt* interrupt_ = nullptr;

    // kMaxFrameBytes for a frame read from the tap or the MMDS stack: only MMDS and guests without
    // mergeable buffers come through it, so it stays untouched (and out of RSS) until they do.
    std::unique_ptr<uint8_t[]> rx_frame_;
    size_t rx_frame_len_ = 0;
    bool rx_pending_ = false;       // rx_frame_ holds a frame not yet given to the guest.
    bool rx_tokens_taken_ = false;  // Its rate-limiter tokens are already consumed.
    bool tap_readable_ = false;     // Edge-triggered: the tap may hold more frames.
    // Reused per frame, sized once for the largest queue, so that no frame allocates.
    std::vector<iovec> tx_iov_;
    struct RxUsed {
        uint16_t head;
        uint32_t len;
    };
    std::vector<RxUsed> rx_used_;  // The chains one RX frame fills (several with MRG_RXBUF).
    // Direct RX: chains popped ahead, oldest first, in a ring of kMaxHeldChains slots (48 chains
    // of the 1.5 KiB a Linux driver posts at least hold a 64 KiB GSO frame), and the iovecs over
    // their writable buffers for one readv.
    static constexpr size_t kMaxHeldChains = 48;
    std::vector<std::optional<DescriptorChain>> rx_held_;
    size_t rx_held_first_ = 0;
    size_t rx_held_count_ = 0;
    uint64_t rx_held_bytes_ = 0;
    std::vector<iovec> rx_iov_;
    std::unique_ptr<mmds_net::MmdsStack> mmds_;
    std::vector<uint8_t> mmds_frame_;  // kMaxMmdsFrameBytes: a TX frame for the stack, gathered.
    bool rx_frame_is_mmds_ = false;    // rx_frame_ came from the stack.

    NetCounters counters_;
    log::LineLimiter log_limiter_;
};

}  // namespace ember::virtio
