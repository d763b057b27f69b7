// A clock the test steps by hand.
#pragma once

#include <cstdint>

#include "vmm/mmds/clock.h"

namespace ember::mmds {

class FakeClock final : public MonotonicClock {
public:
    uint64_t now_ms() const override { return now_ms_; }
    void advance_ms(uint64_t ms) { now_ms_ += ms; }

private:
    uint64_t now_ms_ = 1000;
};

}  // namespace ember::mmds
