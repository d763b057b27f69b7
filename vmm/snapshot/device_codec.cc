#include "vmm/snapshot/device_codec.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "vmm/snapshot/blob_reader.h"
#include "vmm/snapshot/state_fields.h"

namespace ember::snapshot {
namespace {

// Field tags, one enum per struct. Never renumber or reuse a tag: add new ones at the end.
namespace serial_tag {
enum : uint32_t {
    kIer = 1,
    kLcr = 2,
    kMcr = 3,
    kScr = 4,
    kDll = 5,
    kDlm = 6,
    kThrEmptyPending = 7,
    kRxLen = 8,
    kRx = 9
};
}
namespace i8042_tag {
enum : uint32_t {
    kStatus = 1,
    kControl = 2,
    kOutputPort = 3,
    kPendingCommand = 4,
    kBufferLen = 5,
    kBuffer = 6
};
}
namespace cmos_tag {
enum : uint32_t {
    kClockOffsetS = 1,
    kSetSec = 2,
    kSetMin = 3,
    kSetHour = 4,
    kSetMday = 5,
    kSetMon = 6,
    kSetYear = 7,
    kSetWday = 8,
    kIndex = 9,
    kNmiDisabled = 10,
    kSetting = 11,
    kRam = 12
};
}
namespace boot_timer_tag {
enum : uint32_t { kWallUs = 1, kCpuUs = 2, kReported = 3 };
}
namespace token_bucket_tag {
enum : uint32_t { kSize = 1, kOneTimeBurst = 2, kRefillTimeMs = 3 };
}
namespace token_bucket_state_tag {
enum : uint32_t { kBudget = 1, kOneTimeBurst = 2, kElapsedNs = 3 };
}
// Both RateLimiterConfig and RateLimiterState.
namespace rate_limiter_tag {
enum : uint32_t { kBandwidth = 1, kOps = 2 };
}
namespace queue_tag {
enum : uint32_t {
    kSize = 1,
    kNextAvail = 2,
    kNextUsed = 3,
    kNumAdded = 4,
    kReady = 5,
    kEventIdx = 6,
    kIndirect = 7,
    kDescTable = 8,
    kAvailRing = 9,
    kUsedRing = 10
};
}
namespace virtio_device_tag {
// Queue i is the nested field kQueueBase + i, i < kQueueCount <= kMaxQueues.
enum : uint32_t {
    kAckedFeatures = 1,
    kConfigGeneration = 2,
    kActivated = 3,
    kNeedsReset = 4,
    kQueueCount = 5,
    kQueueBase = 0x100
};
}  // namespace virtio_device_tag
namespace transport_tag {
enum : uint32_t {
    kStatus = 1,
    kDeviceFeaturesSel = 2,
    kDriverFeaturesSel = 3,
    kQueueSel = 4,
    kDriverFeatures = 5,
    kInterruptStatus = 6,
    kActivateFailed = 7,
    kDevice = 8
};
}
namespace slot_tag {
enum : uint32_t { kMmioBase = 1, kGsi = 2, kTransport = 3 };
}
namespace drive_tag {
enum : uint32_t {
    kDriveId = 1,
    kPathOnHost = 2,
    kIsRootDevice = 3,
    kPartuuid = 4,
    kIsReadOnly = 5,
    kCacheType = 6,
    kIoEngine = 7,
    kRateLimiter = 8
};
}
namespace net_config_tag {
enum : uint32_t {
    kIfaceId = 1,
    kHostDevName = 2,
    kGuestMac = 3,
    kMtu = 4,
    kRxRateLimiter = 5,
    kTxRateLimiter = 6
};
}
// The rate limiter states are optional: snapshots from before Ember saved them lack them.
namespace block_state_tag {
enum : uint32_t { kDeviceFeatures = 1, kDiskSizeBytes = 2, kRateLimiter = 3 };
}
namespace net_state_tag {
enum : uint32_t {
    kDeviceFeatures = 1,
    kMac = 2,
    kMtu = 3,
    kTapOffload = 4,
    kRxRateLimiter = 5,
    kTxRateLimiter = 6
};
}
// The top level of the virtio blobs.
namespace virtio_blob_tag {
enum : uint32_t { kConfig = 1, kSlot = 2, kDevice = 3 };
}

constexpr const char* kSerialContext = "snapshot device serial-8250";
constexpr const char* kI8042Context = "snapshot device i8042";
constexpr const char* kCmosContext = "snapshot device cmos-rtc";
constexpr const char* kBootTimerContext = "snapshot device boot-timer";
constexpr const char* kBlockContext = "snapshot device virtio-block";
constexpr const char* kNetContext = "snapshot device virtio-net";

DeviceState blob(std::string id, std::string_view type, FieldWriter& w) {
    return DeviceState{.id = std::move(id),
                       .type = std::string(type),
                       .version = kDeviceBlobVersion,
                       .data = w.take()};
}

void write_flag(FieldWriter& w, uint32_t tag, bool value) { w.u32(tag, value ? 1 : 0); }

// The envelope: the right type and a version this Ember knows.
Result<BlobReader> open(const DeviceState& d, std::string_view type, const char* context) {
    if (d.type != type) {
        return Error::invalid(context, fmt::format("blob has type \"{}\"", d.type));
    }
    if (d.version != kDeviceBlobVersion) {
        return Error::invalid(
            context, fmt::format("blob version {} is unknown (this Ember reads {})", d.version,
                                 kDeviceBlobVersion));
    }
    return BlobReader::parse(d.data, context, "");
}

std::vector<uint8_t> encode_token_bucket(const TokenBucketConfig& b) {
    FieldWriter w;
    w.u64(token_bucket_tag::kSize, b.size);
    w.u64(token_bucket_tag::kOneTimeBurst, b.one_time_burst);
    w.u64(token_bucket_tag::kRefillTimeMs, b.refill_time_ms);
    return w.take();
}

Result<void> decode_token_bucket(const BlobReader& r, TokenBucketConfig& b) {
    EMBER_TRY(r.u64(token_bucket_tag::kSize, "size", b.size));
    EMBER_TRY(r.u64(token_bucket_tag::kOneTimeBurst, "one_time_burst", b.one_time_burst));
    EMBER_TRY(r.u64(token_bucket_tag::kRefillTimeMs, "refill_time_ms", b.refill_time_ms));
    return ok();
}

// Any values: TokenBucket::restore clamps them to the configuration.
std::vector<uint8_t> encode_token_bucket(const TokenBucketState& b) {
    FieldWriter w;
    w.u64(token_bucket_state_tag::kBudget, b.budget);
    w.u64(token_bucket_state_tag::kOneTimeBurst, b.one_time_burst);
    w.u64(token_bucket_state_tag::kElapsedNs, b.elapsed_ns);
    return w.take();
}

Result<void> decode_token_bucket(const BlobReader& r, TokenBucketState& b) {
    EMBER_TRY(r.u64(token_bucket_state_tag::kBudget, "budget", b.budget));
    EMBER_TRY(r.u64(token_bucket_state_tag::kOneTimeBurst, "one_time_burst", b.one_time_burst));
    EMBER_TRY(r.u64(token_bucket_state_tag::kElapsedNs, "elapsed_ns", b.elapsed_ns));
    return ok();
}

// Limiter is RateLimiterConfig or RateLimiterState: an optional bucket for bytes and one for ops.
template <typename Limiter>
std::vector<uint8_t> encode_rate_limiter(const Limiter& l) {
    FieldWriter w;
    if (l.bandwidth) w.bytes(rate_limiter_tag::kBandwidth, encode_token_bucket(*l.bandwidth));
    if (l.ops) w.bytes(rate_limiter_tag::kOps, encode_token_bucket(*l.ops));
    return w.take();
}

template <typename Bucket>
Result<void> read_optional_bucket(const BlobReader& r, uint32_t tag, const char* name,
                                  std::optional<Bucket>& out) {
    out.reset();
    if (auto nested = EMBER_TRY(r.optional_nested(tag, name))) {
        EMBER_TRY(decode_token_bucket(*nested, out.emplace()));
    }
    return ok();
}

template <typename Limiter>
Result<Limiter> decode_rate_limiter(const BlobReader& r) {
    Limiter l;
    EMBER_TRY(read_optional_bucket(r, rate_limiter_tag::kBandwidth, "bandwidth", l.bandwidth));
    EMBER_TRY(read_optional_bucket(r, rate_limiter_tag::kOps, "ops", l.ops));
    return l;
}

void write_optional_rate_limiter(FieldWriter& w, uint32_t tag,
                                 const std::optional<RateLimiterConfig>& l) {
    if (l) w.bytes(tag, encode_rate_limiter(*l));
}

Result<void> read_optional_rate_limiter(const BlobReader& r, uint32_t tag, const char* name,
                                        std::optional<RateLimiterConfig>& out) {
    out.reset();
    if (auto nested = EMBER_TRY(r.optional_nested(tag, name))) {
        out = EMBER_TRY(decode_rate_limiter<RateLimiterConfig>(*nested));
    }
    return ok();
}

// A limiter without enabled buckets writes nothing, as the snapshots from before the state was
// saved; a missing field reads as no state, and the restored buckets start full.
void write_limiter_state(FieldWriter& w, uint32_t tag, const RateLimiterState& l) {
    if (l.bandwidth || l.ops) w.bytes(tag, encode_rate_limiter(l));
}

Result<void> read_limiter_state(const BlobReader& r, uint32_t tag, const char* name,
                                RateLimiterState& out) {
    out = {};
    if (auto nested = EMBER_TRY(r.optional_nested(tag, name))) {
        out = EMBER_TRY(decode_rate_limiter<RateLimiterState>(*nested));
    }
    return ok();
}

std::vector<uint8_t> encode_queue(const virtio::QueueState& q) {
    FieldWriter w;
    w.u32(queue_tag::kSize, q.size);
    w.u32(queue_tag::kNextAvail, q.next_avail);
    w.u32(queue_tag::kNextUsed, q.next_used);
    w.u32(queue_tag::kNumAdded, q.num_added);
    w.u32(queue_tag::kReady, q.ready);
    w.u32(queue_tag::kEventIdx, q.event_idx);
    w.u32(queue_tag::kIndirect, q.indirect);
    w.u64(queue_tag::kDescTable, q.desc_table);
    w.u64(queue_tag::kAvailRing, q.avail_ring);
    w.u64(queue_tag::kUsedRing, q.used_ring);
    return w.take();
}

Result<virtio::QueueState> decode_queue(const BlobReader& r) {
    virtio::QueueState q;
    EMBER_TRY(r.number(queue_tag::kSize, "size", q.size));
    EMBER_TRY(r.number(queue_tag::kNextAvail, "next_avail", q.next_avail));
    EMBER_TRY(r.number(queue_tag::kNextUsed, "next_used", q.next_used));
    EMBER_TRY(r.number(queue_tag::kNumAdded, "num_added", q.num_added));
    EMBER_TRY(r.number(queue_tag::kReady, "ready", q.ready));
    EMBER_TRY(r.number(queue_tag::kEventIdx, "event_idx", q.event_idx));
    EMBER_TRY(r.number(queue_tag::kIndirect, "indirect", q.indirect));
    EMBER_TRY(r.u64(queue_tag::kDescTable, "desc_table", q.desc_table));
    EMBER_TRY(r.u64(queue_tag::kAvailRing, "avail_ring", q.avail_ring));
    EMBER_TRY(r.u64(queue_tag::kUsedRing, "used_ring", q.used_ring));
    return q;
}

std::vector<uint8_t> encode_virtio_device(const virtio::VirtioDeviceState& d) {
    FieldWriter w;
    w.u64(virtio_device_tag::kAckedFeatures, d.acked_features);
    w.u32(virtio_device_tag::kConfigGeneration, d.config_generation);
    w.u32(virtio_device_tag::kActivated, d.activated);
    w.u32(virtio_device_tag::kNeedsReset, d.needs_reset);
    w.u32(virtio_device_tag::kQueueCount, static_cast<uint32_t>(d.queues.size()));
    for (size_t i = 0; i < d.queues.size(); ++i) {
        w.bytes(virtio_device_tag::kQueueBase + static_cast<uint32_t>(i),
                encode_queue(d.queues[i]));
    }
    return w.take();
}

Result<virtio::VirtioDeviceState> decode_virtio_device(const BlobReader& r) {
    virtio::VirtioDeviceState d;
    EMBER_TRY(r.u64(virtio_device_tag::kAckedFeatures, "acked_features", d.acked_features));
    EMBER_TRY(
        r.number(virtio_device_tag::kConfigGeneration, "config_generation", d.config_generation));
    EMBER_TRY(r.number(virtio_device_tag::kActivated, "activated", d.activated));
    EMBER_TRY(r.number(virtio_device_tag::kNeedsReset, "needs_reset", d.needs_reset));
    uint32_t count = 0;
    EMBER_TRY(r.number(virtio_device_tag::kQueueCount, "queue_count", count));
    if (count > kMaxQueues) {
        return r.error(fmt::format("{} queues, at most {}", count, kMaxQueues));
    }
    d.queues.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
        std::string name = fmt::format("queue {}", i);
        BlobReader q = EMBER_TRY(r.nested(virtio_device_tag::kQueueBase + i, name.c_str()));
        d.queues.push_back(EMBER_TRY(decode_queue(q)));
    }
    return d;
}

std::vector<uint8_t> encode_slot(const VirtioSlotState& s) {
    const virtio::MmioTransportState& t = s.transport;
    FieldWriter tw;
    tw.u32(transport_tag::kStatus, t.status);
    tw.u32(transport_tag::kDeviceFeaturesSel, t.device_features_sel);
    tw.u32(transport_tag::kDriverFeaturesSel, t.driver_features_sel);
    tw.u32(transport_tag::kQueueSel, t.queue_sel);
    tw.u64(transport_tag::kDriverFeatures, t.driver_features);
    tw.u32(transport_tag::kInterruptStatus, t.interrupt_status);
    tw.u32(transport_tag::kActivateFailed, t.activate_failed);
    tw.bytes(transport_tag::kDevice, encode_virtio_device(t.device));

    FieldWriter w;
    w.u64(slot_tag::kMmioBase, s.mmio_base);
    w.u32(slot_tag::kGsi, s.gsi);
    w.bytes(slot_tag::kTransport, tw.take());
    return w.take();
}

Result<VirtioSlotState> decode_slot(const BlobReader& r) {
    VirtioSlotState s;
    EMBER_TRY(r.u64(slot_tag::kMmioBase, "mmio_base", s.mmio_base));
    EMBER_TRY(r.number(slot_tag::kGsi, "gsi", s.gsi));
    BlobReader tr = EMBER_TRY(r.nested(slot_tag::kTransport, "transport"));
    virtio::MmioTransportState& t = s.transport;
    EMBER_TRY(tr.number(transport_tag::kStatus, "status", t.status));
    EMBER_TRY(
        tr.number(transport_tag::kDeviceFeaturesSel, "device_features_sel", t.device_features_sel));
    EMBER_TRY(
        tr.number(transport_tag::kDriverFeaturesSel, "driver_features_sel", t.driver_features_sel));
    EMBER_TRY(tr.number(transport_tag::kQueueSel, "queue_sel", t.queue_sel));
    EMBER_TRY(tr.u64(transport_tag::kDriverFeatures, "driver_features", t.driver_features));
    EMBER_TRY(tr.number(transport_tag::kInterruptStatus, "interrupt_status", t.interrupt_status));
    EMBER_TRY(tr.number(transport_tag::kActivateFailed, "activate_failed", t.activate_failed));
    BlobReader dr = EMBER_TRY(tr.nested(transport_tag::kDevice, "device"));
    t.device = EMBER_TRY(decode_virtio_device(dr));
    return s;
}

std::string queue_summary(const virtio::VirtioDeviceState& d) {
    std::string out;
    for (size_t i = 0; i < d.queues.size(); ++i) {
        const virtio::QueueState& q = d.queues[i];
        out += fmt::format("{}q{} size {} avail {} used {}{}", i ? ", " : "", i, q.size,
                           q.next_avail, q.next_used, q.ready ? "" : " (not ready)");
    }
    return out.empty() ? "no queues" : out;
}

// ", <name> tokens left: bytes B, ops O (+N burst)" for the buckets with saved state, or nothing.
std::string limiter_summary(std::string_view name, const RateLimiterState& l) {
    std::string out;
    auto bucket = [&out](const char* kind, const std::optional<TokenBucketState>& b) {
        if (!b) return;
        out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kind, b->budget);
        if (b->one_time_burst != 0) out += fmt::format(" (+{} burst)", b->one_time_burst);
    };
    bucket("bytes", l.bandwidth);
    bucket("ops", l.ops);
    return out.empty() ? out : fmt::format(", {} tokens left: {}", name, out);
}

