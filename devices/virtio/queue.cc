#include "devices/virtio/queue.h"

#include <fmt/core.h>

#include <atomic>

#include "devices/virtio/virtio_spec.h"

namespace ember::virtio {
namespace {

// The rings are shared with vCPUs running the driver: the index fields are accessed atomically
// with acquire/release ordering, as the spec's memory barriers require (virtio 1.2 §2.7.13).
Result<uint16_t*> u16_at(const GuestMemory& memory, GuestAddress gpa) {
    auto bytes = EMBER_TRY(memory.slice(gpa, sizeof(uint16_t)));
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint16_t) != 0) {
        return Error::invalid("virtqueue", "misaligned ring field");
    }
    return reinterpret_cast<uint16_t*>(bytes.data());
}

Result<uint16_t> load_acquire(const GuestMemory& memory, GuestAddress gpa) {
    uint16_t* p = EMBER_TRY(u16_at(memory, gpa));
    return std::atomic_ref<uint16_t>(*p).load(std::memory_order_acquire);
}

Result<void> store_release(const GuestMemory& memory, GuestAddress gpa, uint16_t value) {
    uint16_t* p = EMBER_TRY(u16_at(memory, gpa));
    std::atomic_ref<uint16_t>(*p).store(value, std::memory_order_release);
    memory.mark_dirty(gpa, sizeof(uint16_t));
    return ok();
}

struct UsedElement {
    uint32_t id;
    uint32_t len;
};

// Ring layout offsets (virtio 1.2 §2.7.6, §2.7.8).
constexpr uint64_t kRingHeader = 4;  // flags + idx
constexpr uint64_t avail_ring_bytes(uint16_t size) { return kRingHeader + 2ull * size + 2; }
constexpr uint64_t used_ring_bytes(uint16_t size) { return kRingHeader + 8ull * size + 2; }

}  // namespace

Queue::Queue(uint16_t max_size) : max_size_(max_size), size_(max_size) {}

Result<void> Queue::validate(const GuestMemory& memory) const {
    if (size_ == 0 || size_ > max_size_ || (size_ & (size_ - 1)) != 0) {
        return Error::invalid("virtqueue", fmt::format("bad queue size {}", size_));
    }
    if (desc_table_.value() % 16 != 0 || avail_ring_.value() % 2 != 0 ||
        used_ring_.value() % 4 != 0) {
        return Error::invalid("virtqueue", "misaligned ring address");
    }
    if (!memory.contains_range(desc_table_, kDescriptorSize * size_) ||
        !memory.contains_range(avail_ring_, avail_ring_bytes(size_)) ||
        !memory.contains_range(used_ring_, used_ring_bytes(size_))) {
        return Error::invalid("virtqueue", "ring outside guest memory");
    }
    return ok();
}

Result<uint16_t> Queue::avail_idx(const GuestMemory& memory) const {
    return load_acquire(memory, avail_ring_ + 2);
}

Result<uint16_t> Queue::pending(const GuestMemory& memory) const {
    const uint16_t idx = EMBER_TRY(avail_idx(memory));
    const uint16_t count = static_cast<uint16_t>(idx - next_avail_);
    // virtio 1.2 §2.7.6: the driver can be at most a queue's worth ahead of the device.
    if (count > size_) {
        return Error::invalid("virtqueue", fmt::format("available index {} runs {} ahead of {}",
                                                       idx, count, next_avail_));
    }
    return count;
}

Result<std::optional<AvailableChain>> Queue::pop(const GuestMemory& memory) {
    uint16_t count = EMBER_TRY(pending(memory));
    if (count == 0 && event_idx_) {
        // Ask for a notification at the next buffer, then look again: the driver may have added
        // one before it could see avail_event (virtio 1.2 §2.7.10).
        const GuestAddress avail_event = used_ring_ + kRingHeader + 8ull * size_;
        EMBER_TRY(store_release(memory, avail_event, next_avail_));
        std::atomic_thread_fence(std::memory_order_seq_cst);
        count = EMBER_TRY(pending(memory));
    }
    if (count == 0) return std::optional<AvailableChain>();

    const GuestAddress slot = avail_ring_ + kRingHeader + 2ull * (next_avail_ % size_);
    const uint16_t head = EMBER_TRY(memory.read_obj<uint16_t>(slot));
    ++next_avail_;
    auto chain = DescriptorChain::parse(
        memory, desc_table_, size_, head,
        indirect_ ? IndirectDescriptors::kAllowed : IndirectDescriptors::kRefused);
    return std::optional<AvailableChain>(AvailableChain{head, std::move(chain)});
}

