// virtio-blk requests against real temporary files, run with both engines.
#include "devices/virtio/block/block_device.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "devices/virtio/transport/mmio_transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_irq_line.h"
#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

using testing::BufferSpec;

constexpr uint64_t kDiskBytes = 1 << 20;  // 2048 sectors.

// A temporary file filled with a byte pattern, removed at the end of the test.
class TempDisk {
public:
    explicit TempDisk(uint64_t size_bytes = kDiskBytes) {
        const char* dir = std::getenv("TMPDIR");
        path_ = std::string(dir ? dir : "/tmp") + "/ember-blk-XXXXXX";
        int fd = ::mkstemp(path_.data());
        EXPECT_GE(fd, 0);
        fd_.reset(fd);
        std::vector<uint8_t> data(size_bytes);
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = static_cast<uint8_t>(i / kSectorSize + 1);
        EXPECT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
        ::fsync(fd);
    }
    ~TempDisk() { ::unlink(path_.c_str()); }
    const std::string& path() const { return path_; }
    std::vector<uint8_t> read(uint64_t offset, size_t len) const {
        std::vector<uint8_t> out(len);
        EXPECT_EQ(::pread(fd_.get(), out.data(), len, static_cast<off_t>(offset)),
                  static_cast<ssize_t>(len));
        return out;
    }
    uint64_t allocated_blocks() const {
        struct stat st {};
        EXPECT_EQ(::fstat(fd_.get(), &st), 0);
        return static_cast<uint64_t>(st.st_blocks);
    }

private:
    std::string path_;
    UniqueFd fd_;
};

struct Header {
    uint32_t type;
    uint32_t ioprio;
    uint64_t sector;
};

class BlockDeviceTest : public ::testing::TestWithParam<IoEngine> {
protected:
    // Not activated, as the snapshot loader creates a device; on disk_ unless options name a path.
    std::unique_ptr<BlockDevice> make_inactive_device(BlockDeviceOptions options = {}) {
        options.drive_id = "rootfs";
        if (options.path.empty()) options.path = disk_.path();
        options.engine = GetParam();
        options.clock = &clock_;
        auto device = BlockDevice::create(options);
        EXPECT_TRUE(device.has_value()) << device.error().message();
        return device ? std::move(*device) : nullptr;
    }
    std::unique_ptr<BlockDevice> make_device(BlockDeviceOptions options = {}) {
        auto device = make_inactive_device(std::move(options));
        if (!device) return nullptr;
        vq_.configure(device->queues()[0]);
        device->set_acked_features(device->device_features());
        EXPECT_TRUE(device->activate(memory_, interrupt_).has_value());
        return device;
    }

    // Runs the queue and, for io_uring, waits for the completions.
    void run(BlockDevice& device) {
        device.process_queue(0);
        while (device.in_flight() > 0) {
            pollfd pfd{device.completion_fd(), POLLIN, 0};
            ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
            device.process_completions();
        }
    }

    struct Submitted {
        uint16_t head;
        uint64_t data;
        uint64_t status;
    };
    // header (readable) + data (readable for OUT, writable otherwise) + status byte.
    Submitted submit(uint32_t type, uint64_t sector, uint32_t data_len,
                     const std::vector<uint8_t>& out_data = {}) {
        const Header h{type, 0, sector};
        const uint64_t hdr = vq_.alloc_bytes(&h, sizeof(h));
        const uint64_t data =
            out_data.empty() ? vq_.alloc(data_len) : vq_.alloc_bytes(out_data.data(), data_len);
        const uint64_t status = vq_.alloc(1);
        vq_.write_obj<uint8_t>(status, 0xff);
        std::vector<BufferSpec> chain{{hdr, sizeof(h)}};
        const bool device_writes = type != VIRTIO_BLK_T_OUT && type != VIRTIO_BLK_T_DISCARD &&
                                   type != VIRTIO_BLK_T_WRITE_ZEROES;
        if (data_len > 0) chain.push_back({data, data_len, device_writes});
        chain.push_back({status, 1, true});
        return {vq_.add_chain(chain), data, status};
    }
    Submitted submit_range(uint32_t type, uint64_t sector, uint32_t sectors, uint32_t flags = 0) {
        virtio_blk_discard_write_zeroes seg{};
        seg.sector = sector;
        seg.num_sectors = sectors;
        seg.flags = flags;
        std::vector<uint8_t> bytes(sizeof(seg));
        std::memcpy(bytes.data(), &seg, sizeof(seg));
        return submit(type, 0, sizeof(seg), bytes);
    }
    uint8_t status_of(const Submitted& s) { return vq_.read_obj<uint8_t>(s.status); }

