// Clock: monotonic time in nanoseconds, injectable so that tests step time instead of sleeping.
// The rate limiters, the MMDS stack's TCP timers and MMDS token expiry all read one.
// Thread: any; implementations hold no mutable state.
#pragma once

#include <cstdint>

namespace ember {

class Clock {
public:
    virtual ~Clock() = default;
    virtual uint64_t now_ns() const = 0;
    uint64_t now_ms() const { return now_ns() / 1'000'000; }
};

// std::chrono::steady_clock (CLOCK_MONOTONIC).
class SteadyClock final : public Clock {
public:
    uint64_t now_ns() const override;
    // The process-wide instance: stateless, so sharing it is not shared mutable state.
    static const SteadyClock& instance();
};

}  // namespace ember
