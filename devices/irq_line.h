// IrqLine: how a device raises its interrupt. The VMM backs it with a KVM irqfd; tests count calls.
#pragma once

namespace ember {

class IrqLine {
public:
    virtual ~IrqLine() = default;
    // Edge-triggers the device's interrupt. Thread: any.
    virtual void trigger() = 0;
};

}  // namespace ember