    TempDisk disk_;
    testing::FakeClock clock_;
    GuestMemory memory_ = testing::make_guest_memory(4 << 20);
    testing::VirtqueueBuilder vq_{memory_, 64};
    testing::FakeIrqLine irq_;
    VirtioInterrupt interrupt_{irq_};
};

TEST_P(BlockDeviceTest, AdvertisesCapacityInSectorsAndDiscardLimits) {
    auto dev = make_device();
    virtio_blk_config config{};
    dev->read_config(0, {reinterpret_cast<uint8_t*>(&config), sizeof(config)});
    EXPECT_EQ(config.capacity, kDiskBytes / 512);
    EXPECT_EQ(config.max_discard_seg, 1u);
    EXPECT_GT(config.max_discard_sectors, 0u);
    EXPECT_EQ(config.seg_max, 254u);
    uint8_t past_end = 0xff;
    dev->read_config(sizeof(config) + 10, {&past_end, 1});
    EXPECT_EQ(past_end, 0);
}

TEST_P(BlockDeviceTest, OffersFlushOnlyWithWritebackCaching) {
    auto unsafe = make_device();
    EXPECT_FALSE(unsafe->device_features() & feature_bit(VIRTIO_BLK_F_FLUSH));
    EXPECT_TRUE(unsafe->device_features() & feature_bit(kFeatureVersion1));
    EXPECT_TRUE(unsafe->device_features() & feature_bit(VIRTIO_BLK_F_DISCARD));
    auto writeback = make_device({.cache = CacheType::kWriteback});
    EXPECT_TRUE(writeback->device_features() & feature_bit(VIRTIO_BLK_F_FLUSH));
}

TEST_P(BlockDeviceTest, ReadsSectorsIntoGuestMemory) {
    auto dev = make_device();
    auto req = submit(VIRTIO_BLK_T_IN, 3, 1024);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    auto data = vq_.read(req.data, 1024);
    EXPECT_EQ(data[0], 4);
    EXPECT_EQ(data[1023], 5);
    EXPECT_EQ(vq_.used_idx(), 1);
    EXPECT_EQ(vq_.used_element(0).id, req.head);
    EXPECT_EQ(vq_.used_element(0).len, 1025u);
    EXPECT_EQ(dev->counters().read_count, 1u);
    EXPECT_EQ(dev->counters().read_bytes, 1024u);
    EXPECT_EQ(irq_.count(), 1u);
}

TEST_P(BlockDeviceTest, WritesGuestDataToTheFile) {
    auto dev = make_device();
    std::vector<uint8_t> payload(512, 0xab);
    auto req = submit(VIRTIO_BLK_T_OUT, 10, 512, payload);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    EXPECT_EQ(disk_.read(10 * uint64_t{512}, 512), payload);
    EXPECT_EQ(vq_.used_element(0).len, 1u);
    EXPECT_EQ(dev->counters().write_bytes, 512u);
}

TEST_P(BlockDeviceTest, HandlesManyRequestsInOneNotification) {
    auto dev = make_device();
    std::vector<Submitted> reqs;
    for (uint32_t i = 0; i < 12; ++i) reqs.push_back(submit(VIRTIO_BLK_T_IN, i, 512));
    run(*dev);
    EXPECT_EQ(vq_.used_idx(), 12);
    for (uint32_t i = 0; i < 12; ++i) {
        EXPECT_EQ(status_of(reqs[i]), VIRTIO_BLK_S_OK);
        EXPECT_EQ(vq_.read(reqs[i].data, 1)[0], i + 1);
    }
}

TEST_P(BlockDeviceTest, FlushSyncsWithWritebackAndIsANoOpWhenUnsafe) {
    auto writeback = make_device({.cache = CacheType::kWriteback});
    auto req = submit(VIRTIO_BLK_T_FLUSH, 0, 0);
    run(*writeback);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    EXPECT_EQ(writeback->counters().flush_count, 1u);
}

