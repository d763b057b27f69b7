// The virtio-net snapshot blob: round trips with and without the optional members, blobs from an
// earlier Ember, value ranges and the id check.
#include "devices/virtio/net/net_persist.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/blob_edit.h"
#include "tests/unit/devices/virtio/virtio_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(NetPersist, RoundTripsWithAndWithoutOptionalMembers) {
    for (bool optionals : {true, false}) {
        DeviceState d = encode_net(sample_net(optionals));
        EXPECT_EQ(d.id, "eth0");
        EXPECT_EQ(d.type, kNetType);
        Result<NetSnapshot> s = decode_net(d);
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ(*s, sample_net(optionals));
        EXPECT_EQ(s->net.guest_mac.has_value(), optionals);
        EXPECT_EQ(s->net.mtu.has_value(), optionals);
        EXPECT_EQ(s->net.rx_rate_limiter.has_value(), optionals);
        EXPECT_EQ(s->net.tx_rate_limiter.has_value(), optionals);
        EXPECT_EQ(s->device.rx_rate_limiter.bandwidth.has_value(), optionals);
        EXPECT_EQ(s->device.tx_rate_limiter.ops.has_value(), optionals);
    }
}

TEST(NetPersist, DecodesBlobsFromBeforeTheLimiterStateWithNoState) {
    // Written by the encoder before the limiter state existed (the fuzz seed device_net as of
    // commit 30f7064); its config has rate limiters.
    Result<NetSnapshot> n = decode_net(blob_from_file(
        kNetType, "eth0", EMBER_SNAPSHOT_TESTDATA "/net_without_limiter_state.blob"));
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_TRUE(n->net.tx_rate_limiter.has_value());
    EXPECT_EQ(n->device.rx_rate_limiter, RateLimiterState{});
    EXPECT_EQ(n->device.tx_rate_limiter, RateLimiterState{});
}

TEST(NetPersist, RefusesValuesOutOfRange) {
    DeviceState net = encode_net(sample_net(true));
    EXPECT_FALSE(decode_net(with_u32(net, {1, 4}, 0x10000)));  // NetConfig::mtu
    EXPECT_FALSE(decode_net(with_u32(net, {3, 3}, 0x10000)));  // NetDeviceState::mtu
    Result<NetSnapshot> n = decode_net(with_u32(net, {1, 4}, 0xffff));
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_TRUE(n->net.mtu == 0xffff);
}

TEST(NetPersist, RefusesAnIdThatDisagreesWithTheConfig) {
    DeviceState net = encode_net(sample_net(false));
    net.id = "eth1";
    EXPECT_FALSE(decode_net(net));
}

}  // namespace
}  // namespace ember::snapshot
