// DeviceManager: creates the legacy devices of one VM and places every device: on the port I/O and
// MMIO buses, with its interrupt wired to KVM. Legacy devices sit at fixed places (COM1 0x3f8/GSI
// 4, i8042 0x60/GSI 1, the boot timer at MMIO 0xC0000000); virtio-mmio devices get 4 KiB windows
// from 0xC0001000 and one GSI each from 5, and a `virtio_mmio.device=` entry for the kernel
// command line. For each virtio device it registers one ioeventfd per queue and watches it, and
// the event sources the device declares, on the vmm thread's event loop, with the transport's
// mutex held; it never knows which kind of virtio device it holds.
// Thread: the vmm thread. The devices are then reached by vCPU threads through the buses.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/event_source.h"
#include "devices/legacy/boot_timer.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial_8250.h"
#include "devices/legacy/serial_console.h"
#include "devices/legacy/vmgenid.h"
#include "devices/virtio/transport/mmio_transport.h"
#include "vmm/arch/x86_64/acpi_tables.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/core/bus.h"
#include "vmm/core/event_fd_irq_line.h"
#include "vmm/core/event_loop.h"
#include "vmm/kvm/vm.h"
#include "vmm/memory/guest_address.h"
#include "vmm/memory/guest_memory.h"

namespace ember {

class DeviceManager {
public:
    static constexpr uint64_t kSerialPort = 0x3f8;
    static constexpr uint32_t kSerialGsi = 4;
    static constexpr uint64_t kI8042Port = 0x60;
    static constexpr uint32_t kI8042Gsi = 1;
    static constexpr uint64_t kVirtioMmioStart = 0xc0001000;
    static constexpr uint32_t kFirstVirtioGsi = 5;
    static constexpr uint32_t kLastVirtioGsi = 23;

    explicit DeviceManager(kvm::Vm& vm) : vm_(vm) {}
    ~DeviceManager();
    DeviceManager(const DeviceManager&) = delete;
    DeviceManager& operator=(const DeviceManager&) = delete;

    // COM1. Output goes to `output`; when `input` is a valid fd, a SerialConsole feeds its bytes
    // to the guest from `loop` (a console input epoll refuses, such as a regular file, is left
    // unwatched: a VM without console input is still a VM).
    Result<void> add_serial(std::unique_ptr<SerialOutput> output, UniqueFd input, EventLoop& loop);
    // The i8042 controller; its 0xFE command writes `reset_evt`.
    Result<void> add_i8042(const EventFd& reset_evt);
    // The CMOS RTC at 0x70/0x71 (no interrupt).
    Result<void> add_cmos();
    // Must be added before any virtio device, as Firecracker does, so the address stays stable.
    Result<void> add_boot_timer(BootTimer::StartTime start);
    // The VM generation ID, after the virtio devices: its GSI is the next one theirs leave free,
    // so a snapshot from before the device keeps every virtio GSI. At boot `saved` is none (the ID
    // at kVmGenIdStart; none when all 19 GSIs went to virtio devices, with a warning); at a load
    // it is the snapshot's, which must name a free GSI of that range.
    Result<void> add_vmgenid(const GuestMemory& memory, std::optional<VmGenId::State> saved);

    struct MmioSlot {
        GuestAddress base;
        uint32_t gsi = 0;
        EventFdIrqLine* irq = nullptr;  // Owned by the manager.
    };
    // A virtio device in its window. `device` is owned by `transport`, which the manager owns.
    template <typename Device>
    struct Attached {
        Device* device = nullptr;
        virtio::MmioTransport* transport = nullptr;
        MmioSlot slot;
    };
    using AttachedVirtio = Attached<virtio::VirtioDevice>;

