// Bus: address ranges mapped to devices, one for port I/O and one for MMIO. A vCPU exit is
// dispatched to the device whose window holds the address, with the device's mutex held.
// Thread: insert() on the vmm thread before the vCPUs start (or with them paused); read/write
// from any vCPU thread. The range table is not modified while vCPUs run.
#pragma once

#include <cstdint>
#include <map>
#include <span>

#include "devices/bus_device.h"
#include "vmm/base/result.h"

namespace ember {

class Bus {
public:
    // Maps [base, base + size) to `device`, which must outlive the bus. Refuses an empty, wrapping
    // or overlapping range.
    Result<void> insert(uint64_t base, uint64_t size, BusDevice* device);

    struct Lookup {
        BusDevice* device = nullptr;
        uint64_t offset = 0;
    };
    // The device covering `address`, and the offset into its window.
    Lookup lookup(uint64_t address) const;

    // True when a device took the access; the whole access must fit inside the window.
    bool read(uint64_t address, std::span<uint8_t> data) const;
    bool write(uint64_t address, std::span<const uint8_t> data) const;

    size_t size() const { return ranges_.size(); }

private:
    struct Range {
        uint64_t size;
        BusDevice* device;
    };
    // Start of range -> range; ranges never overlap.
    std::map<uint64_t, Range> ranges_;
    Lookup lookup_access(uint64_t address, size_t len) const;
};

}  // namespace ember
