#include "vmm/core/builder.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include "vmm/arch/x86_64/acpi_tables.h"
#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/cpu_template.h"
#include "vmm/base/file_open.h"
#include "vmm/base/log.h"
#include "vmm/core/virtio_from_config.h"
#include "vmm/kvm/vcpu_state.h"

namespace ember {
namespace {

Result<UniqueFd> open_readonly(const std::string& path, const char* what) {
    NamedFile file = EMBER_TRY(
        open_named_file(path, FileAccess::kReadOnly, FileKinds::kRegular, IoMode::kBlocking, what));
    return std::move(file.fd);
}

Result<std::unique_ptr<SerialOutput>> open_serial_output(const VmConfig& config) {
    UniqueFd fd;
    if (config.serial && config.serial->serial_out_path) {
        // As Firecracker: a file, a FIFO or a device such as a tty, written without blocking (a
        // FIFO nobody reads drops the output and counts it in uart.missed_write_count).
        NamedFile file = EMBER_TRY(open_named_file(
            *config.serial->serial_out_path, FileAccess::kAppendOrCreate,
            FileKinds::kRegularFifoOrCharDevice, IoMode::kNonBlocking, "open serial_out_path"));
        fd = std::move(file.fd);
    } else {
        fd.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0));
        if (!fd) return Error::from_errno("dup stdout");
    }
    return std::unique_ptr<SerialOutput>(std::make_unique<FdSerialOutput>(std::move(fd)));
}

// `supported`: the host's CPUID with the CPU template applied; `template_msrs`: its MSR values.
Result<void> configure_vcpu(kvm::Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& supported,
                            std::span<const kvm_msr_entry> template_msrs,
                            const x86::LoadedKernel& kernel, uint32_t count) {
    std::vector<kvm_cpuid_entry2> cpuid = supported;
    x86::normalize_cpuid(cpuid, vcpu.index(), count);
    EMBER_TRY(vcpu.set_cpuid(cpuid));
    // Every supported XSAVE feature on from the start (reset value: x87 only), as leaf 0xD
    // says. A guest kernel sets XCR0 to that set itself; a nested CPU that does not intercept
    // the guest's XSETBV (QEMU TCG's SVM before 8.2) would otherwise see KVM put its XCR0 back
    // to x87 on every VM entry, and the guest's xstate size check fails.
    EMBER_TRY(vcpu.set_xcr0(x86::supported_xcr0(cpuid)));
    std::vector<kvm_msr_entry> msrs = x86::boot_msrs();
    msrs.insert(msrs.end(), template_msrs.begin(), template_msrs.end());
    EMBER_TRY(vcpu.set_msrs(msrs));
    EMBER_TRY(vcpu.set_regs(x86::boot_regs(kernel)));
    EMBER_TRY(vcpu.set_fpu(x86::boot_fpu()));
    kvm_sregs sregs = EMBER_TRY(vcpu.sregs());
    x86::boot_sregs(kernel, sregs);
    EMBER_TRY(vcpu.set_sregs(sregs));
    kvm_lapic_state lapic = EMBER_TRY(vcpu.lapic());
    x86::configure_lapic(lapic);
    EMBER_TRY(vcpu.set_lapic(lapic));
    return ok();
}

// Firecracker's kvm_capabilities: each one added must be there ("!N" only drops N from
// Firecracker's own list; Ember checks what it uses when it uses it).
Result<void> check_kvm_capabilities(const kvm::Kvm& kvm, const CpuConfig& cpu_template) {
    for (const KvmCapabilityChange& c : cpu_template.kvm_capabilities) {
        if (!c.remove && kvm.check_extension(c.capability) <= 0) {
            return Error::invalid("cpu template",
                                  fmt::format("Missing KVM capabilities: [{:#x}]", c.capability));
        }
    }
    return ok();
}

}  // namespace

