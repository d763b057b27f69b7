// read_byte / write_byte: one-byte accesses to a bus device, as a guest's `inb`/`outb` make them,
// for the legacy device tests.
#pragma once

#include <cstdint>

#include "devices/bus_device.h"

namespace ember::testing {

// 0xaa is what a read that the device does not fill would leave behind.
inline uint8_t read_byte(BusDevice& device, uint64_t offset) {
    uint8_t b = 0xaa;
    device.read(offset, {&b, 1});
    return b;
}

inline void write_byte(BusDevice& device, uint64_t offset, uint8_t value) {
    device.write(offset, {&value, 1});
}

}  // namespace ember::testing
