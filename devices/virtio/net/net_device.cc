#include "devices/virtio/net/net_device.h"

#include <linux/if_tun.h>

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "devices/virtio/net/virtio_net_spec.h"

namespace ember::virtio {
namespace {

constexpr std::array<uint16_t, 2> kQueueSizes{NetDevice::kQueueSize, NetDevice::kQueueSize};
constexpr size_t kNumBuffersOffset = 10;  // virtio_net_hdr_v1.num_buffers.
constexpr size_t kMaxIov = 1024;          // UIO_MAXIOV: the most one readv takes.

struct NetConfig {
    uint8_t mac[6];
    uint16_t status;
    uint16_t max_virtqueue_pairs;
    uint16_t mtu;
} __attribute__((packed));

const Clock& clock_of(const NetDeviceOptions& options) {
    return options.clock ? *options.clock : SteadyClock::instance();
}

}  // namespace

Result<std::unique_ptr<NetDevice>> NetDevice::create(const NetDeviceOptions& options, Tap tap) {
    auto rx =
        EMBER_TRY(RateLimiter::create(options.rx_bandwidth, options.rx_ops, clock_of(options)));
    auto tx =
        EMBER_TRY(RateLimiter::create(options.tx_bandwidth, options.tx_ops, clock_of(options)));
    return std::unique_ptr<NetDevice>(
        new NetDevice(options, std::move(tap), std::move(rx), std::move(tx)));
}

NetDevice::NetDevice(NetDeviceOptions options, Tap tap, RateLimiter rx, RateLimiter tx)
    : VirtioDevice(kQueueSizes),
      options_(std::move(options)),
      tap_(std::move(tap)),
      rx_limiter_(std::move(rx)),
      tx_limiter_(std::move(tx)),
      rx_frame_(std::make_unique_for_overwrite<uint8_t[]>(kMaxFrameBytes)) {
    // A chain holds at most a queue's worth of descriptors, a frame at most a queue of chains.
    tx_iov_.reserve(kQueueSize);
    rx_used_.reserve(kQueueSize);
    rx_held_.resize(kMaxHeldChains);
    rx_iov_.reserve(kMaxIov);
    if (options_.guest_mac) mac_ = *options_.guest_mac;
    if (options_.mmds && options_.mmds->responder) {
        mmds_ =
            std::make_unique<mmds_net::MmdsStack>(options_.mmds->ipv4, *options_.mmds->responder,
                                                  clock_of(options_), options_.mtu.value_or(1500));
        mmds_frame_.resize(kMaxMmdsFrameBytes);
    }
}

uint64_t NetDevice::device_features() const {
    uint64_t features =
        feature_bit(kFeatureVersion1) | feature_bit(kFeatureEventIdx) | feature_bit(kNetFCsum) |
        feature_bit(kNetFGuestCsum) | feature_bit(kNetFGuestTso4) | feature_bit(kNetFGuestTso6) |
        feature_bit(kNetFGuestUfo) | feature_bit(kNetFHostTso4) | feature_bit(kNetFHostTso6) |
        feature_bit(kNetFHostUfo) | feature_bit(kNetFMrgRxbuf);
    if (options_.guest_mac) features |= feature_bit(kNetFMac);
    if (options_.mtu) features |= feature_bit(kNetFMtu);
    return features;
}

void NetDevice::read_config(uint64_t offset, std::span<uint8_t> data) const {
    NetConfig config{};
    std::memcpy(config.mac, mac_.data(), mac_.size());
    config.max_virtqueue_pairs = 1;
    config.mtu = options_.mtu.value_or(0);
    const auto* bytes = reinterpret_cast<const uint8_t*>(&config);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = offset + i < sizeof(config) ? bytes[offset + i] : 0;
    }
}

void NetDevice::write_config(uint64_t offset, std::span<const uint8_t> data) {
    // Only the MAC is writable (legacy drivers set it this way).
    if (offset >= mac_.size() || data.size() > mac_.size() - offset) {
        ++counters_.cfg_fails;
        return;
    }
    std::memcpy(mac_.data() + offset, data.data(), data.size());
    ++counters_.mac_address_updates;
}

