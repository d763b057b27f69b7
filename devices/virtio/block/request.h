// BlockRequest: a virtio-blk request parsed from a descriptor chain (virtio 1.2 §5.2.6). The
// layout is taken as byte streams, as VIRTIO_F_ANY_LAYOUT allows: the 16-byte header starts the
// device-readable part, the status byte ends the device-writable part, and the data is what lies
// between. Parsing checks the layout only; the device checks sectors against its capacity.
// Thread: the vmm thread.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "devices/virtio/descriptor_chain.h"
#include "vmm/base/result.h"

namespace ember::virtio {

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint32_t kBlockIdBytes = 20;
inline constexpr uint64_t kMaxParsedRanges = 16;

enum class RequestType { kIn, kOut, kFlush, kGetId, kDiscard, kWriteZeroes, kUnsupported };

// virtio 1.2 §5.2.6: struct virtio_blk_discard_write_zeroes.
struct BlockRange {
    uint64_t sector = 0;
    uint32_t num_sectors = 0;
    uint32_t flags = 0;
};

struct BlockRequest {
    RequestType type = RequestType::kUnsupported;
    uint32_t raw_type = 0;
    uint64_t sector = 0;
    // The data buffers: device-writable for IN and GET_ID, device-readable for OUT. Host
    // addresses inside guest RAM, valid while the device is active.
    std::vector<iovec> data;
    uint64_t data_len = 0;
    // DISCARD and WRITE_ZEROES: how many segments follow the header, and the first
    // kMaxParsedRanges of them.
    uint64_t range_count = 0;
    std::vector<BlockRange> ranges;
    // The status byte: the last device-writable byte of the chain.
    uint8_t* status = nullptr;
};

// Fails when the chain cannot carry a request at all: no header or no status byte. Such a chain
// is returned to the driver with used length 0.
Result<BlockRequest> parse_block_request(const DescriptorChain& chain);

}  // namespace ember::virtio
