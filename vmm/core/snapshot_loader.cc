#include "vmm/core/snapshot_loader.h"

#include <algorithm>
#include <mutex>
#include <optional>

#include <fmt/core.h>

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/legacy/vmgenid_persist.h"
#include "devices/virtio/block/backend.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "vmm/arch/x86_64/boot.h"
#include "vmm/base/log.h"
#include "vmm/core/virtio_from_config.h"
#include "vmm/snapshot/file_working_set.h"
#include "vmm/snapshot/kvm_snapshot.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/uffd_handshake.h"

namespace ember {
namespace {

// The snapshot's devices, decoded: every blob is read before anything is built.
struct SavedDevices {
    std::optional<BootTimer::State> boot_timer;
    std::optional<Serial8250::State> serial;
    std::optional<I8042::State> i8042;
    std::optional<Cmos::State> cmos;
    std::optional<VmGenId::State> vmgenid;  // None in a snapshot from before the device.
    // virtio-mmio devices in window order: each is a block or a net device.
    struct Virtio {
        std::optional<snapshot::BlockSnapshot> block;
        std::optional<snapshot::NetSnapshot> net;
        const snapshot::VirtioSlotState& slot() const { return block ? block->slot : net->slot; }
    };
    std::vector<Virtio> virtio;
};

template <typename T>
Result<void> take_legacy(std::optional<T>& slot, Result<T> decoded, const std::string& type) {
    if (slot) return Error::invalid("snapshot devices", fmt::format("two {} devices", type));
    slot = EMBER_TRY(std::move(decoded));
    return ok();
}

Result<SavedDevices> decode_devices(const std::vector<snapshot::DeviceState>& states) {
    SavedDevices saved;
    for (const snapshot::DeviceState& d : states) {
        if (d.type == snapshot::kBootTimerType) {
            EMBER_TRY(take_legacy(saved.boot_timer, snapshot::decode_boot_timer(d), d.type));
        } else if (d.type == snapshot::kSerialType) {
            EMBER_TRY(take_legacy(saved.serial, snapshot::decode_serial(d), d.type));
        } else if (d.type == snapshot::kI8042Type) {
            EMBER_TRY(take_legacy(saved.i8042, snapshot::decode_i8042(d), d.type));
        } else if (d.type == snapshot::kCmosType) {
            EMBER_TRY(take_legacy(saved.cmos, snapshot::decode_cmos(d), d.type));
        } else if (d.type == snapshot::kVmGenIdType) {
            EMBER_TRY(take_legacy(saved.vmgenid, snapshot::decode_vmgenid(d), d.type));
        } else if (d.type == snapshot::kBlockType) {
            saved.virtio.push_back({.block = EMBER_TRY(snapshot::decode_block(d)), .net = {}});
        } else if (d.type == snapshot::kNetType) {
            saved.virtio.push_back({.block = {}, .net = EMBER_TRY(snapshot::decode_net(d))});
        } else {
            return Error::invalid("snapshot devices",
                                  fmt::format("device '{}' of unknown type '{}'", d.id, d.type));
        }
    }
    if (!saved.serial || !saved.i8042 || !saved.cmos) {
        return Error::invalid("snapshot devices",
                              "the serial port, i8042 or CMOS state is missing");
    }
    std::sort(saved.virtio.begin(), saved.virtio.end(),
              [](const SavedDevices::Virtio& a, const SavedDevices::Virtio& b) {
                  return a.slot().mmio_base < b.slot().mmio_base;
              });
    return saved;
}

Result<void> apply_network_overrides(SavedDevices& saved,
                                     const std::vector<NetworkOverride>& overrides) {
    for (const NetworkOverride& o : overrides) {
        auto it = std::find_if(saved.virtio.begin(), saved.virtio.end(),
                               [&](const SavedDevices::Virtio& v) {
                                   return v.net && v.net->net.iface_id == o.iface_id;
                               });
        if (it == saved.virtio.end()) {
            return Error::invalid(
                "network_overrides",
                fmt::format("the snapshot has no network interface '{}'", o.iface_id));
        }
        it->net->net.host_dev_name = o.host_dev_name;
    }
    return ok();
}

// A clone's own drive file: the kind checks and the non-blocking open of PUT /drives (through
// the same DiskFile::open the device uses), and the saved size, since the guest cached that
// capacity. Done before any KVM call, so a wrong file fails the load early and clearly.
Result<void> apply_drive_overrides(SavedDevices& saved,
                                   const std::vector<DriveOverride>& overrides) {
    for (size_t i = 0; i < overrides.size(); ++i) {
        const DriveOverride& o = overrides[i];
        for (size_t j = 0; j < i; ++j) {
            if (overrides[j].drive_id == o.drive_id) {
                return Error::invalid("drive_overrides",
                                      fmt::format("drive '{}' is named twice", o.drive_id));
            }
        }
        auto it = std::find_if(saved.virtio.begin(), saved.virtio.end(),
                               [&](const SavedDevices::Virtio& v) {
                                   return v.block && v.block->drive.drive_id == o.drive_id;
                               });
        if (it == saved.virtio.end()) {
            return Error::invalid("drive_overrides",
                                  fmt::format("the snapshot has no drive '{}'", o.drive_id));
        }
        if (o.path_on_host.empty()) {
            return Error::invalid("drive_overrides",
                                  fmt::format("drive '{}': path_on_host is empty", o.drive_id));
        }
        DriveConfig& drive = it->block->drive;
        auto disk =
            virtio::DiskFile::open(o.path_on_host, drive.is_read_only ? virtio::Access::kReadOnly
                                                                      : virtio::Access::kReadWrite);
        if (!disk) return disk.error().within("drive_overrides", o.drive_id);
        const uint64_t saved_bytes = it->block->device.disk_size_bytes;
        if (disk->size_bytes != saved_bytes) {
            return Error::invalid(
                "drive_overrides",
                fmt::format("drive '{}': {} is {} bytes, the snapshot's drive was {} bytes (the "
                            "guest knows that capacity): give a file of the same size",
                            o.drive_id, o.path_on_host, disk->size_bytes, saved_bytes));
        }
        drive.path_on_host = o.path_on_host;
    }
    return ok();
}

// Without a save time there is nothing to add to kvmclock: refused before anything is built.
Result<void> check_clock(const snapshot::MachineState& state, const SnapshotLoadParams& params) {
    if (!params.clock_realtime || state.vm.has_save_time()) return ok();
    return Error::invalid("clock_realtime",
                          "the snapshot does not hold the host time of its save (it was written "
                          "by an older Ember): load it without clock_realtime");
}

Result<HugePages> huge_pages_from(const std::string& name) {
    if (name == "2M") return HugePages::k2M;
    if (name == "Transparent") return HugePages::kTransparent;
    if (name == "None") return HugePages::kNone;
    return Error::invalid("snapshot machine", fmt::format("unknown huge_pages '{}'", name));
}

Result<VmConfig> config_of(const snapshot::MachineState& state, const SavedDevices& saved,
                           bool track_dirty_pages) {
    VmConfig config;
    config.machine.vcpu_count = state.machine.vcpu_count;
    config.machine.mem_size_mib = state.machine.mem_size_mib;
    config.machine.smt = state.machine.smt;
    config.machine.track_dirty_pages = track_dirty_pages;
    config.machine.huge_pages = EMBER_TRY(huge_pages_from(state.machine.huge_pages));
    for (const SavedDevices::Virtio& v : saved.virtio) {
        if (v.block) config.drives.push_back(v.block->drive);
        if (v.net) config.nets.push_back(v.net->net);
    }
    config.mmds = state.mmds;
    Result<void> valid = config.validate();
    if (valid) valid = config.machine.validate_for_boot();
    if (!valid) return valid.error().within("snapshot configuration");
    return config;
}

// The regions must be the ones Ember lays out for that much RAM: never guest RAM over the device
// windows, whatever the file says.
Result<void> check_memory_layout(const snapshot::MachineState& state) {
    std::vector<GuestRange> expected = x86::ram_ranges(state.machine.mem_size_mib << 20);
    bool same = expected.size() == state.memory.size();
    for (size_t i = 0; same && i < expected.size(); ++i) {
        same = expected[i].start.value() == state.memory[i].gpa &&
               expected[i].size_bytes == state.memory[i].size_bytes;
    }
    if (!same) {
        return Error::invalid("snapshot memory",
                              fmt::format("the memory regions are not Ember's layout for {} MiB",
                                          state.machine.mem_size_mib));
    }
    return ok();
}

// The File backend maps the memory file MAP_PRIVATE. On hugetlbfs its pages are 2 MiB (a 2M
// snapshot written there keeps them; Firecracker refuses File for 2M, its issue #6099); a regular
// file can only be mapped with 4 KiB pages. The configuration then says what the guest really
// got, so GET /vm/config and the next snapshot are truthful, and a 2M snapshot that had to fall
// back says why and how to keep its huge pages.
void note_file_backing(MachineConfig& machine, const GuestMemory& memory, const std::string& path) {
    const bool huge = memory.backing() == PageBacking::kHugetlb2M;
    if (machine.huge_pages == HugePages::k2M && !huge) {
        EMBER_WARN(
            "The snapshot's guest memory was on 2M huge pages, but {} is not on a hugetlbfs "
            "mount: it is mapped with 4 KiB pages. Put the memory file on hugetlbfs (e.g. "
            "/dev/hugepages) or use the Uffd backend to keep 2 MiB pages.",
            path);
    }
    if (huge) {
        machine.huge_pages = HugePages::k2M;
    } else if (machine.huge_pages == HugePages::k2M) {
        machine.huge_pages = HugePages::kNone;
    }
}

Result<void> map_guest_memory(Machine& machine, const snapshot::MachineState& state,
                              const SnapshotLoadParams& params, PageBacking backing) {
    if (params.backend_type == MemBackendType::kFile) {
        machine.memory = EMBER_TRY(snapshot::map_memory_file(params.backend_path, state.memory));
        if (params.working_set_path) {
            snapshot::FilePopulateStats populated = EMBER_TRY(snapshot::populate_file_working_set(
                machine.memory, state.memory, params.backend_path, *params.working_set_path));
            EMBER_INFO(
                "Working set {}: {} pages populated in {} runs, {} of them copied, in "
                "{:.1f} ms",
                *params.working_set_path, populated.pages, populated.runs, populated.written_pages,
                populated.ms);
        }
        return ok();
    }
    std::vector<GuestRange> ranges;
    for (const snapshot::MemoryRegionState& r : state.memory) {
        ranges.push_back(GuestRange{GuestAddress(r.gpa), r.size_bytes});
    }
    // Every 2 MiB page is reserved now: a host pool too small fails the load here, not the guest
    // with SIGBUS on a later fault.
    machine.memory = EMBER_TRY(GuestMemory::anonymous(ranges, backing));
    std::vector<snapshot::UffdRegion> regions =
        EMBER_TRY(snapshot::uffd_regions_of(machine.memory, state.memory));
    machine.uffd = EMBER_TRY(snapshot::create_userfaultfd());
    EMBER_TRY(snapshot::register_userfaultfd(machine.uffd.get(), regions));
    machine.uffd_handler =
        EMBER_TRY(snapshot::send_uffd_handshake(params.backend_path, machine.uffd.get(), regions));
    return ok();
}

Result<void> check_slot(const DeviceManager::MmioSlot& got, const snapshot::VirtioSlotState& saved,
                        const std::string& id) {
    if (got.base.value() != saved.mmio_base || got.gsi != saved.gsi) {
        return Error::invalid(
            "snapshot device layout",
            fmt::format("{}: saved at MMIO {:#x} GSI {}, the layout puts it at {:#x} GSI {}", id,
                        saved.mmio_base, saved.gsi, got.base.value(), got.gsi));
    }
    return ok();
}

// Attaches the virtio devices as the builder does, from their saved configuration (the MMDS
// interfaces with `mmds_service`), and checks that each lands in its saved window; their state
// comes later.
Result<void> add_virtio_devices(Machine& machine, const SavedDevices& saved,
                                const std::optional<MmdsConfig>& mmds,
                                mmds::Responder* mmds_service, EventLoop& loop) {
    DeviceManager& devices = machine.devices;
    for (const SavedDevices::Virtio& v : saved.virtio) {
        if (v.block) {
            const DriveConfig& drive = v.block->drive;
            auto block = EMBER_TRY(attach_drive(drive, devices, machine.memory, loop));
            EMBER_TRY(check_slot(block.slot, v.block->slot, drive.drive_id));
        } else {
            const NetConfig& net = v.net->net;
            auto attached = EMBER_TRY(attach_net(net, devices, machine.memory, loop,
                                                 net_mmds_options(net, mmds, mmds_service)));
            EMBER_TRY(check_slot(attached.slot, v.net->slot, net.iface_id));
        }
    }
    return ok();
}

template <typename Device, typename State>
Result<void> restore_legacy(Device* device, const std::optional<State>& state, const char* id) {
    if (!device || !state) return ok();
    std::lock_guard lock(device->mutex());
    Result<void> restored = device->restore_state(*state);
    if (!restored) return restored.error().within("snapshot device", id);
    return ok();
}

// Device first, then its transport, which re-activates it with the restored queues.
template <typename Device, typename Saved>
Result<void> restore_virtio(const DeviceManager& devices, const Saved& saved,
                            const std::string& id) {
    auto attached = devices.find<Device>(id);
    if (!attached) return Error::invalid("snapshot device", fmt::format("{} is not attached", id));
    std::lock_guard lock(attached->transport->mutex());
    Result<void> restored = attached->device->restore_state(saved.device);
    if (restored) restored = attached->transport->restore_state(saved.slot.transport);
    if (!restored) return restored.error().within("snapshot device", id);
    return ok();
}

Result<void> restore_device_states(Machine& machine, const SavedDevices& saved) {
    DeviceManager& devices = machine.devices;
    EMBER_TRY(restore_legacy(devices.boot_timer(), saved.boot_timer, "boot-timer"));
    EMBER_TRY(restore_legacy(devices.serial(), saved.serial, "serial"));
    EMBER_TRY(restore_legacy(devices.i8042(), saved.i8042, "i8042"));
    EMBER_TRY(restore_legacy(devices.cmos(), saved.cmos, "cmos"));
    for (const SavedDevices::Virtio& v : saved.virtio) {
        if (v.block) {
            EMBER_TRY(
                restore_virtio<virtio::BlockDevice>(devices, *v.block, v.block->drive.drive_id));
        } else {
            EMBER_TRY(restore_virtio<virtio::NetDevice>(devices, *v.net, v.net->net.iface_id));
        }
    }
    return ok();
}

}  // namespace

Result<LoadedMachine> load_machine(const snapshot::MachineState& state,
                                   const SnapshotLoadParams& params, const BuildOptions& options,
                                   EventLoop& loop) {
    EMBER_TRY(check_memory_layout(state));
    SavedDevices saved = EMBER_TRY(decode_devices(state.devices));
    EMBER_TRY(apply_network_overrides(saved, params.network_overrides));
    EMBER_TRY(apply_drive_overrides(saved, params.drive_overrides));
    EMBER_TRY(check_clock(state, params));
    VmConfig config = EMBER_TRY(config_of(state, saved, params.track_dirty_pages));

    std::unique_ptr<Machine> machine = EMBER_TRY(new_machine(options.kvm_path));
    EMBER_TRY(map_guest_memory(*machine, state, params, page_backing(config.machine.huge_pages)));
    if (params.backend_type == MemBackendType::kFile) {
        note_file_backing(config.machine, machine->memory, params.backend_path);
    }
    machine->dirty_log = params.track_dirty_pages;
    EMBER_TRY(machine->vm.register_memory(machine->memory, machine->dirty_log));

    // The same devices in the same order as the builder, so every address and GSI matches.
    BuildOptions legacy = options;
    legacy.boot_timer = saved.boot_timer.has_value();
    EMBER_TRY(add_legacy_devices(*machine, config, legacy, loop));
    EMBER_TRY(add_virtio_devices(*machine, saved, config.mmds, options.mmds_service, loop));

    std::vector<int> vcpu_fds;
    for (uint32_t i = 0; i < state.machine.vcpu_count; ++i) {
        kvm::Vcpu vcpu = EMBER_TRY(kvm::Vcpu::create(machine->vm, i));
        machine->vcpus.push_back(std::make_unique<kvm::Vcpu>(std::move(vcpu)));
        vcpu_fds.push_back(machine->vcpus.back()->fd());
    }
    // KVM first: a device that re-raises its pending interrupt does so into the restored
    // irqchip, not into one the restore then overwrites.
    EMBER_TRY(snapshot::restore_kvm_state(
        state, machine->vm.fd(), vcpu_fds,
        params.clock_realtime ? kvm::ClockRestore::kRealtime : kvm::ClockRestore::kAsSaved));
    EMBER_TRY(restore_device_states(*machine, saved));
    // A new generation ID, announced into the restored irqchip: each clone reseeds its RNG.
    if (saved.vmgenid) {
        EMBER_TRY(machine->devices.add_vmgenid(machine->memory, saved.vmgenid));
        EMBER_TRY(machine->devices.vmgenid()->regenerate_and_notify(machine->memory));
    }
    machine->devices.kick_queues();
    machine->console_mode = EMBER_TRY(TerminalRawMode::enter(options.console_input_fd));
    return LoadedMachine{std::move(machine), std::move(config)};
}

}  // namespace ember