TEST_P(BlockDeviceTest, FlushWithUnsafeCachingSucceedsWithoutSyncing) {
    auto unsafe = make_device();
    auto req = submit(VIRTIO_BLK_T_FLUSH, 0, 0);
    run(*unsafe);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    EXPECT_EQ(unsafe->counters().flush_count, 0u);
}

TEST_P(BlockDeviceTest, GetIdReturnsTwentyBytesOfTheFileIdentity) {
    auto dev = make_device();
    auto req = submit(VIRTIO_BLK_T_GET_ID, 0, 20);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    struct stat st {};
    ASSERT_EQ(::stat(disk_.path().c_str(), &st), 0);
    std::string expected =
        std::to_string(st.st_dev) + std::to_string(st.st_rdev) + std::to_string(st.st_ino);
    expected.resize(20, '\0');
    auto id = vq_.read(req.data, 20);
    EXPECT_EQ(std::string(id.begin(), id.end()), expected);
    EXPECT_EQ(vq_.used_element(0).len, 21u);
}

TEST_P(BlockDeviceTest, DiscardPunchesAHole) {
    auto dev = make_device();
    const uint64_t before = disk_.allocated_blocks();
    auto req = submit_range(VIRTIO_BLK_T_DISCARD, 0, 1024);  // 512 KiB.
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    EXPECT_LT(disk_.allocated_blocks(), before);
    EXPECT_EQ(disk_.read(0, 512), std::vector<uint8_t>(512, 0));
    EXPECT_EQ(disk_.read(1024 * uint64_t{512}, 1)[0], static_cast<uint8_t>(1024 + 1));
}

TEST_P(BlockDeviceTest, WriteZeroesZeroesTheRangeAndKeepsTheSize) {
    auto dev = make_device();
    auto req = submit_range(VIRTIO_BLK_T_WRITE_ZEROES, 4, 2);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    EXPECT_EQ(disk_.read(4 * uint64_t{512}, 1024), std::vector<uint8_t>(1024, 0));
    EXPECT_EQ(disk_.read(3 * uint64_t{512}, 1)[0], 4);
    EXPECT_EQ(disk_.read(6 * uint64_t{512}, 1)[0], 7);
    struct stat st {};
    ASSERT_EQ(::stat(disk_.path().c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), kDiskBytes);
}

TEST_P(BlockDeviceTest, DiscardWithFlagsIsUnsupported) {
    auto dev = make_device();
    auto req = submit_range(VIRTIO_BLK_T_DISCARD, 0, 8, 1);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_UNSUPP);
}

