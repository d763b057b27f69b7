#include "devices/legacy/i8042.h"

#include <algorithm>
#include <string>

namespace ember {
namespace {

constexpr uint64_t kDataOffset = 0;
constexpr uint64_t kCommandOffset = 4;
constexpr uint8_t kKeyboardAck = 0xfa;
constexpr uint8_t kStatusValidBits =
    I8042::kStatusOutputFull | I8042::kStatusCommand | I8042::kStatusKeyboardEnabled;

// Scan code set 2 make codes (Firecracker's devices/legacy/i8042.rs).
constexpr uint8_t kCtrlAltDel[] = {0x14, 0x11, 0xe0, 0x71};

}  // namespace

bool I8042::push(uint8_t byte) {
    if (buffer_.size() >= kBufferSize) {
        ++counters_.missed_write_count;
        return false;
    }
    buffer_.push_back(byte);
    status_ |= kStatusOutputFull;
    return true;
}

void I8042::trigger_kbd_interrupt() {
    if ((control_ & kCommandByteKbdInterrupt) == 0) return;
    irq_.trigger();
}

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
    if (data.size() != 1) {
        for (uint8_t& b : data) b = 0xff;
        return;
    }
    switch (offset) {
        case kCommandOffset: data[0] = status_; return;
        case kDataOffset:
            if (buffer_.empty()) {
                ++counters_.missed_read_count;
                data[0] = 0;
                return;
            }
            data[0] = buffer_.front();
            buffer_.pop_front();
            if (buffer_.empty()) {
                status_ &= static_cast<uint8_t>(~kStatusOutputFull);
            } else {
                // One byte per interrupt: the guest's handler reads one, then waits for the next.
                trigger_kbd_interrupt();
            }
            return;
        default: data[0] = 0xff; return;
    }
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.size() != 1) return;
    uint8_t value = data[0];
    if (offset == kCommandOffset) {
        status_ |= kStatusCommand;
        pending_command_ = 0;
        switch (value) {
            case kCmdResetCpu:
                ++counters_.reset_count;
                // The VMM's event loop sees this and ends the VM (exit code 0).
                if (!reset_evt_.write(1)) {
                    EMBER_LOG_LIMITED(log_limiter_, log::Level::kError,
                                      "i8042: cannot signal the reset event");
                }
                return;
            case kCmdReadCommandByte:
                buffer_.clear();
                push(control_);
                return;
            case kCmdReadOutputPort:
                buffer_.clear();
                push(output_port_);
                return;
            case kCmdWriteCommandByte:
            case kCmdWriteOutputPort: pending_command_ = value; return;
            default:
                EMBER_LOG_LIMITED(log_limiter_, log::Level::kDebug, "i8042: command {:#x} ignored",
                                  value);
                return;
        }
    }
    if (offset != kDataOffset) return;
    status_ &= static_cast<uint8_t>(~kStatusCommand);
    switch (pending_command_) {
        case kCmdWriteCommandByte: control_ = value; break;
        case kCmdWriteOutputPort: output_port_ = value; break;
        default:
            // A command for the keyboard itself: acknowledge it.
            buffer_.clear();
            push(kKeyboardAck);
            trigger_kbd_interrupt();
            break;
    }
    pending_command_ = 0;
}

Result<void> I8042::send_ctrl_alt_del() {
    if (buffer_.size() + sizeof(kCtrlAltDel) > kBufferSize) {
        return Error(std::make_error_code(std::errc::no_buffer_space), "i8042 SendCtrlAltDel",
                     "the keyboard buffer is full");
    }
    for (uint8_t b : kCtrlAltDel) push(b);
    trigger_kbd_interrupt();
    return ok();
}

I8042::State I8042::save_state() const {
    State s;
    s.status = status_;
    s.control = control_;
    s.output_port = output_port_;
    s.pending_command = pending_command_;
    s.buffer_len = static_cast<uint8_t>(buffer_.size());
    std::copy(buffer_.begin(), buffer_.end(), s.buffer);
    return s;
}

Result<void> I8042::restore_state(const State& state) {
    // Only values the port interface can produce: anything else is a corrupt snapshot.
    if (state.buffer_len > kBufferSize) {
        return Error::invalid("i8042 restore", "output buffer length " +
                                                   std::to_string(state.buffer_len) + " exceeds " +
                                                   std::to_string(kBufferSize));
    }
    if (state.status & ~kStatusValidBits) {
        return Error::invalid("i8042 restore",
                              "status has unknown bits set: " + std::to_string(state.status));
    }
    // The device keeps OBF equal to "the buffer holds a byte"; a mismatch would make the guest
    // read a byte that is not there or never see one that is.
    if (((state.status & kStatusOutputFull) != 0) != (state.buffer_len > 0)) {
        return Error::invalid("i8042 restore", "status OBF disagrees with the buffer length");
    }
    if (state.pending_command != 0 && state.pending_command != kCmdWriteCommandByte &&
        state.pending_command != kCmdWriteOutputPort) {
        return Error::invalid("i8042 restore",
                              "unknown pending command " + std::to_string(state.pending_command));
    }
    status_ = state.status;
    control_ = state.control;
    output_port_ = state.output_port;
    pending_command_ = state.pending_command;
    buffer_.assign(state.buffer, state.buffer + state.buffer_len);
    // IRQ1 is an edge on an irqfd: one raised for a byte the guest has not read yet is lost with
    // the old VM, so raise it again (a PC's 8042 holds IRQ1 while OBF is set anyway).
    if (!buffer_.empty()) trigger_kbd_interrupt();
    return ok();
}

}  // namespace ember
