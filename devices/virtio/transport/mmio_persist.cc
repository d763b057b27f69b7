#include "devices/virtio/transport/mmio_persist.h"

#include <fmt/core.h>

#include "vmm/persist/state_fields.h"

namespace ember::snapshot {
namespace {

// Field tags, one enum per struct. Never renumber or reuse a tag: add new ones at the end.
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

std::string queue_summary(const virtio::VirtioDeviceState& d) {
    std::string out;
    for (size_t i = 0; i < d.queues.size(); ++i) {
        const virtio::QueueState& q = d.queues[i];
        out += fmt::format("{}q{} size {} avail {} used {}{}", i ? ", " : "", i, q.size,
                           q.next_avail, q.next_used, q.ready ? "" : " (not ready)");
    }
    return out.empty() ? "no queues" : out;
}

}  // namespace

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

std::string slot_summary(const VirtioSlotState& s) {
    return fmt::format("mmio {:#x} gsi {}, status {:#x}{}, {}", s.mmio_base, s.gsi,
                       s.transport.status, s.transport.device.activated ? " active" : "",
                       queue_summary(s.transport.device));
}

}  // namespace ember::snapshot
