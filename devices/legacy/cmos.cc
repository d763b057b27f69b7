#include "devices/legacy/cmos.h"

#include <time.h>

#include <algorithm>
#include <string>

namespace ember {
namespace {

constexpr uint64_t kIndexOffset = 0;
constexpr uint64_t kDataOffset = 1;
constexpr uint8_t kIndexMask = 0x7f;
constexpr uint8_t kNmiDisable = 0x80;
constexpr uint8_t kHourPm = 0x80;  // 12-hour mode: bit 7 of the hours register.

std::tm broken_down(int64_t seconds) {
    std::tm tm{};
    const time_t t = static_cast<time_t>(seconds);
    ::gmtime_r(&t, &tm);
    return tm;
}

bool is_time_register(uint8_t reg) {
    switch (reg) {
        case Cmos::kSeconds:
        case Cmos::kMinutes:
        case Cmos::kHours:
        case Cmos::kDayOfWeek:
        case Cmos::kDayOfMonth:
        case Cmos::kMonth:
        case Cmos::kYear:
        case Cmos::kCentury: return true;
        default: return false;
    }
}

}  // namespace

Cmos::WallClock Cmos::default_clock() {
    return [] { return static_cast<int64_t>(::time(nullptr)); };
}

Cmos::Cmos(WallClock clock) : clock_(std::move(clock)) {
    ram_[kRegA] = kRegADefault;
    ram_[kRegB] = kRegB24Hour;
}

uint8_t Cmos::encode(int value) const {
    const auto v = static_cast<uint8_t>(value);
    if (ram_[kRegB] & kRegBBinary) return v;
    return static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
}

int Cmos::decode(uint8_t value) const {
    if (ram_[kRegB] & kRegBBinary) return value;
    return (value >> 4) * 10 + (value & 0x0f);
}

uint8_t Cmos::read_register(uint8_t reg) const {
    if (is_time_register(reg)) {
        // While the guest sets the clock (SET in register B), it reads back what it wrote.
        const std::tm tm = setting_ ? set_tm_ : broken_down(guest_time());
        switch (reg) {
            case kSeconds: return encode(tm.tm_sec);
            case kMinutes: return encode(tm.tm_min);
            case kHours: {
                if (ram_[kRegB] & kRegB24Hour) return encode(tm.tm_hour);
                const int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
                return static_cast<uint8_t>(encode(hour12) | (tm.tm_hour >= 12 ? kHourPm : 0));
            }
            case kDayOfWeek: return encode(tm.tm_wday + 1);  // Sunday is 1.
            case kDayOfMonth: return encode(tm.tm_mday);
            case kMonth: return encode(tm.tm_mon + 1);
            case kYear: return encode((tm.tm_year + 1900) % 100);
            case kCentury: return encode((tm.tm_year + 1900) / 100);
            default: break;
        }
    }
    switch (reg) {
        case kRegA: return static_cast<uint8_t>(ram_[kRegA] & ~kRegAUpdateInProgress);
        case kRegC: return 0;  // No interrupt flags: Ember raises no RTC interrupts.
        case kRegD: return kRegDValid;
        default: return ram_[reg];
    }
}

void Cmos::write_register(uint8_t reg, uint8_t value) {
    if (is_time_register(reg)) {
        std::tm tm = setting_ ? set_tm_ : broken_down(guest_time());
        const int v = decode(static_cast<uint8_t>(reg == kHours ? value & ~kHourPm : value));
        switch (reg) {
            case kSeconds: tm.tm_sec = v; break;
            case kMinutes: tm.tm_min = v; break;
            case kHours:
                if (ram_[kRegB] & kRegB24Hour) {
                    tm.tm_hour = v;
                } else {
                    tm.tm_hour = (v % 12) + ((value & kHourPm) ? 12 : 0);
                }
                break;
            case kDayOfWeek: return;  // Derived from the date.
            case kDayOfMonth: tm.tm_mday = v; break;
            case kMonth: tm.tm_mon = v - 1; break;
            case kYear: tm.tm_year = ((tm.tm_year + 1900) / 100) * 100 + v - 1900; break;
            case kCentury: tm.tm_year = v * 100 + (tm.tm_year + 1900) % 100 - 1900; break;
            default: break;
        }
        if (setting_) {
            set_tm_ = tm;  // Applied when the guest clears SET.
        } else {
            offset_s_ = static_cast<int64_t>(::timegm(&tm)) - clock_();
        }
        return;
    }
    switch (reg) {
        case kRegA: ram_[kRegA] = static_cast<uint8_t>(value & ~kRegAUpdateInProgress); return;
        case kRegB: {
            const bool set = (value & kRegBSet) != 0;
            if (set && !setting_) {
                set_tm_ = broken_down(guest_time());
            } else if (!set && setting_) {
                offset_s_ = static_cast<int64_t>(::timegm(&set_tm_)) - clock_();
            }
            setting_ = set;
            ram_[kRegB] = value;
            return;
        }
        case kRegC:
        case kRegD: return;  // Read-only.
        default: ram_[reg] = value; return;
    }
}

void Cmos::read(uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        // The index port is write-only: reads float high, as on PC hardware.
        data[i] = offset + i == kDataOffset ? read_register(index_) : 0xff;
    }
}

