// Sample legacy device states with a non-default value in every field, for the codec tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "devices/legacy/boot_timer.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial_8250.h"

namespace ember::snapshot::testing {

inline Serial8250::State sample_serial() {
    Serial8250::State s;
    s.ier = 0x0f;
    s.lcr = 0x83;
    s.mcr = 0x1b;
    s.scr = 0x5a;
    s.dll = 0x0c;
    s.dlm = 0x01;
    s.thr_empty_pending = 1;
    s.rx_len = 3;
    for (size_t i = 0; i < Serial8250::kFifoSize; ++i) s.rx[i] = static_cast<uint8_t>(0x40 + i);
    return s;
}

inline I8042::State sample_i8042() {
    I8042::State s;
    s.status = 0x15;
    s.control = 0x47;
    s.output_port = 0x03;
    s.pending_command = 0x60;
    s.buffer_len = 4;
    for (size_t i = 0; i < I8042::kBufferSize; ++i) s.buffer[i] = static_cast<uint8_t>(0xe0 + i);
    return s;
}

inline Cmos::State sample_cmos() {
    Cmos::State s;
    s.clock_offset_s = -123456789;
    s.set_sec = 59;
    s.set_min = -1;  // Signed values must survive the u32 encoding.
    s.set_hour = 23;
    s.set_mday = 31;
    s.set_mon = 11;
    s.set_year = 126;
    s.set_wday = 6;
    s.index = 0x7f;
    s.nmi_disabled = 1;
    s.setting = 1;
    for (size_t i = 0; i < Cmos::kRamSize; ++i) s.ram[i] = static_cast<uint8_t>(i * 3 + 1);
    return s;
}

inline BootTimer::State sample_boot_timer() {
    return {.wall_us = 123'456, .cpu_us = 78'901, .reported = 1};
}

}  // namespace ember::snapshot::testing
