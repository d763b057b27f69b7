// The virtio-mmio slot inside the block and net blobs: a virtio device with no queues and with
// the most, and the queue count's bound, seen through the net blob.
#include "devices/virtio/transport/mmio_persist.h"

#include <gtest/gtest.h>

#include <string>

#include "devices/virtio/net/net_persist.h"
#include "tests/unit/devices/blob_edit.h"
#include "tests/unit/devices/virtio/virtio_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(MmioPersist, RoundTripsAVirtioDeviceWithNoQueuesAndWithSixteen) {
    for (uint32_t queues : {0u, 16u}) {
        NetSnapshot n = sample_net(false);
        n.slot.transport.device.queues.clear();
        for (uint32_t i = 0; i < queues; ++i) {
            n.slot.transport.device.queues.push_back(
                {.size = 256, .next_avail = static_cast<uint16_t>(i), .desc_table = i * 4096ull});
        }
        Result<NetSnapshot> s = decode_net(encode_net(n));
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ(*s, n);
    }
}

TEST(MmioPersist, RefusesMoreThanSixteenQueues) {
    NetSnapshot n = sample_net(false);
    n.slot.transport.device.queues.resize(17);
    std::string error = decode_net(encode_net(n)) ? "decoded" : "refused";
    EXPECT_EQ(error, "refused");
    // A count the queues do not back: refused as too many before anything is read.
    DeviceState d = with_u32(encode_net(sample_net(false)), {2, 3, 8, 5}, 0xffffffff);
    Result<NetSnapshot> r = decode_net(d);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("4294967295 queues, at most 16"), std::string::npos)
        << r.error().message();
    // A count above the queues present: the missing one is refused.
    EXPECT_FALSE(decode_net(with_u32(encode_net(sample_net(false)), {2, 3, 8, 5}, 3)));
}

}  // namespace
}  // namespace ember::snapshot
