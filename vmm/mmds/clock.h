// MonotonicClock: the time source of token expiry, injectable so tests can step it. (The rate
// limiter's Clock lives in devices/, a layer above this one.)
// Thread: any; implementations hold no mutable state.
#pragma once

#include <time.h>

#include <cstdint>

namespace ember::mmds {

class MonotonicClock {
public:
    virtual ~MonotonicClock() = default;
    virtual uint64_t now_ms() const = 0;
};

// CLOCK_MONOTONIC, as Firecracker's get_time_ms(ClockType::Monotonic).
class SystemMonotonicClock final : public MonotonicClock {
public:
    uint64_t now_ms() const override {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * 1000 +
               static_cast<uint64_t>(ts.tv_nsec) / 1000000;
    }
};

}  // namespace ember::mmds