unsigned NetDevice::tap_offload() const {
    unsigned offload = 0;
    if (has_feature(kNetFGuestCsum)) offload |= TUN_F_CSUM;
    if (has_feature(kNetFGuestTso4)) offload |= TUN_F_TSO4;
    if (has_feature(kNetFGuestTso6)) offload |= TUN_F_TSO6;
    if (has_feature(kNetFGuestUfo)) offload |= TUN_F_UFO;
    return offload;
}

NetDeviceState NetDevice::save_state() const {
    NetDeviceState state;
    state.device_features = device_features();
    state.mac = mac_;
    state.mtu = options_.mtu.value_or(0);
    state.tap_offload = tap_offload();
    state.rx_rate_limiter = rx_limiter_.save_state();
    state.tx_rate_limiter = tx_limiter_.save_state();
    return state;
}

Result<void> NetDevice::restore_state(const NetDeviceState& state) {
    if (is_activated()) return Error::invalid("virtio-net state", "restore into an active device");
    if (state.device_features != device_features()) {
        return Error::invalid(
            "virtio-net state",
            fmt::format("iface {} offers features {:#x}, the snapshot {:#x}", options_.iface_id,
                        device_features(), state.device_features));
    }
    if (state.mtu != options_.mtu.value_or(0)) {
        return Error::invalid("virtio-net state",
                              fmt::format("iface {} has MTU {}, the snapshot {}", options_.iface_id,
                                          options_.mtu.value_or(0), state.mtu));
    }
    mac_ = state.mac;
    rx_limiter_.restore_state(state.rx_rate_limiter);
    tx_limiter_.restore_state(state.tx_rate_limiter);
    return ok();
}

Result<void> NetDevice::activate(const GuestMemory& memory, VirtioInterrupt& interrupt) {
    // The tap may hand us what the guest accepts (Firecracker's tap offload from GUEST_*).
    if (auto set = tap_.set_offload(tap_offload()); !set) {
        ++counters_.activate_fails;
        return set.error();
    }
    memory_ = &memory;
    interrupt_ = &interrupt;
    configure_queue_features();
    set_activated(true);
    // Frames may have arrived before the driver was ready.
    tap_readable_ = true;
    process_rx();
    return ok();
}

void NetDevice::reset() {
    memory_ = nullptr;
    interrupt_ = nullptr;
    rx_pending_ = false;
    rx_tokens_taken_ = false;
    tap_readable_ = false;
    rx_frame_is_mmds_ = false;
    release_rx_chains();
    if (mmds_) mmds_->clear();
    if (options_.guest_mac) mac_ = *options_.guest_mac;
    reset_common();
}

void NetDevice::fail_queue(const char* what, const Error& error) {
    ++counters_.event_fails;
    EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "net {}: {}: {}", options_.iface_id, what,
                      error.message());
    mark_needs_reset(interrupt_);
}

void NetDevice::process_queue(uint32_t index) {
    if (index == kRxQueue) {
        ++counters_.rx_queue_event_count;
        process_rx();
    } else if (index == kTxQueue) {
        ++counters_.tx_queue_event_count;
        process_tx();
    }
}

std::vector<EventSource> NetDevice::event_sources() {
    return {
        // Edge-triggered: the device reads the tap until EAGAIN or remembers that it could not.
        EventSource::always(
            tap_.fd(), [this] { process_tap_rx(); }, EPOLLIN | EPOLLET),
        EventSource::always(rx_limiter_.timer_fd(), [this] { process_rx_rate_limiter_event(); }),
        EventSource::always(tx_limiter_.timer_fd(), [this] { process_tx_rate_limiter_event(); }),
    };
}

void NetDevice::process_tap_rx() {
    ++counters_.rx_tap_event_count;
    tap_readable_ = true;
    process_rx();
}

