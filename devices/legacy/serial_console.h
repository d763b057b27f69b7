// SerialConsole: the host side of COM1's input. It owns the console input fd (a dup of stdin) and
// feeds what it reads into the Serial8250's receive FIFO, dropping (and logging, rate-limited)
// what does not fit, as a real UART overruns. At end of file it asks to stop being watched.
// Thread: the vmm thread (its event source); it takes the serial port's mutex to feed it.
#pragma once

#include <vector>

#include "devices/event_source.h"
#include "devices/legacy/serial_8250.h"
#include "vmm/base/log.h"
#include "vmm/base/unique_fd.h"

namespace ember {

class SerialConsole {
public:
    // `serial` must outlive the console.
    SerialConsole(Serial8250& serial, UniqueFd input) : serial_(serial), input_(std::move(input)) {}

    // The input fd, readable when the host typed something.
    std::vector<EventSource> event_sources();

    // Reads what is there (one FIFO's worth at most) into the serial port.
    EventSource::Next on_input();

private:
    Serial8250& serial_;
    UniqueFd input_;
    log::LineLimiter log_limiter_;
};

}  // namespace ember
