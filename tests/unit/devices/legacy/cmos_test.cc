#include "devices/legacy/cmos.h"

#include <gtest/gtest.h>

#include <ctime>

namespace ember {
namespace {

// 2026-11-23 13:45:07 UTC, a Monday.
constexpr int64_t kNow = 1795441507;

class CmosTest : public ::testing::Test {
protected:
    uint8_t reg(uint8_t index) {
        out(0, index);
        uint8_t b = 0;
        dev.read(1, {&b, 1});
        return b;
    }
    void set_reg(uint8_t index, uint8_t value) {
        out(0, index);
        out(1, value);
    }
    void out(uint64_t offset, uint8_t value) { dev.write(offset, {&value, 1}); }

    int64_t now = kNow;
    Cmos dev{[this] { return now; }};
};

TEST(CmosClock, TheTestDateIsTheOneTheTestsExpect) {
    const time_t t = kNow;
    std::tm tm{};
    gmtime_r(&t, &tm);
    EXPECT_EQ(tm.tm_year, 126);
    EXPECT_EQ(tm.tm_mon, 10);
    EXPECT_EQ(tm.tm_mday, 23);
    EXPECT_EQ(tm.tm_hour, 13);
    EXPECT_EQ(tm.tm_min, 45);
    EXPECT_EQ(tm.tm_sec, 7);
    EXPECT_EQ(tm.tm_wday, 1);
}

TEST_F(CmosTest, ReadsTheHostTimeInBcd) {
    EXPECT_EQ(reg(Cmos::kSeconds), 0x07);
    EXPECT_EQ(reg(Cmos::kMinutes), 0x45);
    EXPECT_EQ(reg(Cmos::kHours), 0x13);
    EXPECT_EQ(reg(Cmos::kDayOfWeek), 0x02);  // Monday; Sunday is 1.
    EXPECT_EQ(reg(Cmos::kDayOfMonth), 0x23);
    EXPECT_EQ(reg(Cmos::kMonth), 0x11);
    EXPECT_EQ(reg(Cmos::kYear), 0x26);
    EXPECT_EQ(reg(Cmos::kCentury), 0x20);
}

TEST_F(CmosTest, FollowsTheHostClock) {
    now += 61;
    EXPECT_EQ(reg(Cmos::kSeconds), 0x08);
    EXPECT_EQ(reg(Cmos::kMinutes), 0x46);
}

TEST_F(CmosTest, StatusRegistersLetTheKernelReadAtOnce) {
    // No update in progress (the kernel waits while bit 7 is set), 32.768 kHz time base.
    EXPECT_EQ(reg(Cmos::kRegA), 0x26);
    EXPECT_EQ(reg(Cmos::kRegA) & Cmos::kRegAUpdateInProgress, 0);
    // 24-hour BCD, no interrupts enabled.
    EXPECT_EQ(reg(Cmos::kRegB), Cmos::kRegB24Hour);
    EXPECT_EQ(reg(Cmos::kRegC), 0);
    EXPECT_EQ(reg(Cmos::kRegD), Cmos::kRegDValid);
}

TEST_F(CmosTest, UpdateInProgressCannotBeSetByTheGuest) {
    set_reg(Cmos::kRegA, 0xa6);
    EXPECT_EQ(reg(Cmos::kRegA), 0x26);
}

TEST_F(CmosTest, BinaryModeReportsPlainNumbers) {
    set_reg(Cmos::kRegB, Cmos::kRegB24Hour | Cmos::kRegBBinary);
    EXPECT_EQ(reg(Cmos::kMinutes), 45);
    EXPECT_EQ(reg(Cmos::kHours), 13);
    EXPECT_EQ(reg(Cmos::kYear), 26);
}

TEST_F(CmosTest, TwelveHourModeSetsThePmBit) {
    set_reg(Cmos::kRegB, 0);
    EXPECT_EQ(reg(Cmos::kHours), 0x81);  // 1 PM.
}

TEST_F(CmosTest, IndexPortMasksNmiAndFloatsOnRead) {
    out(0, 0x80 | Cmos::kMinutes);
    EXPECT_TRUE(dev.nmi_disabled());
    EXPECT_EQ(dev.index(), Cmos::kMinutes);
    uint8_t b = 0;
    dev.read(0, {&b, 1});
    EXPECT_EQ(b, 0xff);
    dev.read(1, {&b, 1});
    EXPECT_EQ(b, 0x45);
    out(0, Cmos::kMinutes);
    EXPECT_FALSE(dev.nmi_disabled());
}

TEST_F(CmosTest, RamKeepsWhatTheGuestWrites) {
    for (uint8_t index : {uint8_t{0x0e}, uint8_t{0x10}, uint8_t{0x40}, uint8_t{0x7f}}) {
        set_reg(index, static_cast<uint8_t>(index ^ 0x5a));
    }
    for (uint8_t index : {uint8_t{0x0e}, uint8_t{0x10}, uint8_t{0x40}, uint8_t{0x7f}}) {
        EXPECT_EQ(reg(index), static_cast<uint8_t>(index ^ 0x5a)) << int{index};
    }
    EXPECT_EQ(reg(0x20), 0);  // Untouched RAM reads 0, not 0xff.
}

TEST_F(CmosTest, RegistersCAndDAreReadOnly) {
    set_reg(Cmos::kRegC, 0xff);
    set_reg(Cmos::kRegD, 0x00);
    EXPECT_EQ(reg(Cmos::kRegC), 0);
    EXPECT_EQ(reg(Cmos::kRegD), Cmos::kRegDValid);
}

TEST_F(CmosTest, GuestSetsTheClockUnderTheSetBit) {
    // As Linux's mc146818_set_time: SET, every field, then SET cleared. Feb 28 -> Mar 31 must not
    // pass through an invalid Feb 31 on the way.
    set_reg(Cmos::kRegB, Cmos::kRegB24Hour | Cmos::kRegBSet);
    set_reg(Cmos::kSeconds, 0x30);
    set_reg(Cmos::kMinutes, 0x20);
    set_reg(Cmos::kHours, 0x10);
    set_reg(Cmos::kDayOfMonth, 0x31);
    set_reg(Cmos::kMonth, 0x03);
    set_reg(Cmos::kYear, 0x27);
    EXPECT_EQ(reg(Cmos::kDayOfMonth), 0x31);  // Reads back what was written while SET.
    set_reg(Cmos::kRegB, Cmos::kRegB24Hour);
    EXPECT_EQ(reg(Cmos::kDayOfMonth), 0x31);
    EXPECT_EQ(reg(Cmos::kMonth), 0x03);
    EXPECT_EQ(reg(Cmos::kYear), 0x27);
    EXPECT_EQ(reg(Cmos::kHours), 0x10);
    EXPECT_EQ(reg(Cmos::kMinutes), 0x20);
    EXPECT_EQ(reg(Cmos::kSeconds), 0x30);
    // The new time keeps running with the host clock.
    now += 5;
    EXPECT_EQ(reg(Cmos::kSeconds), 0x35);
}

TEST_F(CmosTest, WriteWithoutSetAppliesAtOnce) {
    set_reg(Cmos::kHours, 0x02);
    EXPECT_EQ(reg(Cmos::kHours), 0x02);
    EXPECT_EQ(dev.guest_time(), kNow - 11 * 3600L);
}

TEST_F(CmosTest, WideAccessesTouchEachPortInTurn) {
    const uint8_t both[2] = {Cmos::kMonth, 0x12};
    dev.write(0, both);
    EXPECT_EQ(reg(Cmos::kMonth), 0x12);
    uint8_t wide[2] = {0, 0};
    out(0, Cmos::kYear);
    dev.read(0, wide);
    EXPECT_EQ(wide[0], 0xff);
    EXPECT_EQ(wide[1], 0x26);
}

}  // namespace
}  // namespace ember