std::string slot_summary(const VirtioSlotState& s) {
    return fmt::format("mmio {:#x} gsi {}, status {:#x}{}, {}", s.mmio_base, s.gsi,
                       s.transport.status, s.transport.device.activated ? " active" : "",
                       queue_summary(s.transport.device));
}

}  // namespace

DeviceState encode_serial(const Serial8250::State& s) {
    FieldWriter w;
    w.u32(serial_tag::kIer, s.ier);
    w.u32(serial_tag::kLcr, s.lcr);
    w.u32(serial_tag::kMcr, s.mcr);
    w.u32(serial_tag::kScr, s.scr);
    w.u32(serial_tag::kDll, s.dll);
    w.u32(serial_tag::kDlm, s.dlm);
    w.u32(serial_tag::kThrEmptyPending, s.thr_empty_pending);
    w.u32(serial_tag::kRxLen, s.rx_len);
    w.bytes(serial_tag::kRx, s.rx);
    return blob("serial", kSerialType, w);
}

Result<Serial8250::State> decode_serial(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open(d, kSerialType, kSerialContext));
    Serial8250::State s;
    EMBER_TRY(r.number(serial_tag::kIer, "ier", s.ier));
    EMBER_TRY(r.number(serial_tag::kLcr, "lcr", s.lcr));
    EMBER_TRY(r.number(serial_tag::kMcr, "mcr", s.mcr));
    EMBER_TRY(r.number(serial_tag::kScr, "scr", s.scr));
    EMBER_TRY(r.number(serial_tag::kDll, "dll", s.dll));
    EMBER_TRY(r.number(serial_tag::kDlm, "dlm", s.dlm));
    EMBER_TRY(r.number(serial_tag::kThrEmptyPending, "thr_empty_pending", s.thr_empty_pending));
    EMBER_TRY(r.number(serial_tag::kRxLen, "rx_len", s.rx_len));
    EMBER_TRY(r.fixed_bytes(serial_tag::kRx, "rx", s.rx));
    return s;
}

