// I8042: the PS/2 controller as far as a microVM needs it: the data port (0x60) and the command /
// status port (0x64), the controller command byte, CPU reset (command 0xFE) signalled on an
// EventFd the VMM watches, and keyboard scancode injection for SendCtrlAltDel.
// Thread: read/write from vCPU threads and send_ctrl_alt_del from the vmm thread, with mutex()
// held.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <type_traits>

#include "devices/bus_device.h"
#include "devices/irq_line.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"
#include "vmm/base/result.h"

namespace ember {

class I8042 : public BusDevice {
public:
    // Covers 0x60..0x64: offset 0 is data, offset 4 is command/status.
    static constexpr uint64_t kPortSize = 5;
    static constexpr size_t kBufferSize = 16;

    static constexpr uint8_t kCmdReadCommandByte = 0x20;
    static constexpr uint8_t kCmdWriteCommandByte = 0x60;
    static constexpr uint8_t kCmdReadOutputPort = 0xd0;
    static constexpr uint8_t kCmdWriteOutputPort = 0xd1;
    static constexpr uint8_t kCmdResetCpu = 0xfe;

    static constexpr uint8_t kStatusOutputFull = 0x01;
    static constexpr uint8_t kStatusCommand = 0x08;  // The last write went to port 0x64.
    static constexpr uint8_t kStatusKeyboardEnabled = 0x10;
    static constexpr uint8_t kCommandByteKbdInterrupt = 0x01;
    static constexpr uint8_t kCommandBytePostOk = 0x04;

    struct Counters {
        uint64_t reset_count = 0;
        uint64_t missed_read_count = 0;   // Reads with nothing in the buffer.
        uint64_t missed_write_count = 0;  // Bytes dropped because the buffer was full.
    };

    // Everything the guest can observe, for snapshots. Counters, the IRQ line and the reset event
    // are host-side and not part of it.
    struct State {
        uint8_t status = 0;   // Only the OBF, command and keyboard-enabled bits.
        uint8_t control = 0;  // The controller command byte.
        uint8_t output_port = 0;
        uint8_t pending_command = 0;       // 0, or a command still waiting for its data byte.
        uint8_t buffer_len = 0;            // Bytes used in buffer, at most kBufferSize.
        uint8_t buffer[kBufferSize] = {};  // Output to the guest, oldest byte first.

        bool operator==(const State&) const = default;
    };
    static_assert(std::is_trivially_copyable_v<State>);

    // `kbd_irq` (GSI 1) and `reset_evt` must outlive the device.
    I8042(IrqLine& kbd_irq, const EventFd& reset_evt) : irq_(kbd_irq), reset_evt_(reset_evt) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Queues Ctrl, Alt and Del make codes (scan code set 2: 0x14, 0x11, 0xE0 0x71) and raises the
    // keyboard interrupt. Caller holds mutex().
    Result<void> send_ctrl_alt_del();

    uint8_t command_byte() const { return control_; }
    const Counters& counters() const { return counters_; }

    // Caller holds mutex(). restore_state validates `state` first and leaves the device unchanged
    // when it is refused; when accepted it re-raises the keyboard interrupt if output is waiting.
    State save_state() const;
    Result<void> restore_state(const State& state);

private:
    bool push(uint8_t byte);
    void trigger_kbd_interrupt();

    IrqLine& irq_;
    const EventFd& reset_evt_;
    std::deque<uint8_t> buffer_;  // Output to the guest, at most kBufferSize bytes.
    uint8_t status_ = kStatusKeyboardEnabled;
    uint8_t control_ = kCommandBytePostOk | kCommandByteKbdInterrupt;
    uint8_t output_port_ = 0;
    uint8_t pending_command_ = 0;  // A command waiting for its data byte on port 0x60.
    Counters counters_;
    log::LineLimiter log_limiter_;
};

}  // namespace ember
