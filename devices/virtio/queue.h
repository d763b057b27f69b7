// Queue: the device side of a split virtqueue (virtio 1.2 §2.7) in guest memory. The transport
// sets its size and ring addresses; the device pops available chains, returns used ones and asks
// whether the driver wants an interrupt (VIRTIO_F_EVENT_IDX or the NO_INTERRUPT flag).
// A driver error that breaks the queue itself (an available index running ahead by more than
// the queue size, rings outside RAM) is an Error: the device then needs a reset.
// Thread: the vmm thread, or a vCPU thread holding the transport's bus mutex for configuration.
#pragma once

#include <cstdint>
#include <optional>

#include "devices/virtio/descriptor_chain.h"
#include "vmm/base/result.h"
#include "vmm/memory/guest_address.h"
#include "vmm/memory/guest_memory.h"

namespace ember::virtio {

// One entry taken from the available ring: the head the used ring must return, and the parsed
// chain or why it was refused. A refused chain is returned used with length 0.
// A queue's snapshot state: plain data, no pointers (the rings themselves live in guest memory,
// which the snapshot saves separately).
struct QueueState {
    uint16_t size = 0;
    uint16_t next_avail = 0;
    uint16_t next_used = 0;
    uint16_t num_added = 0;  // Used entries not yet considered for an interrupt.
    uint8_t ready = 0;
    uint8_t event_idx = 0;
    uint8_t indirect = 0;
    uint8_t reserved = 0;
    uint64_t desc_table = 0;
    uint64_t avail_ring = 0;
    uint64_t used_ring = 0;
    bool operator==(const QueueState&) const = default;
};

struct AvailableChain {
    uint16_t head;
    Result<DescriptorChain> chain;
};

class Queue {
public:
    explicit Queue(uint16_t max_size);

    // Transport-side configuration (virtio-mmio QueueNum/QueueReady/QueueDesc/Driver/Device).
    uint16_t max_size() const { return max_size_; }
    uint16_t size() const { return size_; }
    void set_size(uint16_t size) { size_ = size; }
    bool ready() const { return ready_; }
    void set_ready(bool ready) { ready_ = ready; }
    GuestAddress desc_table() const { return desc_table_; }
    GuestAddress avail_ring() const { return avail_ring_; }
    GuestAddress used_ring() const { return used_ring_; }
    void set_desc_table(GuestAddress gpa) { desc_table_ = gpa; }
    void set_avail_ring(GuestAddress gpa) { avail_ring_ = gpa; }
    void set_used_ring(GuestAddress gpa) { used_ring_ = gpa; }

    // Checks a ready queue before activation: power-of-two size within max, aligned rings that
    // lie in guest memory (virtio 1.2 §2.7.1, §2.7.10.1).
    Result<void> validate(const GuestMemory& memory) const;

    // Negotiated features that change how the rings are read.
    void set_event_idx(bool enabled) { event_idx_ = enabled; }
    void set_indirect(bool enabled) { indirect_ = enabled; }

    // The next available chain, std::nullopt when the ring is empty. With EVENT_IDX an empty
    // ring also publishes avail_event so that the driver notifies on the next buffer, then looks
    // once more (Firecracker's pop_or_enable_notification).
    Result<std::optional<AvailableChain>> pop(const GuestMemory& memory);
    // Puts the last popped chain back, e.g. when a rate limiter refuses it.
    void undo_pop() { --next_avail_; }
    // Chains available and not yet popped.
    Result<uint16_t> pending(const GuestMemory& memory) const;

    // Returns `head` to the driver having written `len` bytes into its buffers.
    Result<void> add_used(const GuestMemory& memory, uint16_t head, uint32_t len);
    // Whether the driver asked to be interrupted for the used buffers added since the last call
    // (virtio 1.2 §2.7.7.2, §2.7.10). False when nothing was added.
    Result<bool> needs_notification(const GuestMemory& memory);

    // Back to the state after device reset (virtio 1.2 §2.4).
    void reset();

    uint16_t next_avail() const { return next_avail_; }
    uint16_t next_used() const { return next_used_; }
    // For snapshot restore.
    void set_indices(uint16_t next_avail, uint16_t next_used) {
        next_avail_ = next_avail;
        next_used_ = next_used;
    }

    QueueState save_state() const;
    // Takes `state` only if it is one a driver could have produced: a power-of-two size within
    // max_size() and, for a ready queue, aligned rings inside `memory` whose available index is
    // at most a queue's worth ahead. On error the queue is unchanged.
    Result<void> restore_state(const QueueState& state, const GuestMemory& memory);

private:
    Result<uint16_t> avail_idx(const GuestMemory& memory) const;

    uint16_t max_size_;
    uint16_t size_;
    bool ready_ = false;
    GuestAddress desc_table_;
    GuestAddress avail_ring_;
    GuestAddress used_ring_;
    bool event_idx_ = false;
    bool indirect_ = false;
    uint16_t next_avail_ = 0;
    uint16_t next_used_ = 0;
    uint16_t num_added_ = 0;  // Used entries since the last needs_notification().
};

}  // namespace ember::virtio
