#include "devices/legacy/serial_console.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <mutex>

namespace ember {

std::vector<EventSource> SerialConsole::event_sources() {
    if (!input_) return {};
    return {EventSource{input_.get(), EPOLLIN, [this] { return on_input(); }}};
}

EventSource::Next SerialConsole::on_input() {
    std::array<uint8_t, Serial8250::kFifoSize> buf{};
    ssize_t n = ::read(input_.get(), buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return EventSource::Next::kKeepWatching;
    // End of file or a dead terminal. The fd stays open until the console goes: the loop must
    // stop watching it first, and stdin may share its open file.
    if (n <= 0) return EventSource::Next::kStopWatching;
    std::lock_guard lock(serial_.mutex());
    size_t taken = serial_.enqueue_input({buf.data(), static_cast<size_t>(n)});
    if (taken < static_cast<size_t>(n)) {
        EMBER_LOG_LIMITED(log_limiter_, log::Level::kDebug, "serial: dropped {} input bytes",
                          static_cast<size_t>(n) - taken);
    }
    return EventSource::Next::kKeepWatching;
}

}  // namespace ember
