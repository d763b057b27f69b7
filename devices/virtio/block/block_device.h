// BlockDevice: virtio-blk (virtio 1.2 §5.2) over a raw image file, with one queue of 256, the
// sync or io_uring engine behind BlockBackend, and a rate limiter on requests and bytes.
// Event sources (all on the vmm thread, with the transport's bus mutex held), besides queue 0's
// notification (process_queue(0)):
//   completion_fd() (io_uring only) -> process_completions()
//   rate_limiter_fd()               -> process_rate_limiter_event()
// The completion eventfd is the device's and is registered with each ring it creates, so a new
// backing file (update_disk) needs no change in the event loop.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/rate_limiter.h"
#include "devices/virtio/block/backend.h"
#include "devices/virtio/block/request.h"
#include "devices/virtio/virtio_device.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"

namespace ember::virtio {

struct BlockDeviceOptions {
    std::string drive_id;
    std::string path;
    Access access = Access::kReadWrite;
    CacheType cache = CacheType::kUnsafe;
    IoEngine engine = IoEngine::kSync;
    TokenBucketParams bandwidth;  // Size 0: no limit.
    TokenBucketParams ops;
    const Clock* clock = nullptr;  // Null: the steady clock.
};

// Firecracker's block metrics, as deltas are taken by the metrics writer.
struct BlockCounters {
    uint64_t activate_fails = 0;
    uint64_t cfg_fails = 0;
    uint64_t event_fails = 0;
    uint64_t execute_fails = 0;
    uint64_t flush_count = 0;
    uint64_t invalid_reqs_count = 0;
    uint64_t no_avail_buffer = 0;
    uint64_t queue_event_count = 0;
    uint64_t rate_limiter_event_count = 0;
    uint64_t rate_limiter_throttled_events = 0;
    uint64_t io_engine_throttled_events = 0;
    uint64_t read_bytes = 0;
    uint64_t read_count = 0;
    uint64_t write_bytes = 0;
    uint64_t write_count = 0;
    uint64_t update_count = 0;
    uint64_t update_fails = 0;
};

// The block device's snapshot state beside MmioTransportState. The backing file is not in it: the
// restoring caller creates the device again from its options (the path may differ).
struct BlockDeviceState {
    uint64_t device_features = 0;  // Offered: the restored device's options must offer the same.
    uint64_t disk_size_bytes = 0;  // The configuration space's capacity derives from it.
    // Tokens left, so that a restore does not refill the buckets.
    RateLimiterState rate_limiter;
    bool operator==(const BlockDeviceState&) const = default;
};

class BlockDevice final : public VirtioDevice {
public:
    static constexpr uint16_t kQueueSize = 256;
    static constexpr uint32_t kMaxDiscardSectors = 1u << 22;  // 2 GiB per request.
    static constexpr uint32_t kDiscardAlignmentSectors = 8;   // 4 KiB, the hole granularity.

    static Result<std::unique_ptr<BlockDevice>> create(const BlockDeviceOptions& options);
    ~BlockDevice() override;

    uint32_t device_type() const override { return kDeviceIdBlock; }
    std::string_view id() const override { return options_.drive_id; }
    uint64_t device_features() const override;
    void read_config(uint64_t offset, std::span<uint8_t> data) const override;
    Result<void> activate(const GuestMemory& memory, VirtioInterrupt& interrupt) override;
    void reset() override;
    void process_queue(uint32_t index) override;
    std::vector<EventSource> event_sources() override;

    // io_uring completions are ready (completion_fd() readable).
    void process_completions();
    // The rate limiter's timer fired: resume the queue.
    void process_rate_limiter_event();
    // -1 for the sync engine, which needs no fd in the event loop. Stable across update_disk().
    int completion_fd() const { return completion_evt_ ? completion_evt_->fd() : -1; }
    int rate_limiter_fd() const { return rate_limiter_.timer_fd(); }

    // PATCH /drives: a new backing file (same access and engine), capacity re-read, and a
    // configuration-change interrupt for an active driver. Caller holds the transport's mutex.
    Result<void> update_disk(const std::string& path);
    void update_rate_limiter(const BucketUpdate& bandwidth, const BucketUpdate& ops);

    const std::string& drive_id() const { return options_.drive_id; }
    uint64_t capacity_sectors() const { return disk_size_bytes_ / kSectorSize; }
    const BlockCounters& counters() const { return counters_; }
    const RateLimiter& rate_limiter() const { return rate_limiter_; }
    size_t in_flight() const { return in_flight_; }

    // Snapshot, with the VM paused: waits for the engine's in-flight requests and returns them
    // used, so that nothing points into guest memory and save_state() can succeed.
    Result<void> quiesce();
    bool drained() const { return in_flight_ == 0; }
    // An error while requests are in flight (call quiesce() first).
    Result<BlockDeviceState> save_state() const;
    // Into a device just created from the snapshot's options, before the transport's
    // restore_state(): refuses a disk of another size or different offered features, and
    // clamps the rate limiter's state to its configuration.
    Result<void> restore_state(const BlockDeviceState& state);

private:
    BlockDevice(BlockDeviceOptions options, DiskFile file, std::optional<EventFd> completion_evt,
                RateLimiter limiter);
    // A backend over `fd` with this device's engine and completion eventfd.
    Result<std::unique_ptr<BlockBackend>> new_backend(UniqueFd fd) const;

    // Runs one parsed request: completes it at once or hands it to the backend. False when the
    // backend is full and the request must be retried.
    bool execute(uint16_t head, BlockRequest request);
    std::optional<BlockOp> build_op(uint16_t head, const BlockRequest& request, uint8_t& status);
    // Returns `head` to the driver; the status byte is already written.
    void complete(uint16_t head, uint32_t used_len);
    void on_completion(const BlockCompletion& completion);
    void reap_and_complete();
    // Collects and forgets completions of requests already given up (after a reset's drain, or
    // while inactive).
    void discard_completions();
    void signal_used_if_needed();
    void fail_queue(const Error& error);

    struct Pending {
        BlockRequest request;
        bool active = false;
    };

    BlockDeviceOptions options_;
    uint64_t disk_size_bytes_;
    std::string disk_id_;
    // io_uring only. Declared before backend_, which signals it and must go first.
    std::optional<EventFd> completion_evt_;
    std::unique_ptr<BlockBackend> backend_;
    RateLimiter rate_limiter_;
    const GuestMemory* memory_ = nullptr;
    VirtioInterrupt* interrupt_ = nullptr;
    std::vector<Pending> pending_;  // Indexed by head: the driver cannot reuse a head in flight.
    size_t in_flight_ = 0;
    std::vector<BlockCompletion> completions_;
    BlockCounters counters_;
    log::LineLimiter log_limiter_;
};

}  // namespace ember::virtio