DeviceState encode_i8042(const I8042::State& s) {
    FieldWriter w;
    w.u32(i8042_tag::kStatus, s.status);
    w.u32(i8042_tag::kControl, s.control);
    w.u32(i8042_tag::kOutputPort, s.output_port);
    w.u32(i8042_tag::kPendingCommand, s.pending_command);
    w.u32(i8042_tag::kBufferLen, s.buffer_len);
    w.bytes(i8042_tag::kBuffer, s.buffer);
    return blob("i8042", kI8042Type, w);
}

Result<I8042::State> decode_i8042(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open(d, kI8042Type, kI8042Context));
    I8042::State s;
    EMBER_TRY(r.number(i8042_tag::kStatus, "status", s.status));
    EMBER_TRY(r.number(i8042_tag::kControl, "control", s.control));
    EMBER_TRY(r.number(i8042_tag::kOutputPort, "output_port", s.output_port));
    EMBER_TRY(r.number(i8042_tag::kPendingCommand, "pending_command", s.pending_command));
    EMBER_TRY(r.number(i8042_tag::kBufferLen, "buffer_len", s.buffer_len));
    EMBER_TRY(r.fixed_bytes(i8042_tag::kBuffer, "buffer", s.buffer));
    return s;
}

DeviceState encode_cmos(const Cmos::State& s) {
    FieldWriter w;
    w.u64(cmos_tag::kClockOffsetS, static_cast<uint64_t>(s.clock_offset_s));
    w.u32(cmos_tag::kSetSec, static_cast<uint32_t>(s.set_sec));
    w.u32(cmos_tag::kSetMin, static_cast<uint32_t>(s.set_min));
    w.u32(cmos_tag::kSetHour, static_cast<uint32_t>(s.set_hour));
    w.u32(cmos_tag::kSetMday, static_cast<uint32_t>(s.set_mday));
    w.u32(cmos_tag::kSetMon, static_cast<uint32_t>(s.set_mon));
    w.u32(cmos_tag::kSetYear, static_cast<uint32_t>(s.set_year));
    w.u32(cmos_tag::kSetWday, static_cast<uint32_t>(s.set_wday));
    w.u32(cmos_tag::kIndex, s.index);
    w.u32(cmos_tag::kNmiDisabled, s.nmi_disabled);
    w.u32(cmos_tag::kSetting, s.setting);
    w.bytes(cmos_tag::kRam, s.ram);
    return blob("cmos", kCmosType, w);
}

