#include "devices/virtio/block/request.h"

#include <gtest/gtest.h>
#include <linux/virtio_blk.h>

#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

class BlockRequestTest : public ::testing::Test {
protected:
    Result<DescriptorChain> chain(uint16_t head) {
        return DescriptorChain::parse(memory_, GuestAddress(vq_.desc_table()), 16, head,
                                      IndirectDescriptors::kRefused);
    }
    uint64_t header(uint32_t type, uint64_t sector, uint32_t extra = 0) {
        const uint64_t gpa = vq_.alloc(16 + extra);
        vq_.write_obj(gpa, type);
        vq_.write_obj(gpa + 8, sector);
        return gpa;
    }

    GuestMemory memory_ = testing::make_guest_memory();
    testing::VirtqueueBuilder vq_{memory_, 16};
};

TEST_F(BlockRequestTest, ParsesTheUsualThreeDescriptorLayout) {
    const uint64_t data = vq_.alloc(1024), status = vq_.alloc(1);
    auto c = chain(
        vq_.write_chain({{header(VIRTIO_BLK_T_IN, 7), 16}, {data, 1024, true}, {status, 1, true}}));
    ASSERT_TRUE(c.has_value());
    auto req = parse_block_request(*c);
    ASSERT_TRUE(req.has_value()) << req.error().message();
    EXPECT_EQ(req->type, RequestType::kIn);
    EXPECT_EQ(req->sector, 7u);
    EXPECT_EQ(req->data_len, 1024u);
    ASSERT_EQ(req->data.size(), 1u);
    EXPECT_EQ(req->data[0].iov_len, 1024u);
    EXPECT_EQ(req->status, c->descriptors()[2].host.data());
}

TEST_F(BlockRequestTest, AcceptsAnyLayoutWithDataAndStatusSharingADescriptor) {
    // OUT: header and data in one readable buffer. IN: data and status in one writable buffer.
    const uint64_t out_buf = header(VIRTIO_BLK_T_OUT, 1, 512);
    const uint64_t status = vq_.alloc(1);
    auto out = chain(vq_.write_chain({{out_buf, 16 + 512}, {status, 1, true}}));
    ASSERT_TRUE(out.has_value());
    auto write = parse_block_request(*out);
    ASSERT_TRUE(write.has_value());
    EXPECT_EQ(write->data_len, 512u);
    EXPECT_EQ(static_cast<uint8_t*>(write->data[0].iov_base),
              out->descriptors()[0].host.data() + 16);

    const uint64_t in_buf = vq_.alloc(513);
    auto in = chain(vq_.write_chain({{header(VIRTIO_BLK_T_IN, 0), 16}, {in_buf, 513, true}}));
    auto read = parse_block_request(*in);
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->data_len, 512u);
    EXPECT_EQ(read->status, in->descriptors()[1].host.data() + 512);
}

TEST_F(BlockRequestTest, RejectsAShortHeaderOrMissingStatus) {
    auto shorter =
        chain(vq_.write_chain({{header(VIRTIO_BLK_T_IN, 0), 8}, {vq_.alloc(1), 1, true}}));
    EXPECT_FALSE(parse_block_request(*shorter).has_value());
    auto no_status = chain(vq_.write_chain({{header(VIRTIO_BLK_T_FLUSH, 0), 16}}));
    EXPECT_FALSE(parse_block_request(*no_status).has_value());
}

TEST_F(BlockRequestTest, ReadsDiscardSegmentsAndCountsThem) {
    const uint64_t hdr = header(VIRTIO_BLK_T_DISCARD, 0, 32);
    vq_.write_obj<uint64_t>(hdr + 16, 100);
    vq_.write_obj<uint32_t>(hdr + 24, 8);
    vq_.write_obj<uint64_t>(hdr + 32, 200);
    auto c = chain(vq_.write_chain({{hdr, 48}, {vq_.alloc(1), 1, true}}));
    auto req = parse_block_request(*c);
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->type, RequestType::kDiscard);
    EXPECT_EQ(req->range_count, 2u);
    ASSERT_EQ(req->ranges.size(), 2u);
    EXPECT_EQ(req->ranges[0].sector, 100u);
    EXPECT_EQ(req->ranges[0].num_sectors, 8u);
    EXPECT_EQ(req->ranges[1].sector, 200u);
}

TEST_F(BlockRequestTest, RejectsAPartialDiscardSegment) {
    auto c = chain(
        vq_.write_chain({{header(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8), 24}, {vq_.alloc(1), 1, true}}));
    EXPECT_FALSE(parse_block_request(*c).has_value());
}

TEST_F(BlockRequestTest, MapsUnknownTypesToUnsupported) {
    auto c = chain(vq_.write_chain({{header(12345, 0), 16}, {vq_.alloc(1), 1, true}}));
    auto req = parse_block_request(*c);
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->type, RequestType::kUnsupported);
    EXPECT_EQ(req->raw_type, 12345u);
}

}  // namespace
}  // namespace ember::virtio
