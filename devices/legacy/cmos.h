// Cmos: the MC146818 RTC and CMOS RAM behind ports 0x70 (index, bit 7 masks NMI) and 0x71 (data),
// just enough for a guest kernel to read the time at once: the time and date in BCD, 24-hour mode,
// register A with no update in progress, register D with valid RAM and time. Without it the ports
// float at 0xff, the "update in progress" bit never clears and Debian's kernel spends seconds
// waiting for it. The guest may set the clock (kept as an offset from the host's); no alarms or
// periodic interrupts (register C reads 0). Firecracker has no x86 RTC; kvmtool's hw/rtc.c is the
// model.
// Thread: vCPU threads, with mutex() held.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <span>
#include <type_traits>

#include "devices/bus_device.h"
#include "vmm/base/result.h"

namespace ember {

class Cmos : public BusDevice {
public:
    static constexpr uint64_t kPort = 0x70;
    static constexpr uint64_t kPortSize = 2;  // 0x70 index, 0x71 data.
    static constexpr size_t kRamSize = 128;

    // Register indexes (MC146818A data sheet; Linux include/linux/mc146818rtc.h).
    static constexpr uint8_t kSeconds = 0x00;
    static constexpr uint8_t kMinutes = 0x02;
    static constexpr uint8_t kHours = 0x04;
    static constexpr uint8_t kDayOfWeek = 0x06;
    static constexpr uint8_t kDayOfMonth = 0x07;
    static constexpr uint8_t kMonth = 0x08;
    static constexpr uint8_t kYear = 0x09;
    static constexpr uint8_t kRegA = 0x0a;
    static constexpr uint8_t kRegB = 0x0b;
    static constexpr uint8_t kRegC = 0x0c;
    static constexpr uint8_t kRegD = 0x0d;
    static constexpr uint8_t kCentury = 0x32;  // Where PC firmware (and ACPI's FADT) keeps it.

    static constexpr uint8_t kRegAUpdateInProgress = 0x80;
    static constexpr uint8_t kRegADefault = 0x26;  // 32.768 kHz time base, 1024 Hz rate.
    static constexpr uint8_t kRegBSet = 0x80;      // Updates stopped while the guest sets the time.
    static constexpr uint8_t kRegBBinary = 0x04;   // Binary instead of BCD.
    static constexpr uint8_t kRegB24Hour = 0x02;
    static constexpr uint8_t kRegDValid = 0x80;  // Valid RAM and time: the battery is fine.

    // Seconds since the epoch (UTC); time(nullptr) unless a test injects another clock.
    using WallClock = std::function<int64_t()>;

    // Everything the guest can observe, for snapshots. The clock is kept as its offset from the
    // host's wall clock, so after a restore the guest's RTC has run on through the pause, as a
    // battery-backed one would. set_* is the time being set while SET is on in register B.
    struct State {
        int64_t clock_offset_s = 0;  // Guest clock minus host clock; |offset| <= kMaxClockOffsetS.
        int32_t set_sec = 0;
        int32_t set_min = 0;
        int32_t set_hour = 0;
        int32_t set_mday = 0;
        int32_t set_mon = 0;   // 0-based, as in std::tm.
        int32_t set_year = 0;  // Years since 1900, as in std::tm.
        int32_t set_wday = 0;  // 0 is Sunday, as in std::tm.
        uint8_t index = 0;     // At most 0x7f.
        uint8_t nmi_disabled = 0;
        uint8_t setting = 0;  // Must agree with SET in ram[kRegB].
        uint8_t ram[kRamSize] = {};

        bool operator==(const State&) const = default;
    };
    static_assert(std::is_trivially_copyable_v<State>);
    // Far beyond any offset a guest can set (a year of at most 25599), small enough that adding
    // the host clock cannot overflow.
    static constexpr int64_t kMaxClockOffsetS = int64_t{1} << 40;

    explicit Cmos(WallClock clock = default_clock());

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    uint8_t index() const { return index_; }
    bool nmi_disabled() const { return nmi_disabled_; }
    // What the guest's clock reads now, in seconds since the epoch.
    int64_t guest_time() const { return clock_() + offset_s_; }

    static WallClock default_clock();

    // Caller holds mutex(). restore_state validates `state` first and leaves the device unchanged
    // when it is refused. Ember raises no RTC interrupts, so there is none to re-raise.
    State save_state() const;
    Result<void> restore_state(const State& state);

private:
    uint8_t read_register(uint8_t reg) const;
    void write_register(uint8_t reg, uint8_t value);
    // A time register in the guest's format: BCD, or binary when register B says so.
    uint8_t encode(int value) const;
    int decode(uint8_t value) const;

    WallClock clock_;
    int64_t offset_s_ = 0;  // Guest clock minus host clock, changed when the guest sets the time.
    bool setting_ = false;  // SET in register B: the guest is writing the time into set_tm_.
    std::tm set_tm_{};
    uint8_t index_ = 0;
    bool nmi_disabled_ = false;
    uint8_t ram_[kRamSize] = {};
};

}  // namespace ember
