#include "vmm/core/bus.h"

#include <fmt/core.h>

#include <mutex>

namespace ember {

Result<void> Bus::insert(uint64_t base, uint64_t size, BusDevice* device) {
    uint64_t last = 0;
    if (size == 0 || device == nullptr || __builtin_add_overflow(base, size - 1, &last)) {
        return Error::invalid("bus insert", fmt::format("bad range {:#x}+{:#x}", base, size));
    }
    // The first range starting after `base`, and the one before it, are the only candidates.
    auto next = ranges_.upper_bound(base);
    if (next != ranges_.end() && next->first <= last) {
        return Error::invalid(
            "bus insert", fmt::format("range {:#x}+{:#x} overlaps {:#x}", base, size, next->first));
    }
    if (next != ranges_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + (prev->second.size - 1) >= base) {
            return Error::invalid("bus insert", fmt::format("range {:#x}+{:#x} overlaps {:#x}",
                                                            base, size, prev->first));
        }
    }
    ranges_.emplace(base, Range{size, device});
    return ok();
}

Bus::Lookup Bus::lookup(uint64_t address) const {
    auto it = ranges_.upper_bound(address);
    if (it == ranges_.begin()) return {};
    --it;
    uint64_t offset = address - it->first;
    if (offset >= it->second.size) return {};
    return {it->second.device, offset};
}

Bus::Lookup Bus::lookup_access(uint64_t address, size_t len) const {
    Lookup found = lookup(address);
    if (found.device == nullptr || len == 0) return {};
    // The last byte must be in the same window: size - offset >= len.
    auto it = ranges_.find(address - found.offset);
    if (it->second.size - found.offset < len) return {};
    return found;
}

bool Bus::read(uint64_t address, std::span<uint8_t> data) const {
    Lookup found = lookup_access(address, data.size());
    if (found.device == nullptr) return false;
    std::lock_guard lock(found.device->mutex());
    found.device->read(found.offset, data);
    return true;
}

bool Bus::write(uint64_t address, std::span<const uint8_t> data) const {
    Lookup found = lookup_access(address, data.size());
    if (found.device == nullptr) return false;
    std::lock_guard lock(found.device->mutex());
    found.device->write(found.offset, data);
    return true;
}

}  // namespace ember
