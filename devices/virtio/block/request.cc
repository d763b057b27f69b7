#include "devices/virtio/block/request.h"

#include <linux/virtio_blk.h>

#include <algorithm>

namespace ember::virtio {
namespace {

// The iovecs covering `len` bytes of `descriptors` starting `skip` bytes in.
std::vector<iovec> slice_iovecs(std::span<const Descriptor> descriptors, uint64_t skip,
                                uint64_t len) {
    std::vector<iovec> out;
    for (const Descriptor& d : descriptors) {
        if (len == 0) break;
        const uint64_t size = d.host.size();
        if (skip >= size) {
            skip -= size;
            continue;
        }
        const uint64_t n = std::min(size - skip, len);
        out.push_back({d.host.data() + skip, static_cast<size_t>(n)});
        len -= n;
        skip = 0;
    }
    return out;
}

RequestType type_of(uint32_t raw) {
    switch (raw) {
        case VIRTIO_BLK_T_IN: return RequestType::kIn;
        case VIRTIO_BLK_T_OUT: return RequestType::kOut;
        case VIRTIO_BLK_T_FLUSH: return RequestType::kFlush;
        case VIRTIO_BLK_T_GET_ID: return RequestType::kGetId;
        case VIRTIO_BLK_T_DISCARD: return RequestType::kDiscard;
        case VIRTIO_BLK_T_WRITE_ZEROES: return RequestType::kWriteZeroes;
        default: return RequestType::kUnsupported;
    }
}

}  // namespace

Result<BlockRequest> parse_block_request(const DescriptorChain& chain) {
    struct Header {
        uint32_t type;
        uint32_t ioprio;
        uint64_t sector;
    } header{};
    static_assert(sizeof(Header) == sizeof(virtio_blk_outhdr));

    ChainReader reader(chain.readable());
    if (reader.read({reinterpret_cast<uint8_t*>(&header), sizeof(header)}) != sizeof(header)) {
        return Error::invalid("virtio-blk request", "header shorter than 16 bytes");
    }
    const uint64_t writable = chain.writable_bytes();
    if (writable == 0) return Error::invalid("virtio-blk request", "no status byte");

    BlockRequest req;
    req.raw_type = header.type;
    req.type = type_of(header.type);
    req.sector = header.sector;

    // The status byte is the last byte of the last writable descriptor.
    const Descriptor& last = chain.writable().back();
    if (last.host.empty()) {
        return Error::invalid("virtio-blk request", "empty last descriptor");
    }
    req.status = last.host.data() + last.host.size() - 1;

    switch (req.type) {
        case RequestType::kIn:
        case RequestType::kGetId:
            req.data_len = writable - 1;
            req.data = slice_iovecs(chain.writable(), 0, req.data_len);
            break;
        case RequestType::kOut:
            req.data_len = chain.readable_bytes() - sizeof(Header);
            req.data = slice_iovecs(chain.readable(), sizeof(Header), req.data_len);
            break;
        case RequestType::kDiscard:
        case RequestType::kWriteZeroes: {
            const uint64_t bytes = chain.readable_bytes() - sizeof(Header);
            req.data_len = bytes;
            if (bytes % sizeof(virtio_blk_discard_write_zeroes) != 0) {
                return Error::invalid("virtio-blk request", "partial discard segment");
            }
            req.range_count = bytes / sizeof(virtio_blk_discard_write_zeroes);
            // The guest controls the count: keep only as many as any device accepts.
            const uint64_t kept = std::min<uint64_t>(req.range_count, kMaxParsedRanges);
            req.ranges.reserve(kept);
            for (uint64_t i = 0; i < kept; ++i) {
                BlockRange range;
                static_assert(sizeof(BlockRange) == sizeof(virtio_blk_discard_write_zeroes));
                reader.read({reinterpret_cast<uint8_t*>(&range), sizeof(range)});
                req.ranges.push_back(range);
            }
            break;
        }
        case RequestType::kFlush:
        case RequestType::kUnsupported: break;
    }
    return req;
}

}  // namespace ember::virtio
