// Cmos save_state/restore_state: a restored RTC reads back like the original and keeps running.
#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <vector>

#include "devices/legacy/cmos.h"

namespace ember {
namespace {

// 2026-11-23 13:45:07 UTC, as in cmos_test.cc.
constexpr int64_t kNow = 1795441507;

class CmosStateTest : public ::testing::Test {
protected:
    static uint8_t data(Cmos& dev) {
        uint8_t b = 0;
        dev.read(1, {&b, 1});
        return b;
    }
    static void out(Cmos& dev, uint64_t offset, uint8_t value) { dev.write(offset, {&value, 1}); }
    static uint8_t reg(Cmos& dev, uint8_t index) {
        out(dev, 0, index);
        return data(dev);
    }
    static void set_reg(Cmos& dev, uint8_t index, uint8_t value) {
        out(dev, 0, index);
        out(dev, 1, value);
    }
    static std::vector<uint8_t> read_clock(Cmos& dev) {
        std::vector<uint8_t> r;
        for (uint8_t i : {Cmos::kSeconds, Cmos::kMinutes, Cmos::kHours, Cmos::kDayOfWeek,
                          Cmos::kDayOfMonth, Cmos::kMonth, Cmos::kYear, Cmos::kCentury, Cmos::kRegA,
                          Cmos::kRegB, Cmos::kRegC, Cmos::kRegD}) {
            r.push_back(reg(dev, i));
        }
        return r;
    }

    int64_t now = kNow;
    Cmos original{[this] { return now; }};
    Cmos restored{[this] { return now; }};
};

TEST_F(CmosStateTest, RestoresRamIndexNmiAndATimeBeingSet) {
    set_reg(original, Cmos::kRegA, 0x2f);
    set_reg(original, Cmos::kRegB, Cmos::kRegBSet | Cmos::kRegB24Hour);
    set_reg(original, Cmos::kHours, 0x09);
    set_reg(original, Cmos::kMinutes, 0x30);
    set_reg(original, 0x40, 0x99);
    out(original, 0, 0x80 | 0x40);  // Index 0x40 with NMI disabled, left selected.

    const Cmos::State state = original.save_state();
    EXPECT_EQ(state.setting, 1);
    ASSERT_TRUE(restored.restore_state(state).has_value());
    EXPECT_EQ(restored.save_state(), state);
    EXPECT_EQ(restored.index(), 0x40);
    EXPECT_TRUE(restored.nmi_disabled());
    EXPECT_EQ(data(restored), 0x99);  // Reads through the restored index.

    // While SET is on, the clock reads back what the guest wrote.
    const std::vector<uint8_t> expected = read_clock(original);
    EXPECT_EQ(read_clock(restored), expected);
    EXPECT_EQ(expected[1], 0x30);
    EXPECT_EQ(expected[2], 0x09);

    // Clearing SET applies the time on both, and both then run with the host clock.
    set_reg(original, Cmos::kRegB, Cmos::kRegB24Hour);
    set_reg(restored, Cmos::kRegB, Cmos::kRegB24Hour);
    now += 100;
    EXPECT_EQ(restored.guest_time(), original.guest_time());
    EXPECT_EQ(restored.guest_time(), kNow - (13 - 9) * 3600L - 15 * 60L + 100);
    EXPECT_EQ(read_clock(restored), read_clock(original));
}

TEST_F(CmosStateTest, TheGuestClockRunsOnThroughThePause) {
    set_reg(original, Cmos::kYear, 0x30);  // 2030.
    const Cmos::State state = original.save_state();
    const int64_t offset = original.guest_time() - now;
    EXPECT_EQ(state.clock_offset_s, offset);
    now += 1000;  // Restored on a host 1000 s later.
    ASSERT_TRUE(restored.restore_state(state).has_value());
    EXPECT_EQ(restored.guest_time(), now + offset);
    EXPECT_EQ(reg(restored, Cmos::kYear), 0x30);
    EXPECT_EQ(reg(restored, Cmos::kMinutes), 0x01);  // 13:45:07 + 1000 s = 14:01:47.
    EXPECT_EQ(reg(restored, Cmos::kSeconds), 0x47);
}

TEST_F(CmosStateTest, RefusesInvalidStatesAndStaysUnchanged) {
    set_reg(original, 0x20, 0x11);
    const Cmos::State good = original.save_state();
    std::vector<Cmos::State> bad(10, good);
    bad[0].index = 0x80;
    bad[1].nmi_disabled = 2;
    bad[2].setting = 1;  // SET is clear in register B.
    bad[3].ram[Cmos::kRegA] |= Cmos::kRegAUpdateInProgress;
    bad[4].ram[Cmos::kRegC] = 1;
    bad[5].clock_offset_s = Cmos::kMaxClockOffsetS + 1;
    bad[6].clock_offset_s = INT64_MIN;
    bad[7].set_mon = 300;
    bad[8].set_year = 200000;
    bad[9].set_wday = 7;
    for (const Cmos::State& s : bad) {
        Result<void> r = original.restore_state(s);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), std::errc::invalid_argument);
    }
    EXPECT_EQ(original.save_state(), good);
    EXPECT_EQ(reg(original, 0x20), 0x11);
}

}  // namespace
}  // namespace ember
