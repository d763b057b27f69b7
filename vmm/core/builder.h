// Builder: turns a validated VmConfig into a ready, not yet running Machine: KVM VM with irqchip
// and PIT, guest RAM in memory slots, legacy devices, the kernel and initrd loaded, the boot
// structures written and every vCPU configured (CPUID, MSRs, registers, FPU, LAPIC).
// Thread: the vmm thread.
#pragma once

#include <memory>
#include <string>

#include "devices/legacy/boot_timer.h"
#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/core/event_loop.h"
#include "vmm/core/machine.h"
#include "vmm/mmds/responder.h"

namespace ember {

struct BuildOptions {
    bool boot_timer = false;
    BootTimer::StartTime start = BootTimer::StartTime::now();
    std::string kvm_path = kvm::Kvm::kDefaultPath;
    // Console input for COM1; stdin by default. -1 disables input.
    int console_input_fd = 0;
    // Answers MMDS on the interfaces the configuration's mmds names; outlives the Machine.
    mmds::Responder* mmds_service = nullptr;
};

// The kernel command line: boot_args (or Firecracker's default), then the root device from the
// drives, then each virtio-mmio device.
std::string kernel_cmdline(const VmConfig& config, const std::string& device_entries);

// What backs guest RAM for a huge_pages setting.
PageBacking page_backing(HugePages huge_pages);

// The parts a snapshot restore shares: an empty Machine (KVM VM with TSS, irqchip and PIT), and
// the legacy devices (boot timer when asked, COM1 from config.serial, i8042, CMOS).
Result<std::unique_ptr<Machine>> new_machine(const std::string& kvm_path);
Result<void> add_legacy_devices(Machine& machine, const VmConfig& config,
                                const BuildOptions& options, EventLoop& loop);

Result<std::unique_ptr<Machine>> build_machine(const VmConfig& config, const BuildOptions& options,
                                               EventLoop& loop);

}  // namespace ember
