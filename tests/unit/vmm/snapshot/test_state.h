// A sample MachineState with every byte of every field set from a seed, for round-trip tests.
#pragma once

#include <cstring>
#include <type_traits>

#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot::testing {

template <typename T>
void fill_bytes(T& value, uint8_t seed) {
    static_assert(std::is_trivially_copyable_v<T>);
    auto* p = reinterpret_cast<uint8_t*>(&value);
    for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
}

inline kvm::VcpuState sample_vcpu(uint32_t index) {
    kvm::VcpuState v;
    uint8_t seed = static_cast<uint8_t>(17 * (index + 1));
    v.index = index;
    fill_bytes(v.regs, seed);
    fill_bytes(v.sregs, seed + 1);
    fill_bytes(v.fpu, seed + 2);
    v.xsave.resize(4096);
    for (size_t i = 0; i < v.xsave.size(); ++i) v.xsave[i] = static_cast<uint8_t>(seed + i * 7);
    fill_bytes(v.xcrs, seed + 3);
    v.xcrs.nr_xcrs = 1;
    v.msrs = {{.index = 0x10, .reserved = 0, .data = 12345},
              {.index = 0x6e0, .reserved = 0, .data = 0},
              {.index = 0xc0000080, .reserved = 0, .data = 0xd01}};
    fill_bytes(v.lapic, seed + 4);
    v.mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
    fill_bytes(v.events, seed + 5);
    fill_bytes(v.debugregs, seed + 6);
    v.cpuid.resize(5);
    for (auto& e : v.cpuid) fill_bytes(e, seed + 7);
    v.tsc_khz = 2'000'000 + index;
    return v;
}

inline MachineState sample_state(uint32_t vcpus = 2) {
    MachineState s;
    s.machine = {.vcpu_count = vcpus, .mem_size_mib = 3584, .smt = false, .huge_pages = "None"};
    fill_bytes(s.vm.pic_master, 1);
    s.vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
    fill_bytes(s.vm.pic_slave, 2);
    s.vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
    fill_bytes(s.vm.ioapic, 3);
    s.vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
    fill_bytes(s.vm.pit, 4);
    fill_bytes(s.vm.clock, 5);
    for (uint32_t i = 0; i < vcpus; ++i) s.vcpus.push_back(sample_vcpu(i));
    // RAM below the 32-bit MMIO gap and above 4 GiB, as a 3.5 GiB machine has.
    s.memory = {{.gpa = 0, .size_bytes = 3ull << 30, .file_offset = 0},
                {.gpa = 4ull << 30, .size_bytes = 512ull << 20, .file_offset = 3ull << 30}};
    s.devices = {{.id = "rootfs", .type = "virtio-block", .version = 1, .data = {1, 2, 3, 4}},
                 {.id = "serial", .type = "serial-8250", .version = 1, .data = {}}};
    s.creator = {.ember_version = "0.1.0", .created_unix_seconds = 1'790'000'000};
    return s;
}

template <typename T>
bool same_bytes(const T& a, const T& b) {
    // Byte equality on purpose: KVM state structs are copied as bytes, padding included.
    return std::memcmp(&a, &b, sizeof(T)) == 0;  // NOLINT(bugprone-suspicious-memory-comparison)
}

inline bool same_vcpu(const kvm::VcpuState& a, const kvm::VcpuState& b) {
    auto same_msrs =
        a.msrs.size() == b.msrs.size() &&
        std::memcmp(a.msrs.data(), b.msrs.data(), a.msrs.size() * sizeof(a.msrs[0])) == 0;
    auto same_cpuid =
        a.cpuid.size() == b.cpuid.size() &&
        std::memcmp(a.cpuid.data(), b.cpuid.data(), a.cpuid.size() * sizeof(a.cpuid[0])) == 0;
    return a.index == b.index && same_bytes(a.regs, b.regs) && same_bytes(a.sregs, b.sregs) &&
           same_bytes(a.fpu, b.fpu) && a.xsave == b.xsave && same_bytes(a.xcrs, b.xcrs) &&
           same_msrs && same_bytes(a.lapic, b.lapic) && same_bytes(a.mp_state, b.mp_state) &&
           same_bytes(a.events, b.events) && same_bytes(a.debugregs, b.debugregs) && same_cpuid &&
           a.tsc_khz == b.tsc_khz;
}

}  // namespace ember::snapshot::testing
