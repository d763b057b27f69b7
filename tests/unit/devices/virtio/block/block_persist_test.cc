// The virtio-block snapshot blob: round trips with and without the optional members, blobs from
// an earlier Ember, fields from a later one, value ranges and the id check.
#include "devices/virtio/block/block_persist.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/unit/devices/blob_edit.h"
#include "tests/unit/devices/virtio/virtio_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(BlockPersist, RoundTripsWithAndWithoutOptionalMembers) {
    for (bool optionals : {true, false}) {
        DeviceState d = encode_block(sample_block(optionals));
        EXPECT_EQ(d.id, "rootfs");
        EXPECT_EQ(d.type, kBlockType);
        Result<BlockSnapshot> s = decode_block(d);
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ(*s, sample_block(optionals));
        EXPECT_EQ(s->drive.partuuid.has_value(), optionals);
        EXPECT_EQ(s->drive.rate_limiter.has_value(), optionals);
        EXPECT_EQ(s->device.rate_limiter.bandwidth.has_value(), optionals);
    }
    // A rate limiter with only one bucket keeps the other absent.
    BlockSnapshot one = sample_block(true);
    one.drive.rate_limiter->bandwidth.reset();
    Result<BlockSnapshot> s = decode_block(encode_block(one));
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, one);
}

TEST(BlockPersist, KeepsAnyLimiterStateValuesForRestoreToClamp) {
    BlockSnapshot b = sample_block(true);
    b.device.rate_limiter.ops = {
        .budget = UINT64_MAX, .one_time_burst = UINT64_MAX, .elapsed_ns = UINT64_MAX};
    b.device.rate_limiter.bandwidth.reset();
    Result<BlockSnapshot> s = decode_block(encode_block(b));
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, b);
}

TEST(BlockPersist, DecodesBlobsFromBeforeTheLimiterStateWithNoState) {
    // Written by the encoder before the limiter state existed (the fuzz seed device_block as of
    // commit 30f7064); its config has a rate limiter.
    Result<BlockSnapshot> b = decode_block(blob_from_file(
        kBlockType, "rootfs", EMBER_SNAPSHOT_TESTDATA "/block_without_limiter_state.blob"));
    ASSERT_TRUE(b) << b.error().message();
    ASSERT_TRUE(b->drive.rate_limiter.has_value());
    EXPECT_TRUE(b->drive.rate_limiter->bandwidth.has_value());
    EXPECT_EQ(b->device.rate_limiter, RateLimiterState{});

    // The same from today's encoder with the fields dropped.
    DeviceState block = without(encode_block(sample_block(true)), {3, 3});
    b = decode_block(block);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->device.rate_limiter, RateLimiterState{});
    EXPECT_EQ(b->drive, sample_block(true).drive);
}

TEST(BlockPersist, SkipsFieldsFromALaterEmber) {
    // A later Ember adds fields at the top level and inside nested structs.
    auto add_field = [](std::span<const uint8_t> data) {
        FieldWriter w;
        w.u32(77, 1);
        std::vector<uint8_t> extra = w.take();
        std::vector<uint8_t> out(data.begin(), data.end());
        out.insert(out.end(), extra.begin(), extra.end());
        return std::optional<std::vector<uint8_t>>(out);
    };
    DeviceState block = edited(encode_block(sample_block(true)), {2, 3, 8, 0x100}, add_field);
    block = edited(block, {1}, add_field);
    Result<BlockSnapshot> b = decode_block(block);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(*b, sample_block(true));
}

TEST(BlockPersist, RefusesValuesOutOfRange) {
    DeviceState block = encode_block(sample_block(true));
    EXPECT_TRUE(decode_block(with_u32(block, {1, 6}, 1)));
    std::string error = error_of(decode_block(with_u32(block, {1, 6}, 2)));
    EXPECT_NE(error.find("drive: field cache_type (tag 6) is 2, out of range 0..1"),
              std::string::npos)
        << error;
    EXPECT_FALSE(decode_block(with_u32(block, {1, 7}, 2)));                     // io_engine
    EXPECT_FALSE(decode_block(with_u32(block, {1, 3}, 2)));                     // is_root_device
    EXPECT_FALSE(decode_block(with_u32(block, {1, 5}, 0xffffffff)));            // is_read_only
    EXPECT_FALSE(decode_block(with_u32(block, {2, 3, 7}, 0x100)));              // activate_failed
    EXPECT_FALSE(decode_block(with_u32(block, {2, 3, 8, 0x100, 1}, 0x10000)));  // queue size
}

TEST(BlockPersist, RefusesAnIdThatDisagreesWithTheConfig) {
    DeviceState block = encode_block(sample_block(false));
    block.id = "other";
    EXPECT_NE(error_of(decode_block(block)).find("drive_id \"rootfs\" but the blob's id"),
              std::string::npos);
}

}  // namespace
}  // namespace ember::snapshot
