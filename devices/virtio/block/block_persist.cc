#include "devices/virtio/block/block_persist.h"

#include <fmt/core.h>

#include "devices/rate_limiter_persist.h"
#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Field tags, one enum per struct. Never renumber or reuse a tag: add new ones at the end.
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
// The rate limiter state is optional: snapshots from before Ember saved it lack it.
namespace block_state_tag {
enum : uint32_t { kDeviceFeatures = 1, kDiskSizeBytes = 2, kRateLimiter = 3 };
}

constexpr const char* kBlockContext = "snapshot device virtio-block";

void write_flag(FieldWriter& w, uint32_t tag, bool value) { w.u32(tag, value ? 1 : 0); }

}  // namespace

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
    return make_device_blob(c.drive_id, kBlockType, w);
}

Result<BlockSnapshot> decode_block(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kBlockType, kBlockContext));
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

std::string summarize_block(const BlockSnapshot& s) {
    const DriveConfig& c = s.drive;
    return fmt::format("drive \"{}\" {} {}{}, {} engine, {} MiB{}, {}", c.drive_id, c.path_on_host,
                       c.is_read_only ? "read-only" : "read-write", c.is_root_device ? " root" : "",
                       c.io_engine == IoEngine::kAsync ? "async" : "sync",
                       s.device.disk_size_bytes >> 20,
                       limiter_summary("limiter", s.device.rate_limiter), slot_summary(s.slot));
}

}  // namespace ember::snapshot
