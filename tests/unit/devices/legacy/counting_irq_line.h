// A fake IrqLine that counts triggers, for the legacy device tests.
#pragma once

#include <atomic>

#include "devices/irq_line.h"

namespace ember::test {

class CountingIrqLine : public IrqLine {
public:
    void trigger() override { ++count; }
    std::atomic<int> count{0};
};

}  // namespace ember::test
