#include "devices/virtio/descriptor_chain.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "devices/virtio/virtio_spec.h"

namespace ember::virtio {
namespace {

// virtio 1.2 §2.7.5: struct virtq_desc, little-endian as x86 is.
struct RawDescriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(RawDescriptor) == kDescriptorSize);

Error chain_error(const char* what, uint16_t head) {
    return Error::invalid("descriptor chain", fmt::format("{} (head {})", what, head));
}

}  // namespace

bool Descriptor::is_write_only() const { return (flags & kDescFlagWrite) != 0; }

void DescriptorChain::push(const Descriptor& d) {
    if (count_ < kInlineDescriptors) {
        inline_[count_] = d;
    } else {
        if (spilled_.empty()) spilled_.assign(inline_.begin(), inline_.end());
        spilled_.push_back(d);
    }
    ++count_;
}

Result<DescriptorChain> DescriptorChain::parse(const GuestMemory& memory, GuestAddress desc_table,
                                               uint16_t queue_size, uint16_t head,
                                               IndirectDescriptors indirect) {
    if (queue_size == 0 || head >= queue_size) return chain_error("head index out of range", head);

    DescriptorChain chain;
    chain.head_ = head;
    GuestAddress table = desc_table;
    uint32_t table_size = queue_size;
    bool in_indirect = false;
    bool seen_writable = false;
    uint32_t index = head;

    for (;;) {
        // table_size * 16 fits: it is at most 2^16 descriptors of 16 bytes for either table.
        auto raw = memory.read_obj<RawDescriptor>(table + uint64_t{index} * kDescriptorSize);
        if (!raw) return chain_error("descriptor table outside guest memory", head);

        if (raw->flags & kDescFlagIndirect) {
            // virtio 1.2 §2.7.5.3.1: no nested tables, no NEXT together with INDIRECT, and the
            // table is a whole number of descriptors.
            if (indirect == IndirectDescriptors::kRefused) {
                return chain_error("indirect descriptor without VIRTIO_F_INDIRECT_DESC", head);
            }
            if (in_indirect) return chain_error("nested indirect descriptor", head);
            if (raw->flags & kDescFlagNext)
                return chain_error("indirect descriptor with NEXT", head);
            if (raw->len == 0 || raw->len % kDescriptorSize != 0) {
                return chain_error("indirect table length not a multiple of 16", head);
            }
            const uint64_t entries = raw->len / kDescriptorSize;
            if (entries > queue_size)
                return chain_error("indirect table longer than the queue", head);
            if (!memory.contains_range(GuestAddress(raw->addr), raw->len)) {
                return chain_error("indirect table outside guest memory", head);
            }
            table = GuestAddress(raw->addr);
            table_size = static_cast<uint32_t>(entries);
            in_indirect = true;
            index = 0;
            continue;
        }

        // Counting every descriptor bounds the walk: a loop runs into this limit.
        if (chain.count_ >= queue_size) {
            return chain_error("chain longer than the queue (loop?)", head);
        }
        auto host = memory.slice(GuestAddress(raw->addr), raw->len);
        if (!host) return chain_error("buffer outside guest memory", head);

        Descriptor desc{GuestAddress(raw->addr), raw->len, raw->flags, *host};
        if (desc.is_write_only()) {
            // The device may write any of it: a diff snapshot must include these pages.
            memory.mark_dirty(desc.addr, raw->len);
            seen_writable = true;
            chain.writable_bytes_ += raw->len;
        } else {
            // virtio 1.2 §2.7.4.2: device-readable descriptors precede device-writable ones.
            if (seen_writable) return chain_error("readable descriptor after a writable one", head);
            chain.readable_bytes_ += raw->len;
            ++chain.readable_count_;
        }
        chain.push(desc);

        if (!(raw->flags & kDescFlagNext)) break;
        index = raw->next;
        if (index >= table_size) return chain_error("next index out of range", head);
    }
    return chain;
}

std::span<const Descriptor> DescriptorChain::readable() const {
    return descriptors().first(readable_count_);
}

std::span<const Descriptor> DescriptorChain::writable() const {
    return descriptors().subspan(readable_count_);
}

size_t ChainReader::read(std::span<uint8_t> out) {
    size_t done = 0;
    while (done < out.size() && index_ < descriptors_.size()) {
        const auto& host = descriptors_[index_].host;
        const size_t n = std::min(out.size() - done, host.size() - offset_);
        std::memcpy(out.data() + done, host.data() + offset_, n);
        done += n;
        offset_ += n;
        if (offset_ == host.size()) {
            ++index_;
            offset_ = 0;
        }
    }
    return done;
}

size_t ChainReader::remaining() const {
    size_t total = 0;
    for (size_t i = index_; i < descriptors_.size(); ++i) total += descriptors_[i].host.size();
    return total - offset_;
}

size_t ChainWriter::write(std::span<const uint8_t> in) {
    size_t done = 0;
    while (done < in.size() && index_ < descriptors_.size()) {
        const auto& host = descriptors_[index_].host;
        const size_t n = std::min(in.size() - done, host.size() - offset_);
        std::memcpy(host.data() + offset_, in.data() + done, n);
        done += n;
        offset_ += n;
        if (offset_ == host.size()) {
            ++index_;
            offset_ = 0;
        }
    }
    written_ += done;
    return done;
}

size_t ChainWriter::remaining() const {
    size_t total = 0;
    for (size_t i = index_; i < descriptors_.size(); ++i) total += descriptors_[i].host.size();
    return total - offset_;
}

}  // namespace ember::virtio
