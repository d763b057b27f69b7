// Console terminal handling: TerminalRawMode puts the TTY on ember's stdin in raw mode for the
// VM's life (keys, Ctrl-C included, go to the guest's serial console unechoed and unbuffered, as
// Firecracker's vmm-sys-util set_raw_mode) and restores the saved settings in its destructor.
// ExitSignals turns SIGTERM and SIGINT into events on the vmm thread's event loop, so that such a
// signal ends the VM through the normal return path and every destructor, this one included, runs.
// Thread: the main thread, before any other thread starts (threads inherit the signal mask).
#pragma once

#include <termios.h>

#include <array>
#include <csignal>
#include <span>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

// Firecracker's raw mode: no canonical line editing, no echo, no signals from the keyboard.
// Output processing stays on.
termios raw_termios(const termios& cooked);

class TerminalRawMode {
public:
    // Raw mode on `fd` (borrowed; must outlive the object). Inactive, and not an error, when `fd`
    // is not a terminal.
    static Result<TerminalRawMode> enter(int fd);

    TerminalRawMode() = default;
    TerminalRawMode(TerminalRawMode&& other) noexcept;
    TerminalRawMode& operator=(TerminalRawMode&& other) noexcept;
    TerminalRawMode(const TerminalRawMode&) = delete;
    TerminalRawMode& operator=(const TerminalRawMode&) = delete;
    ~TerminalRawMode() { restore(); }

    bool active() const { return fd_ >= 0; }
    // Puts the saved settings back now; the destructor then does nothing.
    void restore();

private:
    TerminalRawMode(int fd, const termios& saved) : fd_(fd), saved_(saved) {}

    int fd_ = -1;
    termios saved_{};
};

class ExitSignals {
public:
    static constexpr std::array<int, 2> kDefault = {SIGTERM, SIGINT};

    // Blocks `signals` in the calling thread (and so in every thread it starts later) and opens
    // a non-blocking, close-on-exec signalfd for them.
    static Result<ExitSignals> create(std::span<const int> signals = kDefault);

    // The number of the pending signal that was consumed; an error with EAGAIN when none is.
    Result<int> read() const;
    int fd() const { return fd_.get(); }

private:
    explicit ExitSignals(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// The exit code for a VM ended by `signo`, as a shell reports a process killed by it.
constexpr int exit_code_for_signal(int signo) { return 128 + signo; }

}  // namespace ember
