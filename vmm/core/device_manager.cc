#include "vmm/core/device_manager.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <fmt/core.h>

namespace ember {

DeviceManager::~DeviceManager() {
    if (serial_loop_ && serial_input_) (void)serial_loop_->remove(serial_input_.get());
    for (int fd : watched_fds_) (void)virtio_loop_->remove(fd);
}

Result<EventFdIrqLine*> DeviceManager::make_irq(uint32_t gsi) {
    EventFd evt = EMBER_TRY(EventFd::create());
    EMBER_TRY(vm_.register_irqfd(evt, gsi));
    irqs_.push_back(std::make_unique<EventFdIrqLine>(std::move(evt), gsi));
    return irqs_.back().get();
}

Result<void> DeviceManager::add_serial(std::unique_ptr<SerialOutput> output, UniqueFd input,
                                       EventLoop& loop) {
    if (serial_) return Error::invalid("add serial", "COM1 already exists");
    EventFdIrqLine* irq = EMBER_TRY(make_irq(kSerialGsi));
    serial_output_ = std::move(output);
    serial_ = std::make_unique<Serial8250>(*irq, *serial_output_);
    EMBER_TRY(pio_bus_.insert(kSerialPort, Serial8250::kPortSize, serial_.get()));
    if (input) {
        // epoll refuses regular files; a VM without console input is still a VM.
        Result<void> added = loop.add(input.get(), [this](uint32_t) { on_serial_input(); });
        if (added) {
            serial_input_ = std::move(input);
            serial_loop_ = &loop;
        } else {
            EMBER_DEBUG("serial input not watched: {}", added.error().message());
        }
    }
    return ok();
}

void DeviceManager::on_serial_input() {
    std::array<uint8_t, Serial8250::kFifoSize> buf{};
    ssize_t n = ::read(serial_input_.get(), buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        // End of file or a dead terminal: stop watching it, or epoll reports it forever.
        (void)serial_loop_->remove(serial_input_.get());
        serial_input_.reset();
        return;
    }
    std::lock_guard lock(serial_->mutex());
    size_t taken = serial_->enqueue_input({buf.data(), static_cast<size_t>(n)});
    if (taken < static_cast<size_t>(n)) {
        EMBER_LOG_LIMITED(input_log_, log::Level::kDebug, "serial: dropped {} input bytes",
                          static_cast<size_t>(n) - taken);
    }
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

Result<DeviceManager::MmioSlot> DeviceManager::add_virtio_mmio(std::unique_ptr<BusDevice> transport) {
    uint32_t index = static_cast<uint32_t>(virtio_slots_.size());
    uint32_t gsi = kFirstVirtioGsi + index;
    if (gsi > kLastVirtioGsi) {
        return Error(std::make_error_code(std::errc::no_space_on_device), "add virtio-mmio device",
                     "no legacy GSI left (19 virtio-mmio devices at most)");
    }
    MmioSlot slot;
    slot.base = GuestAddress(kVirtioMmioStart + uint64_t{index} * kVirtioMmioSize);
    slot.gsi = gsi;
    slot.irq = EMBER_TRY(make_irq(gsi));
    EMBER_TRY(mmio_bus_.insert(slot.base.value(), kVirtioMmioSize, transport.get()));
    virtio_devices_.push_back(std::move(transport));
    virtio_slots_.push_back(slot);
    return slot;
}

Result<DeviceManager::AddedVirtio> DeviceManager::add_virtio_device(
    std::unique_ptr<virtio::VirtioDevice> device, const GuestMemory& memory, EventLoop& loop) {
    if (virtio_loop_ && virtio_loop_ != &loop) {
        return Error::invalid("add virtio device", "all virtio devices must share one event loop");
    }
    virtio_loop_ = &loop;
    const uint32_t queue_count = static_cast<uint32_t>(device->queues().size());
    std::vector<EventFd*> evts;
    for (uint32_t i = 0; i < queue_count; ++i) {
        EventFd evt = EMBER_TRY(EventFd::create());
        queue_evts_.push_back(std::make_unique<EventFd>(std::move(evt)));
        evts.push_back(queue_evts_.back().get());
    }
    // A QueueNotify write that no ioeventfd caught (another width) goes the same way, so the
    // queue is always processed on the vmm thread.
    auto transport = std::make_unique<virtio::MmioTransport>(
        std::move(device), memory, [evts](uint32_t index) {
            if (index < evts.size()) (void)evts[index]->write(1);
        });
    virtio::MmioTransport* raw = transport.get();
    MmioSlot slot = EMBER_TRY(add_virtio_mmio(std::move(transport)));
    raw->attach_irq(*slot.irq);
    for (uint32_t i = 0; i < queue_count; ++i) {
        EventFd* evt = evts[i];
        EMBER_TRY(vm_.register_ioeventfd(*evt, kvm::Vm::AddressSpace::kMmio,
                                         slot.base.value() + virtio::mmio::kQueueNotifyOffset,
                                         sizeof(uint32_t), uint64_t{i}));
        EMBER_TRY(watch_device_fd(*raw, evt->fd(), [raw, evt, i] {
            (void)evt->read();
            // The ioeventfd bypasses the transport's check that the driver is done.
            if (raw->device().is_activated()) raw->device().process_queue(i);
        }));
    }
    return AddedVirtio{raw, slot};
}

void DeviceManager::kick_queues() {
    // An inactive device's events are ignored by the handler, so kicking every queue is safe.
    for (const auto& evt : queue_evts_) (void)evt->write(1);
}

Result<void> DeviceManager::watch_device_fd(virtio::MmioTransport& transport, int fd,
                                            std::function<void()> handler, uint32_t events) {
    if (!virtio_loop_) return Error::invalid("watch device fd", "no virtio device was added");
    virtio::MmioTransport* guarded = &transport;
    EMBER_TRY(virtio_loop_->add(
        fd,
        [guarded, run = std::move(handler)](uint32_t) {
            std::lock_guard lock(guarded->mutex());
            run();
        },
        events));
    watched_fds_.push_back(fd);
    return ok();
}

void DeviceManager::unwatch_device_fd(int fd) {
    auto it = std::find(watched_fds_.begin(), watched_fds_.end(), fd);
    if (it == watched_fds_.end()) return;
    watched_fds_.erase(it);
    (void)virtio_loop_->remove(fd);
}

Result<void> DeviceManager::watch_block_completions(const AttachedBlock& block) {
    const int fd = block.device->completion_fd();
    if (fd < 0) return ok();  // The sync engine completes inside submit().
    virtio::BlockDevice* device = block.device;
    return watch_device_fd(*block.transport, fd, [device] { device->process_completions(); });
}

Result<void> DeviceManager::add_block(std::unique_ptr<virtio::BlockDevice> device,
                                      const GuestMemory& memory, EventLoop& loop) {
    virtio::BlockDevice* raw = device.get();
    AddedVirtio added = EMBER_TRY(add_virtio_device(std::move(device), memory, loop));
    AttachedBlock block{raw, added.transport, added.slot};
    EMBER_TRY(watch_device_fd(*block.transport, raw->rate_limiter_fd(),
                              [raw] { raw->process_rate_limiter_event(); }));
    EMBER_TRY(watch_block_completions(block));
    blocks_.push_back(block);
    return ok();
}

Result<void> DeviceManager::add_net(std::unique_ptr<virtio::NetDevice> device,
                                    const GuestMemory& memory, EventLoop& loop) {
    virtio::NetDevice* raw = device.get();
    AddedVirtio added = EMBER_TRY(add_virtio_device(std::move(device), memory, loop));
    AttachedNet net{raw, added.transport, added.slot};
    // Edge-triggered: the device reads the tap until EAGAIN or remembers that it could not.
    EMBER_TRY(watch_device_fd(*net.transport, raw->tap_fd(), [raw] { raw->process_tap_rx(); },
                              EPOLLIN | EPOLLET));
    EMBER_TRY(watch_device_fd(*net.transport, raw->rx_rate_limiter_fd(),
                              [raw] { raw->process_rx_rate_limiter_event(); }));
    EMBER_TRY(watch_device_fd(*net.transport, raw->tx_rate_limiter_fd(),
                              [raw] { raw->process_tx_rate_limiter_event(); }));
    nets_.push_back(net);
    return ok();
}

std::optional<DeviceManager::AttachedBlock> DeviceManager::block(const std::string& drive_id) const {
    for (const AttachedBlock& b : blocks_) {
        if (b.device->drive_id() == drive_id) return b;
    }
    return std::nullopt;
}

std::optional<DeviceManager::AttachedNet> DeviceManager::net(const std::string& iface_id) const {
    for (const AttachedNet& n : nets_) {
        if (n.device->iface_id() == iface_id) return n;
    }
    return std::nullopt;
}

Result<void> DeviceManager::replace_block_disk(const std::string& drive_id,
                                               const std::string& path) {
    std::optional<AttachedBlock> found = block(drive_id);
    if (!found) return Error::invalid("drive_id", fmt::format("no drive '{}'", drive_id));
    std::lock_guard lock(found->transport->mutex());
    // The old ring's fd closes with it: stop watching it first, then watch whatever the device
    // has afterwards (its old backend when the update failed).
    if (int old_fd = found->device->completion_fd(); old_fd >= 0) unwatch_device_fd(old_fd);
    Result<void> replaced = found->device->update_disk(path);
    EMBER_TRY(watch_block_completions(*found));
    return replaced;
}

std::string DeviceManager::kernel_cmdline_entries() const {
    std::string out;
    for (const MmioSlot& slot : virtio_slots_) {
        out += fmt::format(" virtio_mmio.device=4K@{:#x}:{}", slot.base.value(), slot.gsi);
    }
    return out;
}

}  // namespace ember
