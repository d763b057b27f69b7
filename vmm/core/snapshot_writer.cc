#include "vmm/core/snapshot_writer.h"

#include <ctime>
#include <mutex>

#include <fmt/core.h>

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/legacy/vmgenid_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "vmm/kvm/vm_state.h"
#include "vmm/snapshot/kvm_snapshot.h"
#include "vmm/snapshot/memory_file.h"

namespace ember {
namespace {

template <typename Item>
Result<const Item*> find_config(const std::vector<Item>& items, const std::string& id,
                                std::string Item::*field, const char* what) {
    for (const Item& item : items) {
        if (item.*field == id) return &item;
    }
    return Error::invalid("snapshot create", fmt::format("no configuration for {} '{}'", what, id));
}

snapshot::VirtioSlotState slot_state(const DeviceManager::MmioSlot& slot,
                                     const virtio::MmioTransport& transport) {
    return snapshot::VirtioSlotState{
        .mmio_base = slot.base.value(), .gsi = slot.gsi, .transport = transport.save_state()};
}

Result<std::vector<snapshot::DeviceState>> capture_devices(DeviceManager& devices,
                                                           const VmConfig& config) {
    std::vector<snapshot::DeviceState> out;
    if (BootTimer* timer = devices.boot_timer()) {
        std::lock_guard lock(timer->mutex());
        out.push_back(snapshot::encode_boot_timer(timer->save_state()));
    }
    {
        std::lock_guard lock(devices.serial()->mutex());
        out.push_back(snapshot::encode_serial(devices.serial()->save_state()));
    }
    {
        std::lock_guard lock(devices.i8042()->mutex());
        out.push_back(snapshot::encode_i8042(devices.i8042()->save_state()));
    }
    {
        std::lock_guard lock(devices.cmos()->mutex());
        out.push_back(snapshot::encode_cmos(devices.cmos()->save_state()));
    }
    if (VmGenId* vmgenid = devices.vmgenid()) {
        out.push_back(snapshot::encode_vmgenid(vmgenid->save_state()));
    }
    for (const auto& block : devices.all<virtio::BlockDevice>()) {
        std::lock_guard lock(block.transport->mutex());
        // Requests still in the io_uring point into guest memory: finish them first.
        EMBER_TRY(block.device->quiesce());
        const DriveConfig* drive = EMBER_TRY(find_config<DriveConfig>(
            config.drives, block.device->drive_id(), &DriveConfig::drive_id, "drive"));
        out.push_back(snapshot::encode_block(
            snapshot::BlockSnapshot{.drive = *drive,
                                    .slot = slot_state(block.slot, *block.transport),
                                    .device = EMBER_TRY(block.device->save_state())}));
    }
    for (const auto& net : devices.all<virtio::NetDevice>()) {
        std::lock_guard lock(net.transport->mutex());
        // RX chains popped ahead for direct reads go back first: the saved ring has them unused.
        net.device->quiesce();
        const NetConfig* iface = EMBER_TRY(find_config<NetConfig>(
            config.nets, net.device->iface_id(), &NetConfig::iface_id, "network interface"));
        out.push_back(
            snapshot::encode_net(snapshot::NetSnapshot{.net = *iface,
                                                       .slot = slot_state(net.slot, *net.transport),
                                                       .device = net.device->save_state()}));
    }
    return out;
}

// Pages written since the last snapshot, per region: KVM's dirty log (vCPU writes) or'ed with the
// pages devices wrote. Without dirty logging, every page in RAM (mincore), as Firecracker does.
Result<std::vector<std::vector<uint64_t>>> dirty_pages(const Machine& machine) {
    std::vector<std::vector<uint64_t>> bitmaps;
    const auto& regions = machine.memory.regions();
    for (size_t i = 0; i < regions.size(); ++i) {
        std::vector<uint64_t> bitmap;
        if (machine.dirty_log) {
            bitmap = EMBER_TRY(
                kvm::dirty_log(machine.vm.fd(), static_cast<uint32_t>(i), regions[i].size()));
        } else {
            bitmap = EMBER_TRY(snapshot::resident_pages(
                {regions[i].mapping.data(), static_cast<size_t>(regions[i].size())}));
        }
        std::vector<uint64_t> devices = machine.memory.take_dirty(i);
        for (size_t w = 0; w < bitmap.size() && w < devices.size(); ++w) bitmap[w] |= devices[w];
        bitmaps.push_back(std::move(bitmap));
    }
    return bitmaps;
}

// After a full snapshot the next diff counts from now: read (and so reset) both logs.
Result<void> reset_dirty_pages(const Machine& machine) {
    const auto& regions = machine.memory.regions();
    for (size_t i = 0; i < regions.size(); ++i) {
        if (machine.dirty_log) {
            (void)EMBER_TRY(
                kvm::dirty_log(machine.vm.fd(), static_cast<uint32_t>(i), regions[i].size()));
        }
        (void)machine.memory.take_dirty(i);
    }
    return ok();
}

const char* huge_pages_name(HugePages pages) {
    switch (pages) {
        case HugePages::k2M: return "2M";
        case HugePages::kTransparent: return "Transparent";
        case HugePages::kNone: break;
    }
    return "None";
}

}  // namespace

Result<SnapshotWritten> write_snapshot(Machine& machine, const VmConfig& config,
                                       const SnapshotCreateParams& params) {
    snapshot::MachineState state;
    state.machine = snapshot::MachineInfo{.vcpu_count = config.machine.vcpu_count,
                                          .mem_size_mib = config.machine.mem_size_mib,
                                          .smt = config.machine.smt,
                                          .huge_pages = huge_pages_name(config.machine.huge_pages)};
    state.mmds = config.mmds;
    state.devices = EMBER_TRY(capture_devices(machine.devices, config));
    std::vector<int> vcpu_fds;
    for (const auto& vcpu : machine.vcpus) vcpu_fds.push_back(vcpu->fd());
    EMBER_TRY(snapshot::capture_kvm_state(state, machine.msr_indices, machine.xsave_bytes,
                                          machine.vm.fd(), vcpu_fds));
    // kvmclock as the pause left it, so the restored guest's time continues from the pause
    // rather than from when the snapshot happened to be written.
    if (machine.paused_clock) state.vm.clock = *machine.paused_clock;
    state.creator =
        snapshot::CreatorInfo{.ember_version = EMBER_VERSION,
                              .created_unix_seconds = static_cast<uint64_t>(std::time(nullptr))};

    std::vector<snapshot::MemoryChunk> chunks = snapshot::chunks_of(machine.memory);
    snapshot::MemoryFileLayout layout;
    if (params.type == SnapshotType::kDiff) {
        std::vector<std::vector<uint64_t>> bitmaps = EMBER_TRY(dirty_pages(machine));
        std::vector<std::span<const uint64_t>> views(bitmaps.begin(), bitmaps.end());
        layout = EMBER_TRY(snapshot::write_diff_memory(params.mem_file_path, chunks, views));
    } else {
        layout = EMBER_TRY(snapshot::write_full_memory(params.mem_file_path, chunks));
        EMBER_TRY(reset_dirty_pages(machine));
    }
    state.memory = layout.regions;
    // The state file last: a complete state file means its memory file is complete too.
    EMBER_TRY(snapshot::save(params.snapshot_path, state));
    return SnapshotWritten{.memory_pages = layout.pages_written,
                           .memory_file_bytes = layout.file_size_bytes,
                           .devices = state.devices.size()};
}

}  // namespace ember
