#include "devices/virtio/block/block_device.h"

#include <linux/virtio_blk.h>

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

namespace ember::virtio {
namespace {

constexpr std::array<uint16_t, 1> kQueueSizes{BlockDevice::kQueueSize};

const Clock& clock_of(const BlockDeviceOptions& options) {
    return options.clock ? *options.clock : SteadyClock::instance();
}

// sector + sectors <= capacity, without overflow.
bool in_range(uint64_t sector, uint64_t sectors, uint64_t capacity) {
    uint64_t end = 0;
    return !__builtin_add_overflow(sector, sectors, &end) && end <= capacity;
}

}  // namespace

Result<std::unique_ptr<BlockDevice>> BlockDevice::create(const BlockDeviceOptions& options) {
    auto file = EMBER_TRY(DiskFile::open(options.path, options.access));
    if (file.size_bytes % kSectorSize != 0) {
        EMBER_WARN("block {}: the last {} bytes of {} are not a whole sector and are not visible",
                   options.drive_id, file.size_bytes % kSectorSize, options.path);
    }
    auto limiter =
        EMBER_TRY(RateLimiter::create(options.bandwidth, options.ops, clock_of(options)));
    std::optional<EventFd> completion_evt;
    if (options.engine == IoEngine::kAsync) completion_evt = EMBER_TRY(EventFd::create());
    UniqueFd fd = std::move(file.fd);
    std::unique_ptr<BlockDevice> device(
        new BlockDevice(options, std::move(file), std::move(completion_evt), std::move(limiter)));
    device->backend_ = EMBER_TRY(device->new_backend(std::move(fd)));
    return device;
}

BlockDevice::BlockDevice(BlockDeviceOptions options, DiskFile file,
                         std::optional<EventFd> completion_evt, RateLimiter limiter)
    : VirtioDevice(kQueueSizes),
      options_(std::move(options)),
      disk_size_bytes_(file.size_bytes),
      disk_id_(std::move(file.id)),
      completion_evt_(std::move(completion_evt)),
      rate_limiter_(std::move(limiter)),
      pending_(kQueueSize) {}

Result<std::unique_ptr<BlockBackend>> BlockDevice::new_backend(UniqueFd fd) const {
    return make_block_backend(options_.engine, std::move(fd),
                              completion_evt_ ? &*completion_evt_ : nullptr);
}

std::vector<EventSource> BlockDevice::event_sources() {
    std::vector<EventSource> sources;
    sources.push_back(
        EventSource::always(rate_limiter_.timer_fd(), [this] { process_rate_limiter_event(); }));
    // The sync engine completes inside submit(): nothing to watch.
    if (completion_evt_) {
        sources.push_back(
            EventSource::always(completion_evt_->fd(), [this] { process_completions(); }));
    }
    return sources;
}

BlockDevice::~BlockDevice() {
    // In-flight io_uring ops point into guest memory: let them finish before anything goes away.
    if (backend_) (void)backend_->drain();
}

uint64_t BlockDevice::device_features() const {
    uint64_t features = feature_bit(kFeatureVersion1) | feature_bit(kFeatureEventIdx) |
                        feature_bit(kFeatureIndirectDesc) | feature_bit(VIRTIO_BLK_F_SEG_MAX);
    if (options_.cache == CacheType::kWriteback) features |= feature_bit(VIRTIO_BLK_F_FLUSH);
    if (options_.access == Access::kReadOnly) {
        features |= feature_bit(VIRTIO_BLK_F_RO);
    } else {
        features |= feature_bit(VIRTIO_BLK_F_DISCARD) | feature_bit(VIRTIO_BLK_F_WRITE_ZEROES);
    }
    return features;
}

void BlockDevice::read_config(uint64_t offset, std::span<uint8_t> data) const {
    virtio_blk_config config{};
    config.capacity = capacity_sectors();
    // Two descriptors of every chain carry the header and the status.
    config.seg_max = kQueueSize - 2;
    config.max_discard_sectors = kMaxDiscardSectors;
    config.max_discard_seg = 1;
    config.discard_sector_alignment = kDiscardAlignmentSectors;
    config.max_write_zeroes_sectors = kMaxDiscardSectors;
    config.max_write_zeroes_seg = 1;
    config.write_zeroes_may_unmap = 1;
    const auto* bytes = reinterpret_cast<const uint8_t*>(&config);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = offset + i < sizeof(config) ? bytes[offset + i] : 0;
    }
}

