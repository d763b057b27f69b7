// EventFdIrqLine: an IrqLine backed by an EventFd that KVM watches through an irqfd, so that a
// device's trigger() injects an edge on its GSI without a VM exit or a lock.
// Thread: trigger() from any thread.
#pragma once

#include <cstdint>

#include "devices/irq_line.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"

namespace ember {

class EventFdIrqLine : public IrqLine {
public:
    EventFdIrqLine(EventFd evt, uint32_t gsi) : evt_(std::move(evt)), gsi_(gsi) {}

    void trigger() override {
        // Only fails if the counter would overflow, i.e. never in practice.
        if (!evt_.write(1)) EMBER_ERROR("cannot raise GSI {}", gsi_);
    }

    const EventFd& event() const { return evt_; }
    uint32_t gsi() const { return gsi_; }

private:
    EventFd evt_;
    uint32_t gsi_;
};

}  // namespace ember
