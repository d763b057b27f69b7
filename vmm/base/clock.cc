#include "vmm/base/clock.h"

#include <chrono>

namespace ember {

uint64_t SteadyClock::now_ns() const {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

const SteadyClock& SteadyClock::instance() {
    static const SteadyClock kClock;
    return kClock;
}

}  // namespace ember
