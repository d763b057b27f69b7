// The boot timer's snapshot blob round trip (the refusals are persist_contract_test's).
#include "devices/legacy/boot_timer_persist.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/legacy/legacy_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(BootTimerPersist, RoundTrips) {
    DeviceState timer = encode_boot_timer(sample_boot_timer());
    EXPECT_EQ(timer.id, "boot-timer");
    Result<BootTimer::State> t = decode_boot_timer(timer);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(*t, sample_boot_timer());
}

}  // namespace
}  // namespace ember::snapshot
