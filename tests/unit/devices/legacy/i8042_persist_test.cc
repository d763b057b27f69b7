// The i8042 controller's snapshot blob round trip (the refusals are persist_contract_test's).
#include "devices/legacy/i8042_persist.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/legacy/legacy_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(I8042Persist, RoundTrips) {
    DeviceState i8042 = encode_i8042(sample_i8042());
    EXPECT_EQ(i8042.id, "i8042");
    Result<I8042::State> k = decode_i8042(i8042);
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(*k, sample_i8042());
}

}  // namespace
}  // namespace ember::snapshot
