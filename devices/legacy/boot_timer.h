// BootTimer: Firecracker's boot-time pseudo device at MMIO 0xC0000000. When the guest writes the
// byte 123 at offset 0 it logs `Guest-boot-time = N us M ms, X CPU us Y CPU ms`, the wall-clock and
// process CPU time since the start the VMM gives it (--start-time-us, else process start).
// Reported once.
// Thread: vCPU threads, with mutex() held.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "devices/bus_device.h"
#include "vmm/base/result.h"

namespace ember {

class BootTimer : public BusDevice {
public:
    static constexpr uint64_t kMmioAddress = 0xc0000000;
    static constexpr uint64_t kMmioSize = 0x1000;
    static constexpr uint8_t kMagic = 123;

    struct StartTime {
        std::chrono::steady_clock::time_point wall;
        uint64_t cpu_us = 0;  // Process CPU time (CLOCK_PROCESS_CPUTIME_ID).
        static StartTime now();
        // From --start-time-us (CLOCK_MONOTONIC, which steady_clock reads on Linux) and
        // --start-time-cpu-us (the process CPU time then), as the jailer passes them.
        static StartTime from_us(uint64_t monotonic_us, uint64_t cpu_us);
    };
    struct BootTime {
        uint64_t wall_us = 0;
        uint64_t cpu_us = 0;
    };

    // Nothing here is guest-visible (reads are 0); it is saved so that a restored VM does not
    // report the boot time a second time and still knows the first one.
    struct State {
        uint64_t wall_us = 0;
        uint64_t cpu_us = 0;
        uint8_t reported = 0;  // 0 or 1; the times are 0 unless it is 1.

        bool operator==(const State&) const = default;
    };
    static_assert(std::is_trivially_copyable_v<State>);

    explicit BootTimer(StartTime start) : start_(start) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Set once the guest has signalled boot completion.
    std::optional<BootTime> boot_time() const { return boot_time_; }

    // Caller holds mutex(). restore_state leaves the device unchanged when it refuses `state`.
    State save_state() const;
    Result<void> restore_state(const State& state);

private:
    StartTime start_;
    std::optional<BootTime> boot_time_;
};

// The process CPU time in microseconds.
uint64_t process_cpu_time_us();

}  // namespace ember