Result<Cmos::State> decode_cmos(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open(d, kCmosType, kCmosContext));
    Cmos::State s;
    EMBER_TRY(r.i64(cmos_tag::kClockOffsetS, "clock_offset_s", s.clock_offset_s));
    EMBER_TRY(r.i32(cmos_tag::kSetSec, "set_sec", s.set_sec));
    EMBER_TRY(r.i32(cmos_tag::kSetMin, "set_min", s.set_min));
    EMBER_TRY(r.i32(cmos_tag::kSetHour, "set_hour", s.set_hour));
    EMBER_TRY(r.i32(cmos_tag::kSetMday, "set_mday", s.set_mday));
    EMBER_TRY(r.i32(cmos_tag::kSetMon, "set_mon", s.set_mon));
    EMBER_TRY(r.i32(cmos_tag::kSetYear, "set_year", s.set_year));
    EMBER_TRY(r.i32(cmos_tag::kSetWday, "set_wday", s.set_wday));
    EMBER_TRY(r.number(cmos_tag::kIndex, "index", s.index));
    EMBER_TRY(r.number(cmos_tag::kNmiDisabled, "nmi_disabled", s.nmi_disabled));
    EMBER_TRY(r.number(cmos_tag::kSetting, "setting", s.setting));
    EMBER_TRY(r.fixed_bytes(cmos_tag::kRam, "ram", s.ram));
    return s;
}