std::string kernel_cmdline(const VmConfig& config, const std::string& device_entries) {
    std::string cmdline = config.boot_source && config.boot_source->boot_args
                              ? *config.boot_source->boot_args
                              : std::string(kDefaultBootArgs);
    for (const DriveConfig& drive : config.drives) {
        if (!drive.is_root_device) continue;
        cmdline += drive.partuuid ? " root=PARTUUID=" + *drive.partuuid : " root=/dev/vda";
        cmdline += drive.is_read_only ? " ro" : " rw";
    }
    cmdline += device_entries;
    return cmdline;
}

Result<std::unique_ptr<Machine>> new_machine(const std::string& kvm_path) {
    kvm::Kvm kvm = EMBER_TRY(kvm::Kvm::open(kvm_path));
    kvm::Vm vm = EMBER_TRY(kvm::Vm::create(kvm));
    EventFd reset_evt = EMBER_TRY(EventFd::create());
    EventFd vcpu_exit_evt = EMBER_TRY(EventFd::create());
    auto machine = std::make_unique<Machine>(std::move(kvm), std::move(vm), std::move(reset_evt),
                                             std::move(vcpu_exit_evt));
    EMBER_TRY(machine->vm.set_tss_addr(kvm::kTssAddress));
    EMBER_TRY(machine->vm.set_identity_map_addr(kvm::kIdentityMapAddress));
    EMBER_TRY(machine->vm.create_irq_chip());
    EMBER_TRY(machine->vm.create_pit2());
    machine->msr_indices = EMBER_TRY(kvm::msr_index_list(machine->kvm.fd()));
    machine->xsave_bytes = kvm::xsave_size(machine->vm.fd());
    return machine;
}

PageBacking page_backing(HugePages huge_pages) {
    switch (huge_pages) {
        case HugePages::k2M: return PageBacking::kHugetlb2M;
        case HugePages::kTransparent: return PageBacking::kTransparentHuge;
        case HugePages::kNone: break;
    }
    return PageBacking::kSmall;
}

Result<void> add_legacy_devices(Machine& machine, const VmConfig& config,
                                const BuildOptions& options, EventLoop& loop) {
    // The boot timer first so that its address never moves, as Firecracker.
    DeviceManager& devices = machine.devices;
    if (options.boot_timer) EMBER_TRY(devices.add_boot_timer(options.start));
    std::unique_ptr<SerialOutput> serial_out = EMBER_TRY(open_serial_output(config));
    UniqueFd console_in;
    if (options.console_input_fd >= 0) {
        int fd = ::fcntl(options.console_input_fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0) console_in.reset(fd);
    }
    EMBER_TRY(devices.add_serial(std::move(serial_out), std::move(console_in), loop));
    EMBER_TRY(devices.add_i8042(machine.reset_evt));
    EMBER_TRY(devices.add_cmos());
    return ok();
}

