// The part every virtio-mmio device blob shares: where the device sat (its MMIO window and GSI)
// and its transport state, the virtio device's common state and queues included. block_persist
// and net_persist put it under their blob's kSlot field, beside their config and device state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/virtio/transport/mmio_transport.h"
#include "vmm/base/result.h"
#include "vmm/persist/blob_reader.h"

namespace ember::snapshot {

// More queues than any Ember device has: a blob claiming more is refused before any allocation.
inline constexpr uint32_t kMaxQueues = 16;

// The top level of the virtio device blobs. Never renumber or reuse a tag.
namespace virtio_blob_tag {
enum : uint32_t { kConfig = 1, kSlot = 2, kDevice = 3 };
}

// Where a virtio-mmio device sat and its transport state.
struct VirtioSlotState {
    uint64_t mmio_base = 0;
    uint32_t gsi = 0;
    virtio::MmioTransportState transport;
    bool operator==(const VirtioSlotState&) const = default;
};

// The slot as a nested payload. QueueState::reserved is not stored: it is padding and decodes
// as 0. decode_slot refuses more than kMaxQueues queues.
std::vector<uint8_t> encode_slot(const VirtioSlotState& s);
Result<VirtioSlotState> decode_slot(const BlobReader& r);

// "mmio <base> gsi <n>, status <s>[ active], q0 size ... " for describe().
std::string slot_summary(const VirtioSlotState& s);

}  // namespace ember::snapshot