DeviceState encode_boot_timer(const BootTimer::State& s) {
    FieldWriter w;
    w.u64(boot_timer_tag::kWallUs, s.wall_us);
    w.u64(boot_timer_tag::kCpuUs, s.cpu_us);
    w.u32(boot_timer_tag::kReported, s.reported);
    return blob("boot-timer", kBootTimerType, w);
}

Result<BootTimer::State> decode_boot_timer(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open(d, kBootTimerType, kBootTimerContext));
    BootTimer::State s;
    EMBER_TRY(r.u64(boot_timer_tag::kWallUs, "wall_us", s.wall_us));
    EMBER_TRY(r.u64(boot_timer_tag::kCpuUs, "cpu_us", s.cpu_us));
    EMBER_TRY(r.number(boot_timer_tag::kReported, "reported", s.reported));
    return s;
}

DeviceState encode_block(const BlockSnapshot& s) {
    const DriveConfig& c = s.drive;
    FieldWriter cw;
    cw.str(drive_tag::kDriveId, c.drive_id);
    cw.str(drive_tag::kPathOnHost, c.path_on_host);
    write_flag(cw, drive_tag::kIsRootDevice, c.is_root_device);
    if (c.partuuid) cw.str(drive_tag::kPartuuid, *c.partuuid);
    write_flag(cw, drive_tag::kIsReadOnly, c.is_read_only);
    cw.u32(drive_tag::kCacheType, static_cast<uint32_t>(c.cache_type));
    cw.u32(drive_tag::kIoEngine, static_cast<uint32_t>(c.io_engine));
    write_optional_rate_limiter(cw, drive_tag::kRateLimiter, c.rate_limiter);

    FieldWriter dw;
    dw.u64(block_state_tag::kDeviceFeatures, s.device.device_features);
    dw.u64(block_state_tag::kDiskSizeBytes, s.device.disk_size_bytes);
    write_limiter_state(dw, block_state_tag::kRateLimiter, s.device.rate_limiter);

    FieldWriter w;
    w.bytes(virtio_blob_tag::kConfig, cw.take());
    w.bytes(virtio_blob_tag::kSlot, encode_slot(s.slot));
    w.bytes(virtio_blob_tag::kDevice, dw.take());
    return blob(c.drive_id, kBlockType, w);
}

