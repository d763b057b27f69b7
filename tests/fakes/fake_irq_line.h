// FakeIrqLine: an IrqLine that counts triggers.
#pragma once

#include <atomic>
#include <cstdint>

#include "devices/irq_line.h"

namespace ember::testing {

class FakeIrqLine final : public IrqLine {
public:
    void trigger() override { count_.fetch_add(1); }
    uint64_t count() const { return count_.load(); }

private:
    std::atomic<uint64_t> count_{0};
};

}  // namespace ember::testing
