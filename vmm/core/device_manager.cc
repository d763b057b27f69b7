#include "vmm/core/device_manager.h"

#include <unistd.h>

#include <array>
#include <cerrno>

#include <fmt/core.h>

namespace ember {

DeviceManager::~DeviceManager() {
    if (serial_loop_ && serial_input_) (void)serial_loop_->remove(serial_input_.get());
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

std::string DeviceManager::kernel_cmdline_entries() const {
    std::string out;
    for (const MmioSlot& slot : virtio_slots_) {
        out += fmt::format(" virtio_mmio.device=4K@{:#x}:{}", slot.base.value(), slot.gsi);
    }
    return out;
}

}  // namespace ember