Result<void> BlockDevice::activate(const GuestMemory& memory, VirtioInterrupt& interrupt) {
    memory_ = &memory;
    interrupt_ = &interrupt;
    configure_queue_features();
    set_activated(true);
    return ok();
}

void BlockDevice::reset() {
    // Wait for the kernel to be done with guest buffers, then forget the requests.
    if (!backend_->drain()) ++counters_.event_fails;
    discard_completions();
    for (Pending& p : pending_) p = Pending{};
    in_flight_ = 0;
    memory_ = nullptr;
    interrupt_ = nullptr;
    reset_common();
}

void BlockDevice::fail_queue(const Error& error) {
    ++counters_.event_fails;
    EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "block {}: queue broken: {}",
                      options_.drive_id, error.message());
    mark_needs_reset(interrupt_);
}

void BlockDevice::process_queue(uint32_t index) {
    ++counters_.queue_event_count;
    if (!is_activated() || needs_reset() || index != 0) return;
    Queue& queue = queues()[0];
    bool popped_any = false;
    while (!rate_limiter_.is_blocked() && !needs_reset()) {
        if (in_flight_ >= backend_->max_in_flight()) {
            ++counters_.io_engine_throttled_events;
            break;
        }
        auto next = queue.pop(*memory_);
        if (!next) {
            fail_queue(next.error());
            break;
        }
        if (!*next) break;
        popped_any = true;
        AvailableChain& avail = **next;
        if (!avail.chain) {
            ++counters_.invalid_reqs_count;
            EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "block {}: {}", options_.drive_id,
                              avail.chain.error().message());
            complete(avail.head, 0);
            continue;
        }
        auto request = parse_block_request(*avail.chain);
        if (!request) {
            ++counters_.invalid_reqs_count;
            EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning, "block {}: {}", options_.drive_id,
                              request.error().message());
            complete(avail.head, 0);
            continue;
        }
        // Firecracker's order: one op, then the bytes; give the op back if the bytes fail.
        if (!rate_limiter_.consume(1, TokenType::kOps)) {
            ++counters_.rate_limiter_throttled_events;
            queue.undo_pop();
            break;
        }
        const bool moves_data =
            request->type == RequestType::kIn || request->type == RequestType::kOut;
        if (moves_data && !rate_limiter_.consume(request->data_len, TokenType::kBytes)) {
            rate_limiter_.manual_replenish(1, TokenType::kOps);
            ++counters_.rate_limiter_throttled_events;
            queue.undo_pop();
            break;
        }
        if (!execute(avail.head, std::move(*request))) {
            ++counters_.io_engine_throttled_events;
            queue.undo_pop();
            break;
        }
    }
    if (!popped_any) ++counters_.no_avail_buffer;
    if (!backend_->kick()) ++counters_.execute_fails;
    reap_and_complete();
}

