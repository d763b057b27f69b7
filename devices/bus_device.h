// BusDevice: something that answers port I/O or MMIO accesses at offsets inside its window.
// Thread: vCPU threads call read/write through the bus with mutex() held; the vmm thread takes the
// same mutex before it touches the device's state from the event loop.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

namespace ember {

class BusDevice {
public:
    virtual ~BusDevice() = default;

    // `data` is 1, 2, 4 or 8 bytes; a read the device does not decode leaves zeros... or 0xff
    // bytes for legacy ports, as the device chooses.
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;

    std::mutex& mutex() { return mutex_; }

private:
    std::mutex mutex_;
};

}  // namespace ember
