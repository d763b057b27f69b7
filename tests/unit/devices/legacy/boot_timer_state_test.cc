// BootTimer save_state/restore_state: the boot time is reported once, across a restore too.
#include <gtest/gtest.h>

#include "devices/legacy/boot_timer.h"

namespace ember {
namespace {

void put(BootTimer& timer, uint8_t value) { timer.write(0, {&value, 1}); }

TEST(BootTimerState, AFiredTimerStaysFiredAfterRestore) {
    BootTimer original(BootTimer::StartTime::now());
    put(original, BootTimer::kMagic);
    ASSERT_TRUE(original.boot_time().has_value());
    const BootTimer::State state = original.save_state();
    EXPECT_EQ(state.reported, 1);

    BootTimer restored(BootTimer::StartTime::now());
    ASSERT_TRUE(restored.restore_state(state).has_value());
    ASSERT_TRUE(restored.boot_time().has_value());
    EXPECT_EQ(restored.boot_time()->wall_us, original.boot_time()->wall_us);
    EXPECT_EQ(restored.boot_time()->cpu_us, original.boot_time()->cpu_us);
    put(restored, BootTimer::kMagic);  // Not measured again.
    EXPECT_EQ(restored.save_state(), state);
}

TEST(BootTimerState, AnUnfiredStateClearsTheTimerAndItFiresLater) {
    BootTimer fresh(BootTimer::StartTime::now());
    const BootTimer::State unfired = fresh.save_state();
    EXPECT_EQ(unfired, BootTimer::State{});
    BootTimer timer(BootTimer::StartTime::now());
    put(timer, BootTimer::kMagic);
    ASSERT_TRUE(timer.restore_state(unfired).has_value());
    EXPECT_FALSE(timer.boot_time().has_value());
    put(timer, BootTimer::kMagic);
    EXPECT_TRUE(timer.boot_time().has_value());
}

TEST(BootTimerState, RefusesInvalidStates) {
    BootTimer timer(BootTimer::StartTime::now());
    BootTimer::State bad;
    bad.reported = 2;
    EXPECT_FALSE(timer.restore_state(bad).has_value());
    bad.reported = 0;
    bad.wall_us = 5;
    EXPECT_FALSE(timer.restore_state(bad).has_value());
    EXPECT_FALSE(timer.boot_time().has_value());
}

}  // namespace
}  // namespace ember