std::optional<BlockOp> BlockDevice::build_op(uint16_t head, const BlockRequest& req,
                                             uint8_t& status) {
    const bool read_only = options_.access == Access::kReadOnly;
    const uint64_t capacity = capacity_sectors();
    status = VIRTIO_BLK_S_IOERR;
    switch (req.type) {
        case RequestType::kIn:
        case RequestType::kOut: {
            if (req.type == RequestType::kOut && read_only) return std::nullopt;
            if (req.data_len % kSectorSize != 0) return std::nullopt;
            if (!in_range(req.sector, req.data_len / kSectorSize, capacity)) return std::nullopt;
            status = VIRTIO_BLK_S_OK;
            if (req.data_len == 0) return std::nullopt;
            return BlockOp{req.type == RequestType::kIn ? BlockOpKind::kRead : BlockOpKind::kWrite,
                           req.sector * kSectorSize,
                           0,
                           {},
                           head};
        }
        case RequestType::kFlush:
            status = VIRTIO_BLK_S_OK;
            // Unsafe caching never flushes (the feature is not offered; a flush is a no-op).
            if (options_.cache != CacheType::kWriteback) return std::nullopt;
            return BlockOp{BlockOpKind::kFlush, 0, 0, {}, head};
        case RequestType::kDiscard:
        case RequestType::kWriteZeroes: {
            if (read_only || req.range_count != 1) return std::nullopt;
            const BlockRange& range = req.ranges[0];
            const bool discard = req.type == RequestType::kDiscard;
            // virtio 1.2 §5.2.6.2: discard takes no flags; write zeroes only UNMAP.
            const uint32_t allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
            if (range.flags & ~allowed) {
                status = VIRTIO_BLK_S_UNSUPP;
                return std::nullopt;
            }
            if (range.num_sectors > kMaxDiscardSectors ||
                !in_range(range.sector, range.num_sectors, capacity)) {
                return std::nullopt;
            }
            status = VIRTIO_BLK_S_OK;
            if (range.num_sectors == 0) return std::nullopt;
            // Write zeroes with UNMAP may deallocate: a punched hole reads back as zeros.
            const bool punch = discard || (range.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
            return BlockOp{punch ? BlockOpKind::kDiscard : BlockOpKind::kWriteZeroes,
                           range.sector * kSectorSize,
                           uint64_t{range.num_sectors} * kSectorSize,
                           {},
                           head};
        }
        case RequestType::kGetId:
        case RequestType::kUnsupported: status = VIRTIO_BLK_S_UNSUPP; return std::nullopt;
    }
    return std::nullopt;
}

bool BlockDevice::execute(uint16_t head, BlockRequest request) {
    if (pending_[head].active) {
        // The driver made a head available again while it is still in flight.
        fail_queue(Error::invalid("virtio-blk", "head reused while in flight"));
        return true;
    }
    if (request.type == RequestType::kGetId) {
        const size_t n = std::min<size_t>(kBlockIdBytes, request.data_len);
        std::array<uint8_t, kBlockIdBytes> id{};
        std::memcpy(id.data(), disk_id_.data(), std::min(disk_id_.size(), id.size()));
        size_t copied = 0;
        for (const iovec& v : request.data) {
            if (copied == n) break;
            const size_t chunk = std::min(v.iov_len, n - copied);
            std::memcpy(v.iov_base, id.data() + copied, chunk);
            copied += chunk;
        }
        *request.status = VIRTIO_BLK_S_OK;
        complete(head, static_cast<uint32_t>(n + 1));
        return true;
    }

    uint8_t status = VIRTIO_BLK_S_IOERR;
    std::optional<BlockOp> op = build_op(head, request, status);
    if (!op) {
        if (status == VIRTIO_BLK_S_IOERR) ++counters_.invalid_reqs_count;
        const uint32_t used = request.type == RequestType::kIn && status == VIRTIO_BLK_S_OK
                                  ? static_cast<uint32_t>(request.data_len + 1)
                                  : 1;
        *request.status = status;
        complete(head, used);
        return true;
    }
    Pending& slot = pending_[head];
    slot.request = std::move(request);
    op->iov = slot.request.data;
    auto submitted = backend_->submit(*op);
    if (!submitted) {
        if (submitted.error().code() == std::errc::resource_unavailable_try_again) {
            slot = Pending{};
            return false;
        }
        ++counters_.execute_fails;
        *slot.request.status = VIRTIO_BLK_S_IOERR;
        slot = Pending{};
        complete(head, 1);
        return true;
    }
    slot.active = true;
    ++in_flight_;
    return true;
}

void BlockDevice::complete(uint16_t head, uint32_t used_len) {
    if (!memory_) return;
    if (!queues()[0].add_used(*memory_, head, used_len)) {
        fail_queue(Error::invalid("virtqueue", "used ring write failed"));
    }
}

void BlockDevice::on_completion(const BlockCompletion& completion) {
    if (completion.user_data >= pending_.size() || !pending_[completion.user_data].active) {
        ++counters_.event_fails;
        return;
    }
    const auto head = static_cast<uint16_t>(completion.user_data);
    Pending& slot = pending_[head];
    slot.active = false;
    --in_flight_;
    const BlockRequest& req = slot.request;
    uint8_t status = VIRTIO_BLK_S_OK;
    uint32_t used = 1;
    const bool moved_all = completion.result >= 0 &&
                           (req.type == RequestType::kFlush || req.type == RequestType::kDiscard ||
                            req.type == RequestType::kWriteZeroes ||
                            static_cast<uint64_t>(completion.result) == req.data_len);
    if (!moved_all) {
        ++counters_.execute_fails;
        EMBER_LOG_LIMITED(log_limiter_, log::Level::kWarning,
                          "block {}: I/O at sector {} failed: {}", options_.drive_id, req.sector,
                          completion.result);
        status = VIRTIO_BLK_S_IOERR;
    } else {
        switch (req.type) {
            case RequestType::kIn:
                ++counters_.read_count;
                counters_.read_bytes += req.data_len;
                used = static_cast<uint32_t>(req.data_len + 1);
                break;
            case RequestType::kOut:
                ++counters_.write_count;
                counters_.write_bytes += req.data_len;
                break;
            case RequestType::kFlush: ++counters_.flush_count; break;
            default: break;
        }
    }
    *req.status = status;
    complete(head, used);
    slot = Pending{};
}

void BlockDevice::reap_and_complete() {
    completions_.clear();
    backend_->reap(completions_);
    for (const BlockCompletion& c : completions_) on_completion(c);
    completions_.clear();
    signal_used_if_needed();
}

void BlockDevice::discard_completions() {
    completions_.clear();
    backend_->reap(completions_);
    completions_.clear();
}

void BlockDevice::signal_used_if_needed() {
    if (!memory_ || !interrupt_) return;
    auto notify = queues()[0].needs_notification(*memory_);
    if (!notify) {
        fail_queue(notify.error());
        return;
    }
    if (*notify) interrupt_->signal_used_buffer();
}

void BlockDevice::process_completions() {
    if (!is_activated()) {
        // Completions after a reset were already collected by drain().
        discard_completions();
        return;
    }
    reap_and_complete();
    // A full backend stopped the queue: there may be room now.
    process_queue(0);
}

void BlockDevice::process_rate_limiter_event() {
    ++counters_.rate_limiter_event_count;
    if (!rate_limiter_.on_timer_event()) {
        ++counters_.event_fails;
        return;
    }
    process_queue(0);
}

Result<void> BlockDevice::update_disk(const std::string& path) {
    ++counters_.update_count;
    auto file = DiskFile::open(path, options_.access);
    if (!file) {
        ++counters_.update_fails;
        return file.error();
    }
    // Finish what the old file was doing before it goes away.
    if (auto drained = backend_->drain(); !drained) {
        ++counters_.update_fails;
        return drained.error();
    }
    reap_and_complete();
    const uint64_t size = file->size_bytes;
    std::string id = file->id;
    auto backend = new_backend(std::move(file->fd));
    if (!backend) {
        ++counters_.update_fails;
        return backend.error();
    }
    backend_ = std::move(*backend);
    options_.path = path;
    disk_size_bytes_ = size;
    disk_id_ = std::move(id);
    bump_config_generation();
    if (is_activated() && interrupt_) interrupt_->signal_config_change();
    return ok();
}

Result<void> BlockDevice::quiesce() {
    EMBER_TRY(backend_->drain());
    if (is_activated()) {
        reap_and_complete();
    } else {
        discard_completions();
    }
    if (!drained()) return Error::invalid("virtio-blk", "requests still in flight after drain");
    return ok();
}

Result<BlockDeviceState> BlockDevice::save_state() const {
    if (!drained()) {
        return Error::invalid("virtio-blk", fmt::format("drive {}: {} requests in flight",
                                                        options_.drive_id, in_flight_));
    }
    return BlockDeviceState{.device_features = device_features(),
                            .disk_size_bytes = disk_size_bytes_,
                            .rate_limiter = rate_limiter_.save_state()};
}

Result<void> BlockDevice::restore_state(const BlockDeviceState& state) {
    if (is_activated()) return Error::invalid("virtio-blk state", "restore into an active device");
    if (state.device_features != device_features()) {
        return Error::invalid(
            "virtio-blk state",
            fmt::format("drive {} offers features {:#x}, the snapshot {:#x}", options_.drive_id,
                        device_features(), state.device_features));
    }
    // The guest caches the capacity: another size would be noticed.
    if (state.disk_size_bytes != disk_size_bytes_) {
        return Error::invalid(
            "virtio-blk state",
            fmt::format("drive {} is {} bytes, the snapshot's was {}", options_.drive_id,
                        disk_size_bytes_, state.disk_size_bytes));
    }
    rate_limiter_.restore_state(state.rate_limiter);
    return ok();
}

void BlockDevice::update_rate_limiter(const BucketUpdate& bandwidth, const BucketUpdate& ops) {
    rate_limiter_.update_buckets(bandwidth, ops);
}

}  // namespace ember::virtio
