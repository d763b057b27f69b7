// Local APIC LVT setup for the BSP's legacy interrupt pins (Intel SDM vol. 3 §10.5.1; Firecracker
// arch/x86_64/interrupts.rs): LINT0 takes the 8259's ExtINT, LINT1 is NMI.
#include <cstring>

#include "vmm/arch/x86_64/boot.h"

namespace ember::x86 {
namespace {

constexpr size_t kApicLvtLint0 = 0x350;
constexpr size_t kApicLvtLint1 = 0x360;
constexpr uint32_t kDeliveryModeNmi = 0x4;
constexpr uint32_t kDeliveryModeExtInt = 0x7;

void set_delivery_mode(kvm_lapic_state& lapic, size_t offset, uint32_t mode) {
    uint32_t reg = 0;
    std::memcpy(&reg, lapic.regs + offset, sizeof(reg));
    reg = (reg & ~0x700U) | (mode << 8);
    std::memcpy(lapic.regs + offset, &reg, sizeof(reg));
}

}  // namespace

void configure_lapic(kvm_lapic_state& lapic) {
    static_assert(kApicLvtLint1 + 4 <= sizeof(lapic.regs));
    set_delivery_mode(lapic, kApicLvtLint0, kDeliveryModeExtInt);
    set_delivery_mode(lapic, kApicLvtLint1, kDeliveryModeNmi);
}

}  // namespace ember::x86