Result<BlockSnapshot> decode_block(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open(d, kBlockType, kBlockContext));
    BlockSnapshot s;
    BlobReader cr = EMBER_TRY(r.nested(virtio_blob_tag::kConfig, "drive"));
    DriveConfig& c = s.drive;
    EMBER_TRY(cr.str(drive_tag::kDriveId, "drive_id", c.drive_id));
    EMBER_TRY(cr.str(drive_tag::kPathOnHost, "path_on_host", c.path_on_host));
    EMBER_TRY(cr.flag(drive_tag::kIsRootDevice, "is_root_device", c.is_root_device));
    EMBER_TRY(cr.optional_str(drive_tag::kPartuuid, "partuuid", c.partuuid));
    EMBER_TRY(cr.flag(drive_tag::kIsReadOnly, "is_read_only", c.is_read_only));
    EMBER_TRY(
        cr.enumeration(drive_tag::kCacheType, "cache_type", c.cache_type, CacheType::kWriteback));
    EMBER_TRY(cr.enumeration(drive_tag::kIoEngine, "io_engine", c.io_engine, IoEngine::kAsync));
    EMBER_TRY(
        read_optional_rate_limiter(cr, drive_tag::kRateLimiter, "rate_limiter", c.rate_limiter));
    if (c.drive_id != d.id) {
        return cr.error(
            fmt::format("drive_id \"{}\" but the blob's id is \"{}\"", c.drive_id, d.id));
    }
    BlobReader sr = EMBER_TRY(r.nested(virtio_blob_tag::kSlot, "slot"));
    s.slot = EMBER_TRY(decode_slot(sr));
    BlobReader dr = EMBER_TRY(r.nested(virtio_blob_tag::kDevice, "device"));
    EMBER_TRY(
        dr.u64(block_state_tag::kDeviceFeatures, "device_features", s.device.device_features));
    EMBER_TRY(dr.u64(block_state_tag::kDiskSizeBytes, "disk_size_bytes", s.device.disk_size_bytes));
    EMBER_TRY(read_limiter_state(dr, block_state_tag::kRateLimiter, "rate_limiter",
                                 s.device.rate_limiter));
    return s;
}

