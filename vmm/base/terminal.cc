#include "vmm/base/terminal.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace ember {

termios raw_termios(const termios& cooked) {
    termios raw = cooked;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
    // Reads return as soon as one byte is there.
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    return raw;
}

Result<TerminalRawMode> TerminalRawMode::enter(int fd) {
    if (::isatty(fd) == 0) return TerminalRawMode();
    termios saved{};
    if (::tcgetattr(fd, &saved) < 0) return Error::from_errno("tcgetattr");
    const termios raw = raw_termios(saved);
    if (::tcsetattr(fd, TCSANOW, &raw) < 0) return Error::from_errno("tcsetattr");
    return TerminalRawMode(fd, saved);
}

TerminalRawMode::TerminalRawMode(TerminalRawMode&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), saved_(other.saved_) {}

TerminalRawMode& TerminalRawMode::operator=(TerminalRawMode&& other) noexcept {
    if (this != &other) {
        restore();
        fd_ = std::exchange(other.fd_, -1);
        saved_ = other.saved_;
    }
    return *this;
}

void TerminalRawMode::restore() {
    if (fd_ < 0) return;
    // TCSAFLUSH would drop what the user typed after the guest ended; keep it for the shell.
    (void)::tcsetattr(fd_, TCSANOW, &saved_);
    fd_ = -1;
}

Result<ExitSignals> ExitSignals::create(std::span<const int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int signo : signals) sigaddset(&set, signo);
    if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
        return Error::from_errno(err, "pthread_sigmask");
    }
    int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return Error::from_errno("signalfd");
    return ExitSignals(UniqueFd(fd));
}

Result<int> ExitSignals::read() const {
    signalfd_siginfo info{};
    ssize_t n = ::read(fd_.get(), &info, sizeof(info));
    if (n < 0) return Error::from_errno("read signalfd");
    if (n != sizeof(info)) return Error::invalid("read signalfd", "short read");
    return static_cast<int>(info.ssi_signo);
}

}  // namespace ember