Result<std::unique_ptr<Machine>> build_machine(const VmConfig& config, const BuildOptions& options,
                                               EventLoop& loop) {
    if (!config.boot_source) return Error::invalid("build VM", "no boot source configured");
    const MachineConfig& machine_config = config.machine;

    EMBER_TRY(machine_config.validate_for_boot());
    std::unique_ptr<Machine> machine = EMBER_TRY(new_machine(options.kvm_path));
    // The CPU template first, as Firecracker: a host that cannot take it fails the start before
    // any memory is set up. Applied before normalization, as there.
    std::vector<kvm_cpuid_entry2> cpuid = EMBER_TRY(machine->kvm.supported_cpuid());
    const CpuConfig cpu_template = EMBER_TRY(
        x86::cpu_template_for_host(machine_config.cpu_template, config.cpu_config, cpuid));
    EMBER_TRY(check_kvm_capabilities(machine->kvm, cpu_template));
    EMBER_TRY(x86::apply_cpuid_modifiers(cpu_template, cpuid));

    std::vector<GuestRange> ranges = x86::ram_ranges(machine_config.mem_size_mib << 20);
    machine->memory =
        EMBER_TRY(GuestMemory::anonymous(ranges, page_backing(machine_config.huge_pages)));
    machine->dirty_log = machine_config.track_dirty_pages;
    EMBER_TRY(machine->vm.register_memory(machine->memory, machine->dirty_log));
    // With "Kernel loaded", "ACPI tables" and "First KVM_RUN", a timeline of the monitor's own
    // share of a boot (the boot bench reads their timestamps).
    EMBER_INFO("Guest memory mapped: {} MiB", machine_config.mem_size_mib);

    DeviceManager& devices = machine->devices;
    EMBER_TRY(add_legacy_devices(*machine, config, options, loop));
    // virtio-mmio windows and GSIs follow, in Firecracker's order: drives (root first), nets.
    EMBER_TRY(attach_virtio_devices(config, devices, machine->memory, loop, options.mmds_service));
    EMBER_TRY(devices.add_vmgenid(machine->memory, std::nullopt));

    // The guest image.
    const BootSourceConfig& boot = *config.boot_source;
    UniqueFd kernel_fd = EMBER_TRY(open_readonly(boot.kernel_image_path, "open kernel image"));
    x86::LoadedKernel kernel = EMBER_TRY(x86::load_kernel(machine->memory, kernel_fd.get()));
    EMBER_INFO("Kernel loaded: {} entry at {:#x}",
               kernel.protocol == x86::BootProtocol::kPvh ? "PVH" : "64-bit Linux boot protocol",
               kernel.entry.value());
    x86::BootParams params;
    if (boot.initrd_path) {
        UniqueFd initrd_fd = EMBER_TRY(open_readonly(*boot.initrd_path, "open initrd"));
        params.initrd = EMBER_TRY(x86::load_initrd(machine->memory, initrd_fd.get(), kernel));
    }
    machine->cmdline = kernel_cmdline(config, devices.kernel_cmdline_entries());
    params.cmdline = machine->cmdline;
    params.vcpu_count = machine_config.vcpu_count;
    // Written once; a kernel without ACPI never reads them and boots from the MP table.
    const x86::AcpiTablesWritten acpi = EMBER_TRY(
        x86::write_acpi_tables(machine->memory, devices.acpi_devices(machine_config.vcpu_count)));
    params.acpi_rsdp = acpi.rsdp;
    EMBER_INFO("ACPI tables: {} bytes, RSDP at {:#x}", acpi.table_bytes, acpi.rsdp.value());
    EMBER_TRY(x86::write_boot_structures(machine->memory, kernel, params));
    EMBER_DEBUG("kernel command line: {}", machine->cmdline);

    std::vector<kvm_msr_entry> template_msrs;
    for (uint32_t i = 0; i < machine_config.vcpu_count; ++i) {
        kvm::Vcpu vcpu = EMBER_TRY(kvm::Vcpu::create(machine->vm, i));
        if (i == 0 && !cpu_template.msr_modifiers.empty()) {
            // The template's MSRs over the values a fresh vCPU has, the same for every vCPU.
            std::vector<kvm_msr_entry> current =
                EMBER_TRY(kvm::get_msrs(vcpu.fd(), x86::template_msr_indices(cpu_template)));
            template_msrs = EMBER_TRY(x86::apply_msr_modifiers(cpu_template, current));
        }
        machine->vcpus.push_back(std::make_unique<kvm::Vcpu>(std::move(vcpu)));
        EMBER_TRY(configure_vcpu(*machine->vcpus.back(), cpuid, template_msrs, kernel,
                                 machine_config.vcpu_count));
    }
    // Keys reach the guest as typed, Ctrl-C included, until the Machine goes (Firecracker's
    // set_raw_mode on stdin). Nothing to do when the console input is not a terminal.
    machine->console_mode = EMBER_TRY(TerminalRawMode::enter(options.console_input_fd));
    return machine;
}

}  // namespace ember