Result<void> Queue::add_used(const GuestMemory& memory, uint16_t head, uint32_t len) {
    if (head >= size_) return Error::invalid("virtqueue", "used head out of range");
    const GuestAddress slot = used_ring_ + kRingHeader + 8ull * (next_used_ % size_);
    EMBER_TRY(memory.write_obj(slot, UsedElement{head, len}));
    ++next_used_;
    ++num_added_;
    // The element must be visible before the index that publishes it.
    EMBER_TRY(store_release(memory, used_ring_ + 2, next_used_));
    return ok();
}

Result<bool> Queue::needs_notification(const GuestMemory& memory) {
    const uint16_t added = num_added_;
    num_added_ = 0;
    if (added == 0) return false;
    // The used index store must be ordered before reading the driver's suppression state, or
    // the driver and device can each miss the other's update.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!event_idx_) {
        const uint16_t flags = EMBER_TRY(load_acquire(memory, avail_ring_));
        return (flags & kAvailFlagNoInterrupt) == 0;
    }
    const uint16_t used_event =
        EMBER_TRY(load_acquire(memory, avail_ring_ + kRingHeader + 2ull * size_));
    const uint16_t new_idx = next_used_;
    const uint16_t old_idx = static_cast<uint16_t>(new_idx - added);
    // vring_need_event(): notify when used_event lies in [old_idx, new_idx).
    return static_cast<uint16_t>(new_idx - used_event - 1) <
           static_cast<uint16_t>(new_idx - old_idx);
}

QueueState Queue::save_state() const {
    QueueState state;
    state.size = size_;
    state.next_avail = next_avail_;
    state.next_used = next_used_;
    state.num_added = num_added_;
    state.ready = ready_ ? 1 : 0;
    state.event_idx = event_idx_ ? 1 : 0;
    state.indirect = indirect_ ? 1 : 0;
    state.desc_table = desc_table_.value();
    state.avail_ring = avail_ring_.value();
    state.used_ring = used_ring_.value();
    return state;
}

Result<void> Queue::restore_state(const QueueState& state, const GuestMemory& memory) {
    if (state.ready > 1 || state.event_idx > 1 || state.indirect > 1) {
        return Error::invalid("virtqueue state", "flag that is neither 0 nor 1");
    }
    if (state.num_added > state.size) {
        return Error::invalid("virtqueue state", "more used entries pending than the queue holds");
    }
    // Work on a copy so a refused state leaves this queue as it was.
    Queue restored(max_size_);
    restored.size_ = state.size;
    restored.ready_ = state.ready != 0;
    restored.desc_table_ = GuestAddress(state.desc_table);
    restored.avail_ring_ = GuestAddress(state.avail_ring);
    restored.used_ring_ = GuestAddress(state.used_ring);
    restored.event_idx_ = state.event_idx != 0;
    restored.indirect_ = state.indirect != 0;
    restored.next_avail_ = state.next_avail;
    restored.next_used_ = state.next_used;
    restored.num_added_ = state.num_added;
    if (restored.ready_) {
        EMBER_TRY(restored.validate(memory));
        // The driver's index in the restored memory must agree with ours.
        EMBER_TRY(restored.pending(memory));
    } else if (state.size == 0 || state.size > max_size_ || (state.size & (state.size - 1)) != 0) {
        return Error::invalid("virtqueue state", fmt::format("bad queue size {}", state.size));
    }
    *this = restored;
    return ok();
}

void Queue::reset() {
    size_ = max_size_;
    ready_ = false;
    desc_table_ = avail_ring_ = used_ring_ = GuestAddress();
    event_idx_ = false;
    indirect_ = false;
    next_avail_ = next_used_ = num_added_ = 0;
}

}  // namespace ember::virtio
