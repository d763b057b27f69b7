#include "devices/legacy/serial_8250.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace ember {
namespace {

// Register offsets (PC16550D datasheet, table 2).
constexpr uint64_t kData = 0;  // RBR/THR, or DLL with DLAB.
constexpr uint64_t kIer = 1;   // Or DLM with DLAB.
constexpr uint64_t kIir = 2;   // FCR on write.
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kIerThrEmpty = 0x02;
constexpr uint8_t kIerValidBits = 0x0f;

constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirFifoEnabled = 0xc0;

constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrValidBits = 0x1f;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrIdle = 0x40;

constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;

}  // namespace

bool FdSerialOutput::write(std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
    return true;
}

void Serial8250::read(uint64_t offset, std::span<uint8_t> data) {
    if (data.size() != 1 || offset >= kPortSize) {
        for (uint8_t& b : data) b = 0xff;
        return;
    }
    data[0] = read_register(offset);
}

void Serial8250::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.size() != 1 || offset >= kPortSize) {
        EMBER_LOG_LIMITED(log_limiter_, log::Level::kDebug, "serial: {}-byte write at offset {}",
                          data.size(), offset);
        return;
    }
    write_register(offset, data[0]);
}

bool Serial8250::loopback() const { return (mcr_ & kMcrLoop) != 0; }

bool Serial8250::rx_interrupt_pending() const { return (ier_ & kIerRxData) && !rx_.empty(); }

bool Serial8250::thr_interrupt_pending() const {
    return (ier_ & kIerThrEmpty) && thr_empty_pending_;
}

uint8_t Serial8250::modem_status() const {
    if (!loopback()) return kMsrDcd | kMsrDsr | kMsrCts;  // A terminal is always attached.
    // In loopback the modem inputs mirror the modem outputs (16550D §8.6.4).
    uint8_t msr = 0;
    if (mcr_ & kMcrDtr) msr |= kMsrDsr;
    if (mcr_ & kMcrRts) msr |= kMsrCts;
    if (mcr_ & kMcrOut1) msr |= kMsrRi;
    if (mcr_ & kMcrOut2) msr |= kMsrDcd;
    return msr;
}

uint8_t Serial8250::interrupt_identification() {
    // Received data outranks transmitter empty; reading IIR acknowledges the latter.
    if (rx_interrupt_pending()) return kIirRxData | kIirFifoEnabled;
    if (thr_interrupt_pending()) {
        thr_empty_pending_ = false;
        return kIirThrEmpty | kIirFifoEnabled;
    }
    return kIirNoInterrupt | kIirFifoEnabled;
}

uint8_t Serial8250::read_register(uint64_t offset) {
    bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (offset) {
        case kData: {
            if (dlab) return dll_;
            if (rx_.empty()) return 0;
            uint8_t byte = rx_.front();
            rx_.pop_front();
            return byte;
        }
        case kIer: return dlab ? dlm_ : ier_;
        case kIir: return interrupt_identification();
        case kLcr: return lcr_;
        case kMcr: return mcr_;
        case kLsr:
            return static_cast<uint8_t>((rx_.empty() ? 0 : kLsrDataReady) | kLsrThrEmpty |
                                        kLsrIdle);
        case kMsr: return modem_status();
        case kScr: return scr_;
    }
    return 0xff;
}

void Serial8250::write_register(uint64_t offset, uint8_t value) {
    bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (offset) {
        case kData:
            if (dlab) {
                dll_ = value;
            } else {
                transmit(value);
            }
            return;
        case kIer: {
            if (dlab) {
                dlm_ = value;
                return;
            }
            uint8_t enabled = static_cast<uint8_t>(value & kIerValidBits & ~ier_);
            ier_ = value & kIerValidBits;
            // The transmitter is always empty: enabling its interrupt raises it at once, as the
            // hardware does and as Linux's 8250 driver expects when it starts a transmission.
            if (enabled & kIerThrEmpty) thr_empty_pending_ = true;
            if (((enabled & kIerThrEmpty) && thr_interrupt_pending()) ||
                ((enabled & kIerRxData) && rx_interrupt_pending())) {
                irq_.trigger();
            }
            return;
        }
        case kIir:
            if (value & kFcrClearRx) rx_.clear();
            return;
        case kLcr: lcr_ = value; return;
        case kMcr: mcr_ = value & kMcrValidBits; return;
        case kLsr:
        case kMsr: return;  // Read-only (factory test writes are ignored).
        case kScr: scr_ = value; return;
    }
}

void Serial8250::transmit(uint8_t byte) {
    if (loopback()) {
        // The byte comes straight back into the receiver.
        if (rx_.size() < kFifoSize) {
            rx_.push_back(byte);
            if (ier_ & kIerRxData) irq_.trigger();
        } else {
            ++counters_.dropped_in;
        }
    } else if (out_.write({&byte, 1})) {
        ++counters_.bytes_out;
    } else {
        ++counters_.missed_write;
    }
    thr_empty_pending_ = true;
    if (thr_interrupt_pending()) irq_.trigger();
}

size_t Serial8250::enqueue_input(std::span<const uint8_t> bytes) {
    size_t taken = 0;
    for (uint8_t b : bytes) {
        if (rx_.size() >= kFifoSize) break;
        rx_.push_back(b);
        ++taken;
    }
    counters_.bytes_in += taken;
    counters_.dropped_in += bytes.size() - taken;
    if (taken > 0 && (ier_ & kIerRxData)) irq_.trigger();
    return taken;
}

Serial8250::State Serial8250::save_state() const {
    State s;
    s.ier = ier_;
    s.lcr = lcr_;
    s.mcr = mcr_;
    s.scr = scr_;
    s.dll = dll_;
    s.dlm = dlm_;
    s.thr_empty_pending = thr_empty_pending_ ? 1 : 0;
    s.rx_len = static_cast<uint8_t>(rx_.size());
    std::copy(rx_.begin(), rx_.end(), s.rx);
    return s;
}

Result<void> Serial8250::restore_state(const State& state) {
    // Only values the register interface can produce: anything else is a corrupt snapshot.
    if (state.ier & ~kIerValidBits) {
        return Error::invalid("serial restore",
                              "IER has reserved bits set: " + std::to_string(state.ier));
    }
    if (state.mcr & ~kMcrValidBits) {
        return Error::invalid("serial restore",
                              "MCR has reserved bits set: " + std::to_string(state.mcr));
    }
    if (state.thr_empty_pending > 1) {
        return Error::invalid("serial restore", "thr_empty_pending is not 0 or 1");
    }
    if (state.rx_len > kFifoSize) {
        return Error::invalid("serial restore", "receive FIFO length " +
                                                    std::to_string(state.rx_len) + " exceeds " +
                                                    std::to_string(kFifoSize));
    }
    ier_ = state.ier;
    lcr_ = state.lcr;
    mcr_ = state.mcr;
    scr_ = state.scr;
    dll_ = state.dll;
    dlm_ = state.dlm;
    thr_empty_pending_ = state.thr_empty_pending != 0;
    rx_.assign(state.rx, state.rx + state.rx_len);
    // The interrupt is an edge on an irqfd: one raised before the snapshot but not yet taken by
    // the guest is lost with the old VM, so raise it again on the new one.
    if (rx_interrupt_pending() || thr_interrupt_pending()) irq_.trigger();
    return ok();
}

}  // namespace ember