DeviceState encode_net(const NetSnapshot& s) {
    const NetConfig& c = s.net;
    FieldWriter cw;
    cw.str(net_config_tag::kIfaceId, c.iface_id);
    cw.str(net_config_tag::kHostDevName, c.host_dev_name);
    if (c.guest_mac) cw.str(net_config_tag::kGuestMac, *c.guest_mac);
    if (c.mtu) cw.u32(net_config_tag::kMtu, *c.mtu);
    write_optional_rate_limiter(cw, net_config_tag::kRxRateLimiter, c.rx_rate_limiter);
    write_optional_rate_limiter(cw, net_config_tag::kTxRateLimiter, c.tx_rate_limiter);

    FieldWriter dw;
    dw.u64(net_state_tag::kDeviceFeatures, s.device.device_features);
    dw.bytes(net_state_tag::kMac, s.device.mac);
    dw.u32(net_state_tag::kMtu, s.device.mtu);
    dw.u32(net_state_tag::kTapOffload, s.device.tap_offload);
    write_limiter_state(dw, net_state_tag::kRxRateLimiter, s.device.rx_rate_limiter);
    write_limiter_state(dw, net_state_tag::kTxRateLimiter, s.device.tx_rate_limiter);

    FieldWriter w;
    w.bytes(virtio_blob_tag::kConfig, cw.take());
    w.bytes(virtio_blob_tag::kSlot, encode_slot(s.slot));
    w.bytes(virtio_blob_tag::kDevice, dw.take());
    return blob(c.iface_id, kNetType, w);
}

