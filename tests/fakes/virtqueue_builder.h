// VirtqueueBuilder: plays the driver side of a split virtqueue in a GuestMemory: it lays out the
// descriptor table and rings, writes chains (direct, indirect or deliberately broken), publishes
// them in the available ring and reads back the used ring.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio_spec.h"
#include "vmm/memory/guest_memory.h"

namespace ember::testing {

// Guest RAM at GPA 0 for tests.
inline GuestMemory make_guest_memory(uint64_t size_bytes = 1 << 20) {
    const std::array<GuestRange, 1> ranges{GuestRange{GuestAddress(0), size_bytes}};
    auto memory = GuestMemory::anonymous(ranges);
    EXPECT_TRUE(memory.has_value());
    return std::move(*memory);
}

struct BufferSpec {
    uint64_t gpa;
    uint32_t len;
    bool writable = false;
};

struct UsedElement {
    uint32_t id;
    uint32_t len;
};

class VirtqueueBuilder {
public:
    // Rings at `base`; data buffers are allocated from `base + 64 KiB` upwards.
    VirtqueueBuilder(const GuestMemory& memory, uint16_t size, uint64_t base = 0x1000)
        : memory_(memory),
          size_(size),
          desc_(base),
          avail_(base + 16ull * size),
          used_(align(base + 16ull * size + 6 + 2ull * size, 4)),
          next_data_(base + 0x10000) {}

    uint16_t size() const { return size_; }
    uint64_t desc_table() const { return desc_; }
    uint64_t avail_ring() const { return avail_; }
    uint64_t used_ring() const { return used_; }

    // Applies this layout to a device-side queue, as a driver does through the transport.
    void configure(virtio::Queue& queue) const {
        queue.set_size(size_);
        queue.set_desc_table(GuestAddress(desc_));
        queue.set_avail_ring(GuestAddress(avail_));
        queue.set_used_ring(GuestAddress(used_));
        queue.set_ready(true);
    }

    // A zeroed data buffer in guest RAM.
    uint64_t alloc(uint32_t len, uint32_t alignment = 8) {
        next_data_ = align(next_data_, alignment);
        const uint64_t gpa = next_data_;
        next_data_ += len;
        if (len > 0) {
            std::vector<uint8_t> zeros(len);
            write(gpa, zeros.data(), len);
        }
        return gpa;
    }
    uint64_t alloc_bytes(const void* data, uint32_t len) {
        const uint64_t gpa = alloc(len);
        write(gpa, data, len);
        return gpa;
    }

    void write(uint64_t gpa, const void* data, size_t len) const {
        ASSERT_TRUE(memory_
                        .write(GuestAddress(gpa),
                               std::span<const uint8_t>(static_cast<const uint8_t*>(data), len))
                        .has_value());
    }
    std::vector<uint8_t> read(uint64_t gpa, size_t len) const {
        std::vector<uint8_t> out(len);
        EXPECT_TRUE(memory_.read(GuestAddress(gpa), out).has_value());
        return out;
    }
    template <typename T>
    void write_obj(uint64_t gpa, const T& v) const {
        write(gpa, &v, sizeof(v));
    }
    template <typename T>
    T read_obj(uint64_t gpa) const {
        T v{};
        auto bytes = read(gpa, sizeof(T));
        std::memcpy(&v, bytes.data(), sizeof(T));
        return v;
    }

    // Writes descriptor `index` of the table at `table` (the queue's own table by default).
    void write_descriptor(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                          uint16_t next, uint64_t table = 0) const {
        const uint64_t at = (table ? table : desc_) + 16ull * index;
        write_obj(at, addr);
        write_obj(at + 8, len);
        write_obj(at + 12, flags);
        write_obj(at + 14, next);
    }

    // Writes `buffers` as a chain at consecutive free descriptor slots and publishes it.
    uint16_t add_chain(const std::vector<BufferSpec>& buffers) {
        const uint16_t head = write_chain(buffers);
        publish(head);
        return head;
    }
    uint16_t write_chain(const std::vector<BufferSpec>& buffers) {
        const uint16_t head = next_desc_;
        for (size_t i = 0; i < buffers.size(); ++i) {
            const uint16_t index = static_cast<uint16_t>((head + i) % size_);
            const bool last = i + 1 == buffers.size();
            uint16_t flags = buffers[i].writable ? virtio::kDescFlagWrite : 0;
            if (!last) flags |= virtio::kDescFlagNext;
            write_descriptor(index, buffers[i].gpa, buffers[i].len, flags,
                             static_cast<uint16_t>((index + 1) % size_));
        }
        next_desc_ = static_cast<uint16_t>((head + buffers.size()) % size_);
        return head;
    }
    // One descriptor in the queue's table pointing at an indirect table holding `buffers`.
    uint16_t add_indirect_chain(const std::vector<BufferSpec>& buffers) {
        const uint64_t table = alloc(static_cast<uint32_t>(16 * buffers.size()), 16);
        for (size_t i = 0; i < buffers.size(); ++i) {
            const bool last = i + 1 == buffers.size();
            uint16_t flags = buffers[i].writable ? virtio::kDescFlagWrite : 0;
            if (!last) flags |= virtio::kDescFlagNext;
            write_descriptor(static_cast<uint16_t>(i), buffers[i].gpa, buffers[i].len, flags,
                             static_cast<uint16_t>(i + 1), table);
        }
        const uint16_t head = next_desc_;
        write_descriptor(head, table, static_cast<uint32_t>(16 * buffers.size()),
                         virtio::kDescFlagIndirect, 0);
        next_desc_ = static_cast<uint16_t>((head + 1) % size_);
        publish(head);
        return head;
    }

    // Puts `head` in the available ring and bumps avail->idx.
    void publish(uint16_t head) {
        write_obj<uint16_t>(avail_ + 4 + 2ull * (avail_idx_ % size_), head);
        ++avail_idx_;
        write_obj<uint16_t>(avail_ + 2, avail_idx_);
    }
    void set_avail_idx(uint16_t idx) {
        avail_idx_ = idx;
        write_obj<uint16_t>(avail_ + 2, idx);
    }
    void set_avail_flags(uint16_t flags) { write_obj<uint16_t>(avail_, flags); }
    void set_used_event(uint16_t value) { write_obj<uint16_t>(avail_ + 4 + 2ull * size_, value); }

    uint16_t used_idx() const { return read_obj<uint16_t>(used_ + 2); }
    UsedElement used_element(uint16_t i) const {
        return read_obj<UsedElement>(used_ + 4 + 8ull * (i % size_));
    }
    uint16_t avail_event() const { return read_obj<uint16_t>(used_ + 4 + 8ull * size_); }

private:
    static uint64_t align(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

    const GuestMemory& memory_;
    uint16_t size_;
    uint64_t desc_;
    uint64_t avail_;
    uint64_t used_;
    uint64_t next_data_;
    uint16_t next_desc_ = 0;
    uint16_t avail_idx_ = 0;
};

}  // namespace ember::testing
