#include "vmm/core/device_manager.h"

#include <algorithm>

#include <fmt/core.h>

#include "vmm/arch/x86_64/layout.h"
#include "vmm/base/log.h"

namespace ember {

// kernel_cmdline_entries() tells the kernel each window is 4K.
static_assert(virtio::mmio::kWindowSize == 0x1000);

DeviceManager::~DeviceManager() {
    for (int fd : watched_fds_) (void)loop_->remove(fd);
}

Result<EventFdIrqLine*> DeviceManager::make_irq(uint32_t gsi) {
    EventFd evt = EMBER_TRY(EventFd::create());
    EMBER_TRY(vm_.register_irqfd(evt, gsi));
    irqs_.push_back(std::make_unique<EventFdIrqLine>(std::move(evt), gsi));
    return irqs_.back().get();
}

Result<void> DeviceManager::watch(std::vector<EventSource> sources, std::mutex* guard,
                                  EventLoop& loop) {
    if (loop_ && loop_ != &loop) {
        return Error::invalid("watch device fd", "all devices must share one event loop");
    }
    loop_ = &loop;
    for (EventSource& source : sources) {
        const int fd = source.fd;
        EMBER_TRY(loop.add(
            fd,
            [this, fd, guard, run = std::move(source.handler)](uint32_t) {
                EventSource::Next next = EventSource::Next::kKeepWatching;
                if (guard) {
                    std::lock_guard lock(*guard);
                    next = run();
                } else {
                    next = run();
                }
                if (next == EventSource::Next::kStopWatching) unwatch(fd);
            },
            source.events));
        watched_fds_.push_back(fd);
    }
    return ok();
}

void DeviceManager::unwatch(int fd) {
    auto it = std::find(watched_fds_.begin(), watched_fds_.end(), fd);
    if (it == watched_fds_.end()) return;
    watched_fds_.erase(it);
    (void)loop_->remove(fd);
}

Result<void> DeviceManager::add_serial(std::unique_ptr<SerialOutput> output, UniqueFd input,
                                       EventLoop& loop) {
    if (serial_) return Error::invalid("add serial", "COM1 already exists");
    EventFdIrqLine* irq = EMBER_TRY(make_irq(kSerialGsi));
    serial_output_ = std::move(output);
    serial_ = std::make_unique<Serial8250>(*irq, *serial_output_);
    EMBER_TRY(pio_bus_.insert(kSerialPort, Serial8250::kPortSize, serial_.get()));
    if (!input) return ok();
    auto console = std::make_unique<SerialConsole>(*serial_, std::move(input));
    // The console takes the serial port's mutex itself, around what it touches.
    if (Result<void> watched = watch(console->event_sources(), nullptr, loop); !watched) {
        EMBER_DEBUG("serial input not watched: {}", watched.error().message());
        return ok();
    }
    serial_console_ = std::move(console);
    return ok();
}

Result<void> DeviceManager::add_i8042(const EventFd& reset_evt) {
    if (i8042_) return Error::invalid("add i8042", "the i8042 already exists");
    EventFdIrqLine* irq = EMBER_TRY(make_irq(kI8042Gsi));
    i8042_ = std::make_unique<I8042>(*irq, reset_evt);
    return pio_bus_.insert(kI8042Port, I8042::kPortSize, i8042_.get());
}

Result<void> DeviceManager::add_cmos() {
    if (cmos_) return Error::invalid("add CMOS", "the CMOS RTC already exists");
    cmos_ = std::make_unique<Cmos>();
    return pio_bus_.insert(Cmos::kPort, Cmos::kPortSize, cmos_.get());
}

Result<void> DeviceManager::add_boot_timer(BootTimer::StartTime start) {
    if (boot_timer_) return Error::invalid("add boot timer", "the boot timer already exists");
    boot_timer_ = std::make_unique<BootTimer>(start);
    return mmio_bus_.insert(BootTimer::kMmioAddress, BootTimer::kMmioSize, boot_timer_.get());
}

Result<void> DeviceManager::add_vmgenid(const GuestMemory& memory,
                                        std::optional<VmGenId::State> saved) {
    if (vmgenid_) return Error::invalid("add vmgenid", "the VMGenID device already exists");
    const uint32_t first_free = kFirstVirtioGsi + static_cast<uint32_t>(virtio_.size());
    if (!saved && first_free > kLastVirtioGsi) {
        EMBER_WARN(
            "no GSI left for the VMGenID device after {} virtio devices: the guest gets "
            "no generation ID",
            virtio_.size());
        return ok();
    }
    const VmGenId::State state = saved.value_or(VmGenId::State{x86::kVmGenIdStart, first_free});
    if (state.gsi < first_free || state.gsi > kLastVirtioGsi) {
        return Error::invalid("snapshot vmgenid",
                              fmt::format("GSI {} is not one of the free GSIs {}..{}", state.gsi,
                                          first_free, kLastVirtioGsi));
    }
    EventFdIrqLine* irq = EMBER_TRY(make_irq(state.gsi));
    vmgenid_ = EMBER_TRY(VmGenId::create(memory, GuestAddress(state.id_gpa), state.gsi, *irq));
    return ok();
}

Result<DeviceManager::MmioSlot> DeviceManager::place_virtio_mmio(BusDevice& transport) {
    if (vmgenid_) {
        return Error::invalid("add virtio-mmio device",
                              "virtio devices come before the VMGenID device, which took the "
                              "next GSI");
    }
    uint32_t index = static_cast<uint32_t>(virtio_.size());
    uint32_t gsi = kFirstVirtioGsi + index;
    if (gsi > kLastVirtioGsi) {
        return Error(std::make_error_code(std::errc::no_space_on_device), "add virtio-mmio device",
                     "no legacy GSI left (19 virtio-mmio devices at most)");
    }
    MmioSlot slot;
    slot.base = GuestAddress(kVirtioMmioStart + uint64_t{index} * virtio::mmio::kWindowSize);
    slot.gsi = gsi;
    slot.irq = EMBER_TRY(make_irq(gsi));
    EMBER_TRY(mmio_bus_.insert(slot.base.value(), virtio::mmio::kWindowSize, &transport));
    return slot;
}

Result<DeviceManager::AttachedVirtio> DeviceManager::add_virtio_device(
    std::unique_ptr<virtio::VirtioDevice> device, const GuestMemory& memory, EventLoop& loop) {
    if (loop_ && loop_ != &loop) {
        return Error::invalid("add virtio device", "all devices must share one event loop");
    }
    const uint32_t queue_count = static_cast<uint32_t>(device->queues().size());
    std::vector<EventFd*> evts;
    for (uint32_t i = 0; i < queue_count; ++i) {
        EventFd evt = EMBER_TRY(EventFd::create());
        queue_evts_.push_back(std::make_unique<EventFd>(std::move(evt)));
        evts.push_back(queue_evts_.back().get());
    }
    // A QueueNotify write that no ioeventfd caught (another width) goes the same way, so the
    // queue is always processed on the vmm thread.
    auto owned =
        std::make_unique<virtio::MmioTransport>(std::move(device), memory, [evts](uint32_t index) {
            if (index < evts.size()) (void)evts[index]->write(1);
        });
    virtio::MmioTransport* transport = owned.get();
    MmioSlot slot = EMBER_TRY(place_virtio_mmio(*transport));
    transports_.push_back(std::move(owned));
    transport->attach_irq(*slot.irq);
    virtio_.push_back(AttachedVirtio{&transport->device(), transport, slot});

    std::vector<EventSource> sources;
    for (uint32_t i = 0; i < queue_count; ++i) {
        EventFd* evt = evts[i];
        EMBER_TRY(vm_.register_ioeventfd(*evt, kvm::Vm::AddressSpace::kMmio,
                                         slot.base.value() + virtio::mmio::kQueueNotifyOffset,
                                         sizeof(uint32_t), uint64_t{i}));
        sources.push_back(EventSource::always(evt->fd(), [transport, evt, i] {
            (void)evt->read();
            // The ioeventfd bypasses the transport's check that the driver is done.
            if (transport->device().is_activated()) transport->device().process_queue(i);
        }));
    }
    for (EventSource& source : transport->device().event_sources()) {
        sources.push_back(std::move(source));
    }
    EMBER_TRY(watch(std::move(sources), &transport->mutex(), loop));
    return virtio_.back();
}

void DeviceManager::kick_queues() {
    // An inactive device's events are ignored by the handler, so kicking every queue is safe.
    for (const auto& evt : queue_evts_) (void)evt->write(1);
}

std::string DeviceManager::kernel_cmdline_entries() const {
    std::string out;
    for (const AttachedVirtio& v : virtio_) {
        out += fmt::format(" virtio_mmio.device=4K@{:#x}:{}", v.slot.base.value(), v.slot.gsi);
    }
    return out;
}

x86::AcpiDevices DeviceManager::acpi_devices(uint32_t vcpu_count) const {
    x86::AcpiDevices out;
    out.vcpu_count = vcpu_count;
    if (serial_) {
        out.serial = x86::AcpiPortDevice{static_cast<uint16_t>(kSerialPort),
                                         static_cast<uint8_t>(Serial8250::kPortSize), kSerialGsi};
    }
    if (i8042_) {
        out.i8042 = x86::AcpiPortDevice{static_cast<uint16_t>(kI8042Port), 1, kI8042Gsi};
    }
    if (cmos_) {
        out.rtc = x86::AcpiPortDevice{static_cast<uint16_t>(Cmos::kPort),
                                      static_cast<uint8_t>(Cmos::kPortSize), std::nullopt};
    }
    for (const AttachedVirtio& v : virtio_) {
        out.virtio.push_back(x86::AcpiMmioDevice{static_cast<uint32_t>(v.slot.base.value()),
                                                 static_cast<uint32_t>(virtio::mmio::kWindowSize),
                                                 v.slot.gsi});
    }
    if (vmgenid_) out.vmgenid = x86::AcpiVmGenId{vmgenid_->id_gpa(), vmgenid_->gsi()};
    return out;
}

}  // namespace ember
