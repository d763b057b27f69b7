// DescriptorChain: one request the driver made available, walked and validated in full before the
// device looks at it (virtio 1.2 §2.7.5). Every descriptor's buffer is checked to lie in guest
// RAM and is kept as a host span; loops, chains longer than the queue, out-of-range indices,
// misplaced or nested indirect tables and readable-after-writable layouts are refused.
// Thread: the vmm thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/memory/guest_address.h"
#include "vmm/memory/guest_memory.h"

namespace ember::virtio {

struct Descriptor {
    GuestAddress addr;
    uint32_t len = 0;
    uint16_t flags = 0;
    std::span<uint8_t> host;  // [addr, addr + len) in the host mapping.

    bool is_write_only() const;
};

enum class IndirectDescriptors { kRefused, kAllowed };

class DescriptorChain {
public:
    // Walks the chain starting at `head` in the table of `queue_size` descriptors at `desc_table`.
    static Result<DescriptorChain> parse(const GuestMemory& memory, GuestAddress desc_table,
                                         uint16_t queue_size, uint16_t head,
                                         IndirectDescriptors indirect);

    uint16_t head_index() const { return head_; }
    std::span<const Descriptor> descriptors() const {
        if (!spilled_.empty()) return spilled_;
        return std::span<const Descriptor>(inline_.data(), count_);
    }
    // Device-readable descriptors come first, then the device-writable ones.
    std::span<const Descriptor> readable() const;
    std::span<const Descriptor> writable() const;
    uint64_t readable_bytes() const { return readable_bytes_; }
    uint64_t writable_bytes() const { return writable_bytes_; }

private:
    // Chains up to this long (a net frame of up to 17 fragments plus header and linear part, a
    // block request of up to 18 segments) live in the object, so that parsing one allocates
    // nothing on the per-request path; longer ones spill to the heap.
    static constexpr size_t kInlineDescriptors = 20;

    DescriptorChain() = default;
    void push(const Descriptor& d);

    uint16_t head_ = 0;
    std::array<Descriptor, kInlineDescriptors> inline_{};
    std::vector<Descriptor> spilled_;
    size_t count_ = 0;
    size_t readable_count_ = 0;
    uint64_t readable_bytes_ = 0;
    uint64_t writable_bytes_ = 0;
};

// Copies between a list of guest buffers (as a DescriptorChain's readable or writable part) and
// host memory, treating the buffers as one contiguous byte stream.
class ChainReader {
public:
    explicit ChainReader(std::span<const Descriptor> descriptors) : descriptors_(descriptors) {}
    // Copies up to out.size() bytes; returns how many were available.
    size_t read(std::span<uint8_t> out);
    size_t remaining() const;

private:
    std::span<const Descriptor> descriptors_;
    size_t index_ = 0;
    size_t offset_ = 0;
};

class ChainWriter {
public:
    explicit ChainWriter(std::span<const Descriptor> descriptors) : descriptors_(descriptors) {}
    // Copies up to in.size() bytes; returns how many fitted.
    size_t write(std::span<const uint8_t> in);
    size_t remaining() const;
    size_t written() const { return written_; }

private:
    std::span<const Descriptor> descriptors_;
    size_t index_ = 0;
    size_t offset_ = 0;
    size_t written_ = 0;
};

}  // namespace ember::virtio
