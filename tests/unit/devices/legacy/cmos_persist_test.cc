// The CMOS RTC's snapshot blob round trip, signed values included (the refusals are
// persist_contract_test's).
#include "devices/legacy/cmos_persist.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/legacy/legacy_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(CmosPersist, RoundTrips) {
    DeviceState cmos = encode_cmos(sample_cmos());
    EXPECT_EQ(cmos.id, "cmos");
    Result<Cmos::State> c = decode_cmos(cmos);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(*c, sample_cmos());
}

}  // namespace
}  // namespace ember::snapshot
