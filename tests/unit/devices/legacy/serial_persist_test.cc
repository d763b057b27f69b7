// The serial port's snapshot blob: round trip, fields from a later Ember, register ranges.
#include "devices/legacy/serial_persist.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/devices/blob_edit.h"
#include "tests/unit/devices/legacy/legacy_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(SerialPersist, RoundTrips) {
    DeviceState serial = encode_serial(sample_serial());
    EXPECT_EQ(serial.id, "serial");
    EXPECT_EQ(serial.type, kSerialType);
    EXPECT_EQ(serial.version, 1u);
    Result<Serial8250::State> s = decode_serial(serial);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, sample_serial());
}

TEST(SerialPersist, SkipsFieldsFromALaterEmber) {
    DeviceState serial = encode_serial(sample_serial());
    FieldWriter w;
    w.u64(1000, 5);
    std::vector<uint8_t> extra = w.take();
    serial.data.insert(serial.data.end(), extra.begin(), extra.end());
    Result<Serial8250::State> s = decode_serial(serial);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, sample_serial());
}

TEST(SerialPersist, RefusesValuesOutOfRange) {
    DeviceState serial = encode_serial(sample_serial());
    EXPECT_FALSE(decode_serial(with_u32(serial, {1}, 0x100)));
    EXPECT_TRUE(decode_serial(with_u32(serial, {1}, 0xff)));
}

}  // namespace
}  // namespace ember::snapshot