TEST_P(BlockDeviceTest, OutOfRangeSectorsFailWithIoErr) {
    auto dev = make_device();
    auto past_end = submit(VIRTIO_BLK_T_IN, 2047, 1024);
    auto wrapping = submit(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, std::vector<uint8_t>(512, 1));
    auto discard = submit_range(VIRTIO_BLK_T_DISCARD, 2040, 16);
    auto partial = submit(VIRTIO_BLK_T_IN, 0, 100);
    run(*dev);
    EXPECT_EQ(status_of(past_end), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(status_of(wrapping), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(status_of(discard), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(status_of(partial), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(vq_.used_idx(), 4);
    EXPECT_EQ(dev->counters().invalid_reqs_count, 4u);
}

TEST_P(BlockDeviceTest, ReadOnlyDiskRefusesWritesAndAdvertisesRo) {
    auto dev = make_device({.access = Access::kReadOnly});
    EXPECT_TRUE(dev->device_features() & feature_bit(VIRTIO_BLK_F_RO));
    EXPECT_FALSE(dev->device_features() & feature_bit(VIRTIO_BLK_F_DISCARD));
    auto write = submit(VIRTIO_BLK_T_OUT, 0, 512, std::vector<uint8_t>(512, 0xee));
    auto discard = submit_range(VIRTIO_BLK_T_DISCARD, 0, 8);
    auto read = submit(VIRTIO_BLK_T_IN, 0, 512);
    run(*dev);
    EXPECT_EQ(status_of(write), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(status_of(discard), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(status_of(read), VIRTIO_BLK_S_OK);
    EXPECT_EQ(disk_.read(0, 1)[0], 1);
}

TEST_P(BlockDeviceTest, UnknownRequestTypeIsUnsupported) {
    auto dev = make_device();
    auto req = submit(99, 0, 0);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_UNSUPP);
}

TEST_P(BlockDeviceTest, ChainWithoutStatusByteIsReturnedWithLengthZero) {
    auto dev = make_device();
    const Header h{VIRTIO_BLK_T_IN, 0, 0};
    const uint16_t head = vq_.add_chain({{vq_.alloc_bytes(&h, sizeof(h)), sizeof(h)}});
    const uint16_t bad = vq_.add_chain({{1ull << 40, 16}});
    auto good = submit(VIRTIO_BLK_T_IN, 0, 512);
    run(*dev);
    EXPECT_EQ(vq_.used_idx(), 3);
    EXPECT_EQ(vq_.used_element(0).id, head);
    EXPECT_EQ(vq_.used_element(0).len, 0u);
    EXPECT_EQ(vq_.used_element(1).id, bad);
    EXPECT_EQ(status_of(good), VIRTIO_BLK_S_OK);
    EXPECT_EQ(dev->counters().invalid_reqs_count, 2u);
    EXPECT_FALSE(dev->needs_reset());
}

TEST_P(BlockDeviceTest, AvailIndexRunningAheadMarksDeviceNeedsReset) {
    auto dev = make_device();
    vq_.set_avail_idx(100);
    run(*dev);
    EXPECT_TRUE(dev->needs_reset());
    EXPECT_TRUE(interrupt_.status() & kInterruptConfigChange);
}

TEST_P(BlockDeviceTest, RateLimiterThrottlesOpsAndResumesOnTheTimer) {
    auto dev = make_device({.ops = {1, 0, 1000}});
    auto first = submit(VIRTIO_BLK_T_IN, 0, 512);
    auto second = submit(VIRTIO_BLK_T_IN, 1, 512);
    run(*dev);
    EXPECT_EQ(status_of(first), VIRTIO_BLK_S_OK);
    EXPECT_EQ(status_of(second), 0xff);
    EXPECT_EQ(vq_.used_idx(), 1);
    EXPECT_EQ(dev->counters().rate_limiter_throttled_events, 1u);
    EXPECT_TRUE(dev->rate_limiter().is_blocked());

    clock_.advance(std::chrono::seconds(1));
    pollfd pfd{dev->rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    dev->process_rate_limiter_event();
    while (dev->in_flight() > 0) {
        pollfd c{dev->completion_fd(), POLLIN, 0};
        ASSERT_EQ(::poll(&c, 1, 5000), 1);
        dev->process_completions();
    }
    EXPECT_EQ(status_of(second), VIRTIO_BLK_S_OK);
    EXPECT_EQ(vq_.used_idx(), 2);
}

TEST_P(BlockDeviceTest, BandwidthLimitGivesTheOpTokenBack) {
    auto dev = make_device({.bandwidth = {1024, 0, 1000}, .ops = {10, 0, 1000}});
    submit(VIRTIO_BLK_T_IN, 0, 1024);
    submit(VIRTIO_BLK_T_IN, 2, 512);
    run(*dev);
    EXPECT_EQ(vq_.used_idx(), 1);
    // Two ops taken, one given back.
    EXPECT_EQ(dev->rate_limiter().ops()->budget(), 9u);
}

TEST_P(BlockDeviceTest, UpdateDiskChangesCapacityAndSignalsConfigChange) {
    auto dev = make_device();
    TempDisk bigger(2 * kDiskBytes);
    const uint32_t generation = dev->config_generation();
    ASSERT_TRUE(dev->update_disk(bigger.path()).has_value());
    EXPECT_EQ(dev->capacity_sectors(), 2 * kDiskBytes / 512);
    EXPECT_EQ(dev->config_generation(), generation + 1);
    EXPECT_TRUE(interrupt_.status() & kInterruptConfigChange);
    auto req = submit(VIRTIO_BLK_T_IN, 3000, 512);
    run(*dev);
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
    EXPECT_FALSE(dev->update_disk("/nonexistent/disk.img").has_value());
    EXPECT_EQ(dev->counters().update_fails, 1u);
}

TEST_P(BlockDeviceTest, DeclaresOneCompletionFdThatOutlivesUpdateDisk) {
    auto dev = make_device();
    const int completion_fd = dev->completion_fd();
    std::vector<EventSource> sources = dev->event_sources();
    std::vector<int> fds;
    fds.reserve(sources.size());
    for (const EventSource& source : sources) fds.push_back(source.fd);
    if (GetParam() == IoEngine::kSync) {
        EXPECT_EQ(completion_fd, -1);  // It completes inside submit(): nothing to watch.
        EXPECT_EQ(fds, std::vector<int>{dev->rate_limiter_fd()});
    } else {
        EXPECT_GE(completion_fd, 0);
        EXPECT_EQ(fds, (std::vector<int>{dev->rate_limiter_fd(), completion_fd}));
    }
    TempDisk other;
    ASSERT_TRUE(dev->update_disk(other.path()).has_value());
    EXPECT_EQ(dev->completion_fd(), completion_fd);
    // The new ring signals the fd declared before the update, and its handler reaps it.
    auto req = submit(VIRTIO_BLK_T_IN, 0, 512);
    dev->process_queue(0);
    while (dev->in_flight() > 0) {
        pollfd pfd{completion_fd, POLLIN, 0};
        ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
        EXPECT_EQ(sources.back().handler(), EventSource::Next::kKeepWatching);
    }
    EXPECT_EQ(status_of(req), VIRTIO_BLK_S_OK);
}

TEST_P(BlockDeviceTest, ResetWaitsForInFlightIoAndForgetsTheQueue) {
    auto dev = make_device();
    submit(VIRTIO_BLK_T_IN, 0, 512);
    dev->process_queue(0);
    dev->reset();
    EXPECT_FALSE(dev->is_activated());
    EXPECT_EQ(dev->in_flight(), 0u);
    EXPECT_FALSE(dev->queues()[0].ready());
}

// What the transport of an active device saves, for the device tests that bypass the registers.
MmioTransportState active_transport_state(const VirtioDevice& device) {
    MmioTransportState state;
    state.status = kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk;
    state.driver_features = device.acked_features();
    state.device = device.save_common_state();
    return state;
}

TEST_P(BlockDeviceTest, SnapshotRestoreContinuesRequestsAtTheSavedRingIndices) {
    auto dev = make_device();
    auto first = submit(VIRTIO_BLK_T_IN, 0, 512);
    auto second = submit(VIRTIO_BLK_T_IN, 1, 512);
    dev->process_queue(0);
    if (!dev->drained()) {
        EXPECT_FALSE(dev->save_state().has_value());
    }
    ASSERT_TRUE(dev->quiesce().has_value());
    EXPECT_TRUE(dev->drained());
    EXPECT_EQ(status_of(first), VIRTIO_BLK_S_OK);
    EXPECT_EQ(status_of(second), VIRTIO_BLK_S_OK);
    auto block_state = dev->save_state();
    ASSERT_TRUE(block_state.has_value()) << block_state.error().message();
    EXPECT_EQ(block_state->disk_size_bytes, kDiskBytes);
    const MmioTransportState transport_state = active_transport_state(*dev);
    dev.reset();

    // The caller gives the backing file again.
    auto restored = make_inactive_device();
    ASSERT_NE(restored, nullptr);
    ASSERT_TRUE(restored->restore_state(*block_state).has_value());
    testing::FakeIrqLine irq;
    MmioTransport transport(*restored, memory_, irq);
    auto done = transport.restore_state(transport_state);
    ASSERT_TRUE(done.has_value()) << done.error().message();
    ASSERT_TRUE(restored->is_activated());
    uint8_t config[8] = {};
    transport.read(mmio::kConfig, config);
    EXPECT_EQ(config[0], kDiskBytes / kSectorSize % 256);
    EXPECT_EQ(config[1], kDiskBytes / kSectorSize / 256);

    auto third = submit(VIRTIO_BLK_T_IN, 5, 512);
    run(*restored);
    EXPECT_EQ(status_of(third), VIRTIO_BLK_S_OK);
    EXPECT_EQ(vq_.read(third.data, 512)[0], 6);
    EXPECT_EQ(vq_.used_idx(), 3);
    EXPECT_EQ(vq_.used_element(2).id, third.head);
    EXPECT_EQ(vq_.used_element(2).len, 513u);
}

TEST_P(BlockDeviceTest, SnapshotRestoreKeepsTheRateLimiterDrained) {
    // One op per second. The second request waits for tokens when the VM is snapshotted.
    const BlockDeviceOptions limited{.ops = {1, 0, 1000}};
    auto dev = make_device(limited);
    submit(VIRTIO_BLK_T_IN, 0, 512);
    auto second = submit(VIRTIO_BLK_T_IN, 1, 512);
    run(*dev);
    ASSERT_EQ(vq_.used_idx(), 1);
    clock_.advance(std::chrono::milliseconds(300));
    ASSERT_TRUE(dev->quiesce().has_value());
    auto block_state = dev->save_state();
    ASSERT_TRUE(block_state.has_value()) << block_state.error().message();
    ASSERT_TRUE(block_state->rate_limiter.ops.has_value());
    EXPECT_EQ(block_state->rate_limiter.ops->budget, 0u);
    EXPECT_FALSE(block_state->rate_limiter.bandwidth.has_value());
    const MmioTransportState transport_state = active_transport_state(*dev);
    dev.reset();

    // Restored an hour later: the hour does not refill the bucket.
    clock_.advance(std::chrono::hours(1));
    auto restored = make_inactive_device(limited);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(restored->rate_limiter().ops()->budget(), 1u);
    ASSERT_TRUE(restored->restore_state(*block_state).has_value());
    EXPECT_EQ(restored->rate_limiter().ops()->budget(), 0u);
    testing::FakeIrqLine irq;
    MmioTransport transport(*restored, memory_, irq);
    ASSERT_TRUE(transport.restore_state(transport_state).has_value());
    run(*restored);
    EXPECT_EQ(vq_.used_idx(), 1);
    EXPECT_EQ(status_of(second), 0xff);
    EXPECT_EQ(restored->counters().rate_limiter_throttled_events, 1u);

    // The 700 ms left of the second before the save complete the token.
    clock_.advance(std::chrono::milliseconds(700));
    pollfd pfd{restored->rate_limiter_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    restored->process_rate_limiter_event();
    ASSERT_TRUE(restored->quiesce().has_value());
    EXPECT_EQ(status_of(second), VIRTIO_BLK_S_OK);
    EXPECT_EQ(vq_.used_idx(), 2);
}

TEST_P(BlockDeviceTest, RestoreClampsHostileLimiterStateAndIgnoresDisabledBuckets) {
    auto dev = make_inactive_device({.ops = {10, 5, 1000}});
    ASSERT_NE(dev, nullptr);
    BlockDeviceState state{.device_features = dev->device_features(),
                           .disk_size_bytes = kDiskBytes};
    const TokenBucketState hostile{
        .budget = UINT64_MAX, .one_time_burst = UINT64_MAX, .elapsed_ns = UINT64_MAX};
    state.rate_limiter = {.bandwidth = hostile, .ops = hostile};
    ASSERT_TRUE(dev->restore_state(state).has_value());
    EXPECT_EQ(dev->rate_limiter().bandwidth(), nullptr);
    EXPECT_EQ(dev->rate_limiter().ops()->budget(), 10u);
    EXPECT_EQ(dev->rate_limiter().ops()->one_time_burst(), 5u);
    // Elapsed time is capped at one refill time.
    EXPECT_EQ(dev->rate_limiter().ops()->last_update_ns(), clock_.now_ns() - 1'000'000'000);
}

TEST_P(BlockDeviceTest, RestoreRefusesADiskOfAnotherSizeOrOtherFeatures) {
    auto dev = make_device();
    auto state = dev->save_state();
    ASSERT_TRUE(state.has_value());
    TempDisk smaller(kDiskBytes / 2);
    BlockDeviceOptions options;
    options.path = smaller.path();
    options.engine = GetParam();
    auto other = BlockDevice::create(options);
    ASSERT_TRUE(other.has_value());
    EXPECT_FALSE((*other)->restore_state(*state).has_value());

    options.path = disk_.path();
    options.access = Access::kReadOnly;
    auto read_only = BlockDevice::create(options);
    ASSERT_TRUE(read_only.has_value());
    EXPECT_FALSE((*read_only)->restore_state(*state).has_value());
    // An active device is never a restore target.
    EXPECT_FALSE(dev->restore_state(*state).has_value());
}

INSTANTIATE_TEST_SUITE_P(Engines, BlockDeviceTest,
                         ::testing::Values(IoEngine::kSync, IoEngine::kAsync),
                         [](const ::testing::TestParamInfo<IoEngine>& engine) {
                             return engine.param == IoEngine::kSync ? "Sync" : "IoUring";
                         });

}  // namespace
}  // namespace ember::virtio