void Cmos::write(uint64_t offset, std::span<const uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        if (offset + i == kIndexOffset) {
            index_ = data[i] & kIndexMask;
            nmi_disabled_ = (data[i] & kNmiDisable) != 0;
        } else if (offset + i == kDataOffset) {
            write_register(index_, data[i]);
        }
    }
}

Cmos::State Cmos::save_state() const {
    State s;
    s.clock_offset_s = offset_s_;
    s.set_sec = set_tm_.tm_sec;
    s.set_min = set_tm_.tm_min;
    s.set_hour = set_tm_.tm_hour;
    s.set_mday = set_tm_.tm_mday;
    s.set_mon = set_tm_.tm_mon;
    s.set_year = set_tm_.tm_year;
    s.set_wday = set_tm_.tm_wday;
    s.index = index_;
    s.nmi_disabled = nmi_disabled_ ? 1 : 0;
    s.setting = setting_ ? 1 : 0;
    std::copy(std::begin(ram_), std::end(ram_), s.ram);
    return s;
}

Result<void> Cmos::restore_state(const State& state) {
    // Only values the port interface can produce: anything else is a corrupt snapshot. The
    // bounds also keep the time arithmetic free of overflow.
    auto in_range = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
    if (state.index > kIndexMask) {
        return Error::invalid("cmos restore",
                              "index " + std::to_string(state.index) + " is past the 128-byte RAM");
    }
    if (state.nmi_disabled > 1 || state.setting > 1) {
        return Error::invalid("cmos restore", "nmi_disabled or setting is not 0 or 1");
    }
    if ((state.setting != 0) != ((state.ram[kRegB] & kRegBSet) != 0)) {
        return Error::invalid("cmos restore", "setting disagrees with SET in register B");
    }
    if ((state.ram[kRegA] & kRegAUpdateInProgress) || state.ram[kRegC] || state.ram[kRegD]) {
        return Error::invalid("cmos restore", "register A, C or D holds read-only bits");
    }
    if (!in_range(state.clock_offset_s, -kMaxClockOffsetS, kMaxClockOffsetS)) {
        return Error::invalid(
            "cmos restore",
            "clock offset " + std::to_string(state.clock_offset_s) + " s is out of range");
    }
    // A decoded register byte is at most 255 (0xff in BCD decodes to 165).
    if (!in_range(state.set_sec, 0, 255) || !in_range(state.set_min, 0, 255) ||
        !in_range(state.set_hour, 0, 255) || !in_range(state.set_mday, 0, 255) ||
        !in_range(state.set_mon, -1, 254) || !in_range(state.set_wday, 0, 6) ||
        !in_range(state.set_year, -1900, 100000)) {
        return Error::invalid("cmos restore", "time being set is out of range");
    }
    offset_s_ = state.clock_offset_s;
    set_tm_ = std::tm{};
    set_tm_.tm_sec = state.set_sec;
    set_tm_.tm_min = state.set_min;
    set_tm_.tm_hour = state.set_hour;
    set_tm_.tm_mday = state.set_mday;
    set_tm_.tm_mon = state.set_mon;
    set_tm_.tm_year = state.set_year;
    set_tm_.tm_wday = state.set_wday;
    index_ = state.index;
    nmi_disabled_ = state.nmi_disabled != 0;
    setting_ = state.setting != 0;
    std::copy(std::begin(state.ram), std::end(state.ram), ram_);
    return ok();
}

}  // namespace ember
