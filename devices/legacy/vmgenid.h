// VmGenId: the Virtual Machine Generation ID (Microsoft's "Virtual Machine Generation ID" spec;
// Linux drivers/virt/vmgenid.c), as Firecracker's devices/acpi/vmgenid.rs. 16 random bytes in
// guest memory at the address the DSDT's VGEN device names; every snapshot load writes new ones
// and raises the Generic Event Device's interrupt, whose _EVT notifies VGEN, so that the guest
// re-reads them and reseeds its RNG (add_vmfork_randomness): clones of one snapshot do not share
// their random numbers. No registers: the guest only reads memory.
// Thread: the vmm thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "devices/irq_line.h"
#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember {

class VmGenId {
public:
    static constexpr uint64_t kIdSize = 16;
    using Id = std::array<uint8_t, kIdSize>;

    // Where the ID lives and which GSI the GED uses: what the DSDT written at boot names, so a
    // restore must use the snapshot's values.
    struct State {
        uint64_t id_gpa = 0;
        uint32_t gsi = 0;
        bool operator==(const State&) const = default;
    };

    // A fresh random ID written at `id_gpa` (8-byte aligned, inside `mem`); `irq` raises the GED's
    // GSI `gsi` and outlives the device. Neither raises the interrupt.
    static Result<std::unique_ptr<VmGenId>> create(const GuestMemory& mem, GuestAddress id_gpa,
                                                   uint32_t gsi, IrqLine& irq);

    // After a snapshot load, with the guest's memory and the irqchip restored: a new ID over the
    // snapshot's, then the edge that tells the guest (pending until a vCPU runs).
    Result<void> regenerate_and_notify(const GuestMemory& mem);

    State save_state() const { return {id_gpa_.value(), gsi_}; }
    const Id& id() const { return id_; }
    GuestAddress id_gpa() const { return id_gpa_; }
    uint32_t gsi() const { return gsi_; }
    uint64_t notifications() const { return notifications_; }

private:
    VmGenId(GuestAddress id_gpa, uint32_t gsi, IrqLine& irq)
        : id_gpa_(id_gpa), gsi_(gsi), irq_(irq) {}
    Result<void> write_new_id(const GuestMemory& mem);

    GuestAddress id_gpa_;
    uint32_t gsi_;
    IrqLine& irq_;
    Id id_{};
    uint64_t notifications_ = 0;
};

// 16 bytes from getrandom(2), the kernel's CSPRNG.
Result<VmGenId::Id> random_generation_id();

}  // namespace ember