bool NetDevice::fetch_mmds_frame() {
    // The MMDS stack's frames go first, as in Firecracker's read_from_mmds_or_tap().
    if (!mmds_) return false;
    const size_t n = mmds_->write_next_frame(
        std::span<uint8_t>(rx_frame_.get(), kMaxFrameBytes).subspan(Tap::kVnetHeaderBytes));
    if (n == 0) return false;
    // A zero header: no offload asked, the stack's checksums are complete.
    std::fill_n(rx_frame_.get(), Tap::kVnetHeaderBytes, 0);
    rx_frame_len_ = Tap::kVnetHeaderBytes + n;
    rx_frame_is_mmds_ = true;
    return true;
}

bool NetDevice::fetch_tap_frame() {
    rx_frame_is_mmds_ = false;
    while (tap_readable_) {
        const iovec iov{rx_frame_.get(), kMaxFrameBytes};
        auto n = tap_.read({&iov, 1});
        if (!n) {
            tap_readable_ = false;
            if (n.error().code() != std::errc::resource_unavailable_try_again) {
                ++counters_.rx_fails;
                EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "net {}: {}",
                                  options_.iface_id, n.error().message());
            }
            return false;
        }
        if (*n < Tap::kVnetHeaderBytes) {
            ++counters_.rx_fails;
            continue;
        }
        rx_frame_len_ = *n;
        return true;
    }
    return false;
}

bool NetDevice::hold_rx_chains() {
    Queue& queue = queues()[kRxQueue];
    // Without MRG_RXBUF a frame must fit one chain.
    const size_t most = has_feature(kNetFMrgRxbuf) ? kMaxHeldChains : 1;
    while (rx_held_bytes_ < kMaxFrameBytes && rx_held_count_ < most) {
        auto next = queue.pop(*memory_);
        if (!next) {
            fail_queue("rx queue", next.error());
            return false;
        }
        if (!*next) return false;
        AvailableChain& avail = **next;
        // A driver that posts broken or device-readable RX buffers has broken the protocol.
        if (!avail.chain || !avail.chain->readable().empty() ||
            avail.chain->writable_bytes() < Tap::kVnetHeaderBytes) {
            fail_queue("rx buffer", avail.chain ? Error::invalid("virtio-net", "bad rx buffer")
                                                : avail.chain.error());
            return false;
        }
        rx_held_bytes_ += avail.chain->writable_bytes();
        rx_held_[(rx_held_first_ + rx_held_count_) % kMaxHeldChains].emplace(
            std::move(*avail.chain));
        ++rx_held_count_;
    }
    return rx_held_bytes_ >= kMaxFrameBytes;
}

void NetDevice::release_rx_chains() {
    Queue& queue = queues()[kRxQueue];
    for (; rx_held_count_ > 0; --rx_held_count_) {
        rx_held_[(rx_held_first_ + rx_held_count_ - 1) % kMaxHeldChains].reset();
        queue.undo_pop();
    }
    rx_held_first_ = 0;
    rx_held_bytes_ = 0;
}

