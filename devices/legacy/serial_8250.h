// Serial8250: a 16550A UART (COM1) as Linux's 8250 driver sees it: THR/RBR, IER, IIR/FCR, LCR,
// MCR, LSR, MSR, SCR and the divisor latch behind LCR.DLAB; transmit-empty and received-data
// interrupts through an IrqLine; a bounded receive FIFO filled by the VMM from stdin; loopback.
// Thread: read/write from vCPU threads and enqueue_input from the vmm thread, all with mutex()
// held (the bus takes it for read/write).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <type_traits>

#include "devices/bus_device.h"
#include "devices/irq_line.h"
#include "vmm/base/log.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

// Where transmitted bytes go: the console (stdout), a file, or a buffer in tests.
class SerialOutput {
public:
    virtual ~SerialOutput() = default;
    // Returns false when the bytes could not be written (counted, never retried).
    virtual bool write(std::span<const uint8_t> bytes) = 0;
};

// Writes to an owned fd (a dup of stdout, or a serial_out_path file).
class FdSerialOutput : public SerialOutput {
public:
    explicit FdSerialOutput(UniqueFd fd) : fd_(std::move(fd)) {}
    bool write(std::span<const uint8_t> bytes) override;

private:
    UniqueFd fd_;
};

class Serial8250 : public BusDevice {
public:
    static constexpr uint64_t kPortSize = 8;
    static constexpr size_t kFifoSize = 64;

    struct Counters {
        uint64_t bytes_out = 0;
        uint64_t bytes_in = 0;
        uint64_t missed_write = 0;  // Output the sink refused.
        uint64_t dropped_in = 0;    // Input that did not fit in the FIFO.
    };

    // Everything the guest can observe, for snapshots. IIR, LSR and MSR are not stored: they are
    // computed from these fields (pending THRE, the FIFO, MCR) exactly as in the running device.
    // Counters, the output sink and the IRQ line are host-side and not part of it.
    struct State {
        uint8_t ier = 0;
        uint8_t lcr = 0;
        uint8_t mcr = 0;
        uint8_t scr = 0;
        uint8_t dll = 0;
        uint8_t dlm = 0;
        uint8_t thr_empty_pending = 0;  // 0 or 1: a THRE interrupt not yet acknowledged.
        uint8_t rx_len = 0;             // Bytes used in rx, at most kFifoSize.
        uint8_t rx[kFifoSize] = {};     // The receive FIFO, oldest byte first.

        bool operator==(const State&) const = default;
    };
    static_assert(std::is_trivially_copyable_v<State>);

    // `irq` and `out` must outlive the device.
    Serial8250(IrqLine& irq, SerialOutput& out) : irq_(irq), out_(out) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Queues host input for the guest; returns how many bytes fitted. Caller holds mutex().
    size_t enqueue_input(std::span<const uint8_t> bytes);
    // Room left in the receive FIFO. Caller holds mutex().
    size_t input_space() const { return kFifoSize - rx_.size(); }

    const Counters& counters() const { return counters_; }

    // Caller holds mutex(). restore_state validates `state` first and leaves the device unchanged
    // when it is refused; when accepted it re-raises the interrupt if one is pending.
    State save_state() const;
    Result<void> restore_state(const State& state);

private:
    uint8_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint8_t value);
    void transmit(uint8_t byte);
    bool loopback() const;
    bool rx_interrupt_pending() const;
    bool thr_interrupt_pending() const;
    uint8_t modem_status() const;
    uint8_t interrupt_identification();

    IrqLine& irq_;
    SerialOutput& out_;
    std::deque<uint8_t> rx_;  // At most kFifoSize bytes.
    uint8_t ier_ = 0;
    uint8_t lcr_ = 0x03;  // 8N1.
    uint8_t mcr_ = 0x08;  // OUT2, which gates the interrupt on PCs.
    uint8_t scr_ = 0;
    uint8_t dll_ = 0x0c;  // 9600 baud from the 1.8432 MHz clock.
    uint8_t dlm_ = 0;
    bool thr_empty_pending_ = false;
    Counters counters_;
    log::LineLimiter log_limiter_;
};

}  // namespace ember