Result<NetSnapshot> decode_net(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open(d, kNetType, kNetContext));
    NetSnapshot s;
    BlobReader cr = EMBER_TRY(r.nested(virtio_blob_tag::kConfig, "net"));
    NetConfig& c = s.net;
    EMBER_TRY(cr.str(net_config_tag::kIfaceId, "iface_id", c.iface_id));
    EMBER_TRY(cr.str(net_config_tag::kHostDevName, "host_dev_name", c.host_dev_name));
    EMBER_TRY(cr.optional_str(net_config_tag::kGuestMac, "guest_mac", c.guest_mac));
    EMBER_TRY(cr.optional_number(net_config_tag::kMtu, "mtu", c.mtu));
    EMBER_TRY(read_optional_rate_limiter(cr, net_config_tag::kRxRateLimiter, "rx_rate_limiter",
                                         c.rx_rate_limiter));
    EMBER_TRY(read_optional_rate_limiter(cr, net_config_tag::kTxRateLimiter, "tx_rate_limiter",
                                         c.tx_rate_limiter));
    if (c.iface_id != d.id) {
        return cr.error(
            fmt::format("iface_id \"{}\" but the blob's id is \"{}\"", c.iface_id, d.id));
    }
    BlobReader sr = EMBER_TRY(r.nested(virtio_blob_tag::kSlot, "slot"));
    s.slot = EMBER_TRY(decode_slot(sr));
    BlobReader dr = EMBER_TRY(r.nested(virtio_blob_tag::kDevice, "device"));
    EMBER_TRY(dr.u64(net_state_tag::kDeviceFeatures, "device_features", s.device.device_features));
    EMBER_TRY(dr.fixed_bytes(net_state_tag::kMac, "mac", s.device.mac));
    EMBER_TRY(dr.number(net_state_tag::kMtu, "mtu", s.device.mtu));
    EMBER_TRY(dr.number(net_state_tag::kTapOffload, "tap_offload", s.device.tap_offload));
    EMBER_TRY(read_limiter_state(dr, net_state_tag::kRxRateLimiter, "rx_rate_limiter",
                                 s.device.rx_rate_limiter));
    EMBER_TRY(read_limiter_state(dr, net_state_tag::kTxRateLimiter, "tx_rate_limiter",
                                 s.device.tx_rate_limiter));
    return s;
}

std::string summarize_device(const DeviceState& d) {
    auto or_error = [](auto decoded, auto format) -> std::string {
        if (!decoded) return "UNREADABLE: " + decoded.error().message();
        return format(*decoded);
    };
    if (d.type == kSerialType) {
        return or_error(decode_serial(d), [](const Serial8250::State& s) {
            return fmt::format("IER {:#x} LCR {:#x} MCR {:#x}, {} input bytes queued{}", s.ier,
                               s.lcr, s.mcr, s.rx_len,
                               s.thr_empty_pending ? ", THRE interrupt pending" : "");
        });
    }
    if (d.type == kI8042Type) {
        return or_error(decode_i8042(d), [](const I8042::State& s) {
            return fmt::format("status {:#x} command byte {:#x}, {} output bytes queued", s.status,
                               s.control, s.buffer_len);
        });
    }
    if (d.type == kCmosType) {
        return or_error(decode_cmos(d), [](const Cmos::State& s) {
            return fmt::format("clock offset {} s, index {:#x}, NMI {}", s.clock_offset_s, s.index,
                               s.nmi_disabled ? "disabled" : "enabled");
        });
    }
    if (d.type == kBootTimerType) {
        return or_error(decode_boot_timer(d), [](const BootTimer::State& s) {
            return s.reported
                       ? fmt::format("boot reported at {} us wall, {} us CPU", s.wall_us, s.cpu_us)
                       : std::string("boot not reported yet");
        });
    }
    if (d.type == kBlockType) {
        return or_error(decode_block(d), [](const BlockSnapshot& s) {
            const DriveConfig& c = s.drive;
            return fmt::format(
                "drive \"{}\" {} {}{}, {} engine, {} MiB{}, {}", c.drive_id, c.path_on_host,
                c.is_read_only ? "read-only" : "read-write", c.is_root_device ? " root" : "",
                c.io_engine == IoEngine::kAsync ? "async" : "sync", s.device.disk_size_bytes >> 20,
                limiter_summary("limiter", s.device.rate_limiter), slot_summary(s.slot));
        });
    }
    if (d.type == kNetType) {
        return or_error(decode_net(d), [](const NetSnapshot& s) {
            const auto& m = s.device.mac;
            return fmt::format(
                "iface \"{}\" tap {} MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}{}{}, {}",
                s.net.iface_id, s.net.host_dev_name, m[0], m[1], m[2], m[3], m[4], m[5],
                limiter_summary("rx limiter", s.device.rx_rate_limiter),
                limiter_summary("tx limiter", s.device.tx_rate_limiter), slot_summary(s.slot));
        });
    }
    return "";
}

}  // namespace ember::snapshot