NetDevice::DirectRx NetDevice::receive_direct() {
    if (!tap_readable_) return DirectRx::kNoFrame;
    // A byte budget is charged before delivery, so it needs the frame's size first.
    if (rx_limiter_.bandwidth() != nullptr) return DirectRx::kUseCopy;
    if (!hold_rx_chains()) {
        if (needs_reset()) return DirectRx::kNoFrame;
        release_rx_chains();
        return DirectRx::kUseCopy;
    }
    rx_iov_.clear();
    size_t covered = 0;
    for (size_t i = 0; i < rx_held_count_ && covered < kMaxFrameBytes; ++i) {
        for (const Descriptor& d : rx_held_[(rx_held_first_ + i) % kMaxHeldChains]->writable()) {
            if (rx_iov_.size() == kMaxIov) return DirectRx::kUseCopy;
            rx_iov_.push_back({d.host.data(), d.host.size()});
            covered += d.host.size();
            if (covered >= kMaxFrameBytes) break;
        }
    }
    if (rx_limiter_.ops() != nullptr && !rx_limiter_.consume(1, TokenType::kOps)) {
        ++counters_.rx_rate_limiter_throttled;
        return DirectRx::kNoFrame;
    }
    auto n = tap_.read(rx_iov_);
    if (!n || *n < Tap::kVnetHeaderBytes) {
        if (rx_limiter_.ops() != nullptr) rx_limiter_.manual_replenish(1, TokenType::kOps);
        if (n) {
            ++counters_.rx_fails;  // A runt: its bytes in the held chains are never used.
            return DirectRx::kDone;
        }
        tap_readable_ = false;
        if (n.error().code() != std::errc::resource_unavailable_try_again) {
            ++counters_.rx_fails;
            EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "net {}: {}", options_.iface_id,
                              n.error().message());
        }
        return DirectRx::kNoFrame;
    }

    // The frame fills the oldest held chains in order. virtio 1.2 §5.1.6.4: num_buffers in the
    // first chain's header (which the tap skips) says how many.
    Queue& queue = queues()[kRxQueue];
    const DescriptorChain& first = *rx_held_[rx_held_first_];
    uint16_t num_buffers = 0;
    for (size_t left = *n, i = 0; left > 0; ++i) {
        left -= std::min<uint64_t>(
            left, rx_held_[(rx_held_first_ + i) % kMaxHeldChains]->writable_bytes());
        ++num_buffers;
    }
    std::array<uint8_t, Tap::kVnetHeaderBytes> header{};
    ChainReader(first.writable()).read(header);
    std::memcpy(header.data() + kNumBuffersOffset, &num_buffers, sizeof(num_buffers));
    ChainWriter(first.writable()).write(header);
    for (size_t left = *n; left > 0;) {
        std::optional<DescriptorChain>& held = rx_held_[rx_held_first_];
        const auto len = static_cast<uint32_t>(std::min<uint64_t>(left, held->writable_bytes()));
        const uint16_t head = held->head_index();
        left -= len;
        rx_held_bytes_ -= held->writable_bytes();
        held.reset();
        rx_held_first_ = (rx_held_first_ + 1) % kMaxHeldChains;
        --rx_held_count_;
        if (!queue.add_used(*memory_, head, len)) {
            fail_queue("rx used ring", Error::invalid("virtqueue", "add_used"));
            return DirectRx::kNoFrame;
        }
        ++counters_.rx_count;
    }
    ++counters_.rx_packets_count;
    counters_.rx_bytes_count += *n;
    return DirectRx::kDone;
}

void NetDevice::process_rx() {
    if (!is_activated() || needs_reset()) return;
    while (!needs_reset()) {
        if (!rx_pending_) {
            if (!fetch_mmds_frame()) {
                const DirectRx direct = receive_direct();
                if (direct == DirectRx::kDone) continue;
                if (direct == DirectRx::kNoFrame) break;
                if (!fetch_tap_frame()) break;
            }
            rx_pending_ = true;
        }
        if (!rx_tokens_taken_) {
            if (!rx_limiter_.consume(1, TokenType::kOps)) {
                ++counters_.rx_rate_limiter_throttled;
                break;
            }
            if (!rx_limiter_.consume(rx_frame_len_, TokenType::kBytes)) {
                rx_limiter_.manual_replenish(1, TokenType::kOps);
                ++counters_.rx_rate_limiter_throttled;
                break;
            }
            rx_tokens_taken_ = true;
        }
        const Delivery delivery = deliver_frame();
        if (delivery == Delivery::kNoBuffers) {
            ++counters_.no_rx_avail_buffer;
            break;
        }
        if (delivery == Delivery::kDelivered && rx_frame_is_mmds_) {
            mmds_->count_delivered(rx_frame_len_ - Tap::kVnetHeaderBytes);
        }
        rx_pending_ = false;
        rx_tokens_taken_ = false;
    }
    signal_used_if_needed(kRxQueue);
}