    // Puts `device` behind a new MMIO transport in the next window with the next GSI (irqfd
    // registered), with one ioeventfd per queue on the window's QueueNotify register (datamatch:
    // the queue index) that `loop` turns into process_queue() calls, and watches the device's
    // event sources on `loop`. Every virtio device shares one loop. Devices are probed in window
    // order: a root drive must come first to be /dev/vda.
    Result<AttachedVirtio> add_virtio_device(std::unique_ptr<virtio::VirtioDevice> device,
                                             const GuestMemory& memory, EventLoop& loop);
    // The device of type `Device` called `id`, for PATCH and metrics. Ids are unique per type
    // only (a drive and a network interface may share one).
    template <typename Device>
    std::optional<Attached<Device>> find(std::string_view id) const {
        for (const AttachedVirtio& v : virtio_) {
            auto* device = dynamic_cast<Device*>(v.device);
            if (device && device->id() == id) return Attached<Device>{device, v.transport, v.slot};
        }
        return std::nullopt;
    }
    // Every device of type `Device`, in window order.
    template <typename Device>
    std::vector<Attached<Device>> all() const {
        std::vector<Attached<Device>> out;
        for (const AttachedVirtio& v : virtio_) {
            if (auto* device = dynamic_cast<Device*>(v.device)) {
                out.push_back(Attached<Device>{device, v.transport, v.slot});
            }
        }
        return out;
    }

    // Signals every queue's ioeventfd, as if the driver had notified each queue: after a
    // restore, a queue the old process had not finished (a throttled request, a notification
    // still unread at the pause) is processed again instead of waiting for a notification that
    // the guest, believing the device busy, may never send. Firecracker's kick_devices().
    void kick_queues();

    // ` virtio_mmio.device=4K@0xc0001000:5` for each virtio-mmio device.
    std::string kernel_cmdline_entries() const;
    // What the ACPI tables describe: COM1, the i8042, the virtio-mmio windows, the VMGenID.
    x86::AcpiDevices acpi_devices(uint32_t vcpu_count) const;

    Bus& pio_bus() { return pio_bus_; }
    Bus& mmio_bus() { return mmio_bus_; }
    kvm::Vm& vm() { return vm_; }
    Serial8250* serial() { return serial_.get(); }
    I8042* i8042() { return i8042_.get(); }
    BootTimer* boot_timer() { return boot_timer_.get(); }
    Cmos* cmos() { return cmos_.get(); }
    VmGenId* vmgenid() { return vmgenid_.get(); }

private:
    Result<EventFdIrqLine*> make_irq(uint32_t gsi);
    // The next virtio-mmio window and GSI (irqfd registered), with `transport` on the MMIO bus
    // there.
    Result<MmioSlot> place_virtio_mmio(BusDevice& transport);
    // Watches each source on `loop`; with `guard`, each handler runs with it held. The manager
    // stops watching when a handler asks to or when it is destroyed.
    Result<void> watch(std::vector<EventSource> sources, std::mutex* guard, EventLoop& loop);
    void unwatch(int fd);

    kvm::Vm& vm_;
    Bus pio_bus_;
    Bus mmio_bus_;
    std::vector<std::unique_ptr<EventFdIrqLine>> irqs_;
    std::unique_ptr<SerialOutput> serial_output_;
    std::unique_ptr<Serial8250> serial_;
    std::unique_ptr<SerialConsole> serial_console_;
    std::unique_ptr<I8042> i8042_;
    std::unique_ptr<Cmos> cmos_;
    std::unique_ptr<BootTimer> boot_timer_;
    std::unique_ptr<VmGenId> vmgenid_;
    std::vector<std::unique_ptr<virtio::MmioTransport>> transports_;
    std::vector<AttachedVirtio> virtio_;  // In window order.
    // Queue-notify eventfds; KVM signals them and the loop's handlers read them.
    std::vector<std::unique_ptr<EventFd>> queue_evts_;
    EventLoop* loop_ = nullptr;     // The one loop every watched fd is on.
    std::vector<int> watched_fds_;  // On loop_.
};

}  // namespace ember
