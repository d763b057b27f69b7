// FakeClock: a Clock that moves only when the test says so.
#pragma once

#include <chrono>
#include <cstdint>

#include "vmm/base/clock.h"

namespace ember::testing {

class FakeClock final : public Clock {
public:
    uint64_t now_ns() const override { return now_ns_; }
    void advance(std::chrono::nanoseconds delta) {
        now_ns_ += static_cast<uint64_t>(delta.count());
    }
    void advance_ms(uint64_t ms) { now_ns_ += ms * 1'000'000; }

private:
    uint64_t now_ns_ = 1'000'000'000;
};

}  // namespace ember::testing