NetDevice::Delivery NetDevice::deliver_frame() {
    // The copy path pops its own chains, after the ones held for direct reads.
    release_rx_chains();
    Queue& queue = queues()[kRxQueue];
    const bool mergeable = has_feature(kNetFMrgRxbuf);
    std::vector<RxUsed>& used = rx_used_;
    used.clear();
    std::optional<DescriptorChain> first;
    size_t offset = 0;

    while (offset < rx_frame_len_) {
        auto next = queue.pop(*memory_);
        if (!next) {
            fail_queue("rx queue", next.error());
            return Delivery::kDropped;
        }
        if (!*next) {
            // Not enough buffers for the whole frame: put back what was taken and wait.
            for (size_t i = 0; i < used.size(); ++i) queue.undo_pop();
            return Delivery::kNoBuffers;
        }
        AvailableChain& avail = **next;
        // A driver that posts broken or device-readable RX buffers has broken the protocol.
        if (!avail.chain || !avail.chain->readable().empty() ||
            avail.chain->writable_bytes() < Tap::kVnetHeaderBytes) {
            fail_queue("rx buffer", avail.chain ? Error::invalid("virtio-net", "bad rx buffer")
                                                : avail.chain.error());
            return Delivery::kDropped;
        }
        const DescriptorChain& chain = *avail.chain;
        if (!mergeable && chain.writable_bytes() < rx_frame_len_) {
            // Without merged buffers the frame must fit one chain: drop it.
            ++counters_.rx_fails;
            if (!queue.add_used(*memory_, avail.head, 0)) {
                fail_queue("rx used ring", Error::invalid("virtqueue", "add_used"));
            }
            return Delivery::kDropped;
        }
        ChainWriter writer(chain.writable());
        const size_t n = writer.write(
            std::span<const uint8_t>(rx_frame_.get() + offset, rx_frame_len_ - offset));
        used.push_back({avail.head, static_cast<uint32_t>(n)});
        offset += n;
        if (!first) first = std::move(*avail.chain);
        ++counters_.rx_count;
    }

    // virtio 1.2 §5.1.6.4: num_buffers says how many chains the frame spans (1 without
    // MRG_RXBUF). It lives in the first chain's header, written above with the frame.
    const auto num_buffers = static_cast<uint16_t>(used.size());
    std::array<uint8_t, Tap::kVnetHeaderBytes> header{};
    std::memcpy(header.data(), rx_frame_.get(), header.size());
    std::memcpy(header.data() + kNumBuffersOffset, &num_buffers, sizeof(num_buffers));
    ChainWriter(first->writable()).write(header);

    for (const RxUsed& u : used) {
        if (!queue.add_used(*memory_, u.head, u.len)) {
            fail_queue("rx used ring", Error::invalid("virtqueue", "add_used"));
            return Delivery::kDropped;
        }
    }
    ++counters_.rx_packets_count;
    counters_.rx_bytes_count += rx_frame_len_;
    return Delivery::kDelivered;
}

