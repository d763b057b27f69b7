// DeviceManager: creates the devices of one VM, puts them on the port I/O and MMIO buses and wires
// their interrupts to KVM. Legacy devices sit at fixed places (COM1 0x3f8/GSI 4, i8042 0x60/GSI 1,
// the boot timer at MMIO 0xC0000000); virtio-mmio devices get 4 KiB windows from 0xC0001000 and one
// GSI each from 5, and a `virtio_mmio.device=` entry for the kernel command line. For each virtio
// device it registers one ioeventfd per queue and watches it, and the device's own fds, on the
// vmm thread's event loop; the handlers run with the transport's mutex held.
// Thread: the vmm thread. The devices are then reached by vCPU threads through the buses.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/legacy/boot_timer.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial_8250.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/net/net_device.h"
#include "devices/virtio/transport/mmio_transport.h"
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
    static constexpr uint64_t kVirtioMmioSize = 0x1000;
    static constexpr uint32_t kFirstVirtioGsi = 5;
    static constexpr uint32_t kLastVirtioGsi = 23;

    explicit DeviceManager(kvm::Vm& vm) : vm_(vm) {}
    ~DeviceManager();
    DeviceManager(const DeviceManager&) = delete;
    DeviceManager& operator=(const DeviceManager&) = delete;

    // COM1. Output goes to `output`; when `input` is a valid fd, its bytes are fed to the guest
    // from `loop` (the fd is closed when it reaches end of file).
    Result<void> add_serial(std::unique_ptr<SerialOutput> output, UniqueFd input, EventLoop& loop);
    // The i8042 controller; its 0xFE command writes `reset_evt`.
    Result<void> add_i8042(const EventFd& reset_evt);
    // The CMOS RTC at 0x70/0x71 (no interrupt).
    Result<void> add_cmos();
    // Must be added before any virtio device, as Firecracker does, so the address stays stable.
    Result<void> add_boot_timer(BootTimer::StartTime start);

    struct MmioSlot {
        GuestAddress base;
        uint32_t gsi = 0;
        EventFdIrqLine* irq = nullptr;  // Owned by the manager.
    };
    // Puts a virtio-mmio transport in the next 4 KiB window with the next GSI (irqfd registered)
    // and records its command-line entry. The transport registers its queue-notify ioeventfds
    // through vm() at `base + 0x50`.
    Result<MmioSlot> add_virtio_mmio(std::unique_ptr<BusDevice> transport);

    // A virtio device behind a new MMIO transport in the next window (add_virtio_mmio), with one
    // ioeventfd per queue on the window's QueueNotify register (datamatch: the queue index) that
    // `loop` turns into process_queue() calls.
    struct AddedVirtio {
        virtio::MmioTransport* transport = nullptr;
        MmioSlot slot;
    };
    Result<AddedVirtio> add_virtio_device(std::unique_ptr<virtio::VirtioDevice> device,
                                          const GuestMemory& memory, EventLoop& loop);
    // Watches a virtio device's own fd (io_uring completions, tap, rate-limiter timer) on the
    // loop of add_virtio_device(); `handler` runs with the transport's mutex held. The manager
    // stops watching when it is destroyed or on unwatch_device_fd().
    Result<void> watch_device_fd(virtio::MmioTransport& transport, int fd,
                                 std::function<void()> handler, uint32_t events = EPOLLIN);
    void unwatch_device_fd(int fd);

    // virtio-blk and virtio-net with every fd of theirs watched. The root drive must come first
    // so that it is /dev/vda.
    template <typename Device>
    struct Attached {
        Device* device = nullptr;
        virtio::MmioTransport* transport = nullptr;
        MmioSlot slot;
    };
    using AttachedBlock = Attached<virtio::BlockDevice>;
    using AttachedNet = Attached<virtio::NetDevice>;
    Result<void> add_block(std::unique_ptr<virtio::BlockDevice> device, const GuestMemory& memory,
                           EventLoop& loop);
    Result<void> add_net(std::unique_ptr<virtio::NetDevice> device, const GuestMemory& memory,
                         EventLoop& loop);
    std::optional<AttachedBlock> block(const std::string& drive_id) const;
    std::optional<AttachedNet> net(const std::string& iface_id) const;
    // In the order they were added (their MMIO windows ascend in that order).
    const std::vector<AttachedBlock>& blocks() const { return blocks_; }
    const std::vector<AttachedNet>& nets() const { return nets_; }
    // PATCH /drives with a new file: swaps the backing file and, for io_uring, the watched
    // completion fd (the new ring has a new one).
    Result<void> replace_block_disk(const std::string& drive_id, const std::string& path);

    // Signals every queue's ioeventfd, as if the driver had notified each queue: after a
    // restore, a queue the old process had not finished (a throttled request, a notification
    // still unread at the pause) is processed again instead of waiting for a notification that
    // the guest, believing the device busy, may never send. Firecracker's kick_devices().
    void kick_queues();

    // ` virtio_mmio.device=4K@0xc0001000:5` for each virtio-mmio device.
    std::string kernel_cmdline_entries() const;

    Bus& pio_bus() { return pio_bus_; }
    Bus& mmio_bus() { return mmio_bus_; }
    kvm::Vm& vm() { return vm_; }
    Serial8250* serial() { return serial_.get(); }
    I8042* i8042() { return i8042_.get(); }
    BootTimer* boot_timer() { return boot_timer_.get(); }
    Cmos* cmos() { return cmos_.get(); }

private:
    Result<EventFdIrqLine*> make_irq(uint32_t gsi);
    void on_serial_input();
    Result<void> watch_block_completions(const AttachedBlock& block);

    kvm::Vm& vm_;
    Bus pio_bus_;
    Bus mmio_bus_;
    std::vector<std::unique_ptr<EventFdIrqLine>> irqs_;
    std::unique_ptr<SerialOutput> serial_output_;
    std::unique_ptr<Serial8250> serial_;
    UniqueFd serial_input_;
    EventLoop* serial_loop_ = nullptr;
    std::unique_ptr<I8042> i8042_;
    std::unique_ptr<Cmos> cmos_;
    std::unique_ptr<BootTimer> boot_timer_;
    std::vector<std::unique_ptr<BusDevice>> virtio_devices_;
    std::vector<MmioSlot> virtio_slots_;
    // Queue-notify eventfds; KVM signals them and the loop's handlers read them.
    std::vector<std::unique_ptr<EventFd>> queue_evts_;
    EventLoop* virtio_loop_ = nullptr;
    std::vector<int> watched_fds_;  // On virtio_loop_.
    std::vector<AttachedBlock> blocks_;
    std::vector<AttachedNet> nets_;
    log::LineLimiter input_log_;
};

}  // namespace ember