void NetDevice::process_tx() {
    if (!is_activated() || needs_reset()) return;
    Queue& queue = queues()[kTxQueue];
    bool popped_any = false;
    bool fed_mmds = false;
    while (!tx_limiter_.is_blocked() && !needs_reset()) {
        auto next = queue.pop(*memory_);
        if (!next) {
            fail_queue("tx queue", next.error());
            break;
        }
        if (!*next) break;
        popped_any = true;
        AvailableChain& avail = **next;
        const bool well_formed = avail.chain && avail.chain->writable().empty() &&
                                 avail.chain->readable_bytes() >= Tap::kVnetHeaderBytes &&
                                 avail.chain->readable_bytes() <= kMaxFrameBytes;
        if (!well_formed) {
            ++counters_.tx_malformed_frames;
            EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "net {}: malformed tx frame",
                              options_.iface_id);
            if (!queue.add_used(*memory_, avail.head, 0)) {
                fail_queue("tx used ring", Error::invalid("virtqueue", "add_used"));
            }
            continue;
        }
        const DescriptorChain& chain = *avail.chain;
        if (!tx_limiter_.consume(1, TokenType::kOps)) {
            ++counters_.tx_rate_limiter_throttled;
            queue.undo_pop();
            break;
        }
        if (!tx_limiter_.consume(chain.readable_bytes(), TokenType::kBytes)) {
            tx_limiter_.manual_replenish(1, TokenType::kOps);
            ++counters_.tx_rate_limiter_throttled;
            queue.undo_pop();
            break;
        }
        if (mmds_ && divert_to_mmds(chain)) {
            // MMDS frames are not accounted by the rate limiter (Firecracker's device.rs), nor in
            // the tap's counters.
            tx_limiter_.manual_replenish(1, TokenType::kOps);
            tx_limiter_.manual_replenish(chain.readable_bytes(), TokenType::kBytes);
            fed_mmds = true;
            if (!queue.add_used(*memory_, avail.head, 0)) {
                fail_queue("tx used ring", Error::invalid("virtqueue", "add_used"));
            }
            continue;
        }
        tx_iov_.clear();
        for (const Descriptor& d : chain.readable()) {
            if (!d.host.empty()) tx_iov_.push_back({d.host.data(), d.host.size()});
        }
        auto written = tap_.write(tx_iov_);
        if (!written) {
            // A full or downed tap drops the frame, as a NIC would.
            ++counters_.tx_fails;
        } else {
            ++counters_.tx_packets_count;
            counters_.tx_bytes_count += chain.readable_bytes();
        }
        ++counters_.tx_count;
        if (!queue.add_used(*memory_, avail.head, 0)) {
            fail_queue("tx used ring", Error::invalid("virtqueue", "add_used"));
        }
    }
    if (!popped_any) ++counters_.no_tx_avail_buffer;
    signal_used_if_needed(kTxQueue);
    // The stack may have an answer (a SYN-ACK, an ARP reply, data): deliver it now, the tap may
    // stay silent.
    if (fed_mmds) process_rx();
}

bool NetDevice::divert_to_mmds(const DescriptorChain& chain) {
    // The virtio-net header, Ethernet and the ARP target or IPv4 destination: usually all in the
    // first descriptor, read in place; else gathered into a small copy.
    constexpr size_t kPeekBytes = Tap::kVnetHeaderBytes + mmds_net::kEthernetHeaderBytes + 28;
    std::span<const uint8_t> head;
    std::array<uint8_t, kPeekBytes> gathered;
    const std::span<const Descriptor> readable = chain.readable();
    if (!readable.empty() && readable.front().host.size() >= kPeekBytes) {
        head = readable.front().host.first(kPeekBytes);
    } else {
        head = std::span<const uint8_t>(gathered.data(), ChainReader(readable).read(gathered));
    }
    if (!mmds_net::MmdsStack::is_mmds_frame(head.subspan(Tap::kVnetHeaderBytes),
                                            options_.mmds->ipv4)) {
        return false;
    }
    const size_t n = ChainReader(readable).read(mmds_frame_);
    mmds_->receive_frame(std::span<const uint8_t>(mmds_frame_)
                             .subspan(Tap::kVnetHeaderBytes, n - Tap::kVnetHeaderBytes));
    return true;
}

void NetDevice::signal_used_if_needed(uint32_t index) {
    if (!memory_ || !interrupt_) return;
    auto notify = queues()[index].needs_notification(*memory_);
    if (!notify) {
        fail_queue("notification", notify.error());
        return;
    }
    if (*notify) interrupt_->signal_used_buffer();
}

void NetDevice::process_rx_rate_limiter_event() {
    ++counters_.rx_event_rate_limiter_count;
    if (!rx_limiter_.on_timer_event()) {
        ++counters_.event_fails;
        return;
    }
    process_rx();
}

void NetDevice::process_tx_rate_limiter_event() {
    ++counters_.tx_rate_limiter_event_count;
    if (!tx_limiter_.on_timer_event()) {
        ++counters_.event_fails;
        return;
    }
    process_tx();
}

void NetDevice::update_rate_limiters(const BucketUpdate& rx_bandwidth, const BucketUpdate& rx_ops,
                                     const BucketUpdate& tx_bandwidth, const BucketUpdate& tx_ops) {
    rx_limiter_.update_buckets(rx_bandwidth, rx_ops);
    tx_limiter_.update_buckets(tx_bandwidth, tx_ops);
}

}  // namespace ember::virtio
