#include "devices/virtio/descriptor_chain.h"

#include <gtest/gtest.h>

#include "devices/virtio/virtio_spec.h"
#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

using testing::BufferSpec;
using testing::VirtqueueBuilder;

constexpr uint16_t kSize = 16;
constexpr uint64_t kRamBytes = 1 << 20;

class DescriptorChainTest : public ::testing::Test {
protected:
    Result<DescriptorChain> parse(uint16_t head,
                                  IndirectDescriptors indirect = IndirectDescriptors::kAllowed) {
        return DescriptorChain::parse(memory_, GuestAddress(vq_.desc_table()), kSize, head,
                                      indirect);
    }

    GuestMemory memory_ = testing::make_guest_memory(kRamBytes);
    VirtqueueBuilder vq_{memory_, kSize};
};

TEST_F(DescriptorChainTest, ParsesReadableThenWritableDescriptors) {
    const uint64_t a = vq_.alloc(16), b = vq_.alloc(512), c = vq_.alloc(1);
    const uint16_t head = vq_.write_chain({{a, 16}, {b, 512, true}, {c, 1, true}});
    auto chain = parse(head);
    ASSERT_TRUE(chain.has_value()) << chain.error().message();
    EXPECT_EQ(chain->head_index(), head);
    ASSERT_EQ(chain->descriptors().size(), 3u);
    EXPECT_EQ(chain->readable().size(), 1u);
    EXPECT_EQ(chain->writable().size(), 2u);
    EXPECT_EQ(chain->readable_bytes(), 16u);
    EXPECT_EQ(chain->writable_bytes(), 513u);
    EXPECT_EQ(chain->descriptors()[1].addr.value(), b);
    EXPECT_EQ(chain->descriptors()[1].host.size(), 512u);
}

TEST_F(DescriptorChainTest, RejectsHeadIndexOutsideTheQueue) {
    EXPECT_FALSE(parse(kSize).has_value());
}

TEST_F(DescriptorChainTest, RejectsALoopingChain) {
    const uint64_t a = vq_.alloc(8);
    vq_.write_descriptor(0, a, 8, kDescFlagNext, 1);
    vq_.write_descriptor(1, a, 8, kDescFlagNext, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsASelfLoop) {
    vq_.write_descriptor(3, vq_.alloc(8), 8, kDescFlagNext, 3);
    EXPECT_FALSE(parse(3).has_value());
}

TEST_F(DescriptorChainTest, AcceptsAChainAsLongAsTheQueueButNotLonger) {
    const uint64_t a = vq_.alloc(8);
    for (uint16_t i = 0; i < kSize; ++i) {
        const bool last = i + 1 == kSize;
        vq_.write_descriptor(i, a, 8, last ? 0 : kDescFlagNext, static_cast<uint16_t>(i + 1));
    }
    EXPECT_TRUE(parse(0).has_value());
    // Linking the last back to the first makes every walk longer than the queue.
    vq_.write_descriptor(kSize - 1, a, 8, kDescFlagNext, 0);
    EXPECT_FALSE(parse(1).has_value());
}

// Chains longer than the ones kept inline (20) spill to the heap and read the same, in order, and
// a copy is independent of the original.
TEST(LongDescriptorChain, KeepsEveryDescriptorInOrderPastTheInlineOnes) {
    GuestMemory memory = testing::make_guest_memory(kRamBytes);
    VirtqueueBuilder vq(memory, 64);
    for (uint32_t length : {19u, 20u, 21u, 40u}) {
        std::vector<testing::BufferSpec> buffers;
        for (uint32_t i = 0; i < length; ++i) {
            buffers.push_back({vq.alloc(i + 1), i + 1, /*writable=*/i >= length - 3});
        }
        const uint16_t head = vq.write_chain(buffers);
        auto chain = DescriptorChain::parse(memory, GuestAddress(vq.desc_table()), 64, head,
                                            IndirectDescriptors::kRefused);
        ASSERT_TRUE(chain.has_value()) << chain.error().message();
        const DescriptorChain copy = *chain;
        const DescriptorChain* original = &*chain;
        for (const DescriptorChain* c : {original, &copy}) {
            ASSERT_EQ(c->descriptors().size(), length);
            EXPECT_EQ(c->readable().size(), length - 3);
            EXPECT_EQ(c->writable().size(), 3u);
            for (uint32_t i = 0; i < length; ++i) {
                EXPECT_EQ(c->descriptors()[i].addr.value(), buffers[i].gpa) << length << " " << i;
                EXPECT_EQ(c->descriptors()[i].host.size(), i + 1);
            }
        }
    }
}

TEST_F(DescriptorChainTest, RejectsNextIndexOutOfRange) {
    vq_.write_descriptor(0, vq_.alloc(8), 8, kDescFlagNext, kSize);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsBufferOutsideGuestMemory) {
    vq_.write_descriptor(0, kRamBytes - 4, 8, 0, 0);
    EXPECT_FALSE(parse(0).has_value());
    vq_.write_descriptor(0, kRamBytes + 0x1000, 1, 0, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsAddressPlusLengthThatOverflows) {
    vq_.write_descriptor(0, UINT64_MAX - 3, 16, 0, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsReadableDescriptorAfterWritable) {
    const uint64_t a = vq_.alloc(8);
    const uint16_t head = vq_.write_chain({{a, 8, true}, {a, 8, false}});
    EXPECT_FALSE(parse(head).has_value());
}

TEST_F(DescriptorChainTest, FollowsAnIndirectTable) {
    const uint64_t a = vq_.alloc(16), b = vq_.alloc(100);
    const uint16_t head = vq_.add_indirect_chain({{a, 16}, {b, 100, true}});
    auto chain = parse(head);
    ASSERT_TRUE(chain.has_value()) << chain.error().message();
    ASSERT_EQ(chain->descriptors().size(), 2u);
    EXPECT_EQ(chain->descriptors()[0].addr.value(), a);
    EXPECT_EQ(chain->writable_bytes(), 100u);
}

TEST_F(DescriptorChainTest, RejectsIndirectWhenTheFeatureIsNotNegotiated) {
    const uint16_t head = vq_.add_indirect_chain({{vq_.alloc(8), 8}});
    EXPECT_FALSE(parse(head, IndirectDescriptors::kRefused).has_value());
}

TEST_F(DescriptorChainTest, RejectsIndirectTableLengthNotMultipleOfSixteen) {
    const uint64_t table = vq_.alloc(32, 16);
    vq_.write_descriptor(0, vq_.alloc(8), 8, 0, 0, table);
    vq_.write_descriptor(0, table, 24, kDescFlagIndirect, 0);
    EXPECT_FALSE(parse(0).has_value());
    vq_.write_descriptor(0, table, 0, kDescFlagIndirect, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsIndirectTableOutsideGuestMemory) {
    vq_.write_descriptor(0, kRamBytes - 16, 32, kDescFlagIndirect, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsNestedIndirectTables) {
    const uint64_t inner = vq_.alloc(16, 16);
    vq_.write_descriptor(0, vq_.alloc(8), 8, 0, 0, inner);
    const uint64_t outer = vq_.alloc(16, 16);
    vq_.write_descriptor(0, inner, 16, kDescFlagIndirect, 0, outer);
    vq_.write_descriptor(0, outer, 16, kDescFlagIndirect, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsIndirectWithNextFlag) {
    const uint64_t table = vq_.alloc(16, 16);
    vq_.write_descriptor(0, vq_.alloc(8), 8, 0, 0, table);
    vq_.write_descriptor(0, table, 16, kDescFlagIndirect | kDescFlagNext, 1);
    vq_.write_descriptor(1, vq_.alloc(8), 8, 0, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsALoopInsideAnIndirectTable) {
    const uint64_t table = vq_.alloc(32, 16);
    const uint64_t a = vq_.alloc(8);
    vq_.write_descriptor(0, a, 8, kDescFlagNext, 1, table);
    vq_.write_descriptor(1, a, 8, kDescFlagNext, 0, table);
    vq_.write_descriptor(0, table, 32, kDescFlagIndirect, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST_F(DescriptorChainTest, RejectsIndirectNextIndexBeyondTheTable) {
    const uint64_t table = vq_.alloc(32, 16);
    vq_.write_descriptor(0, vq_.alloc(8), 8, kDescFlagNext, 2, table);
    vq_.write_descriptor(0, table, 32, kDescFlagIndirect, 0);
    EXPECT_FALSE(parse(0).has_value());
}

TEST(ChainReaderWriter, TreatBuffersAsOneStream) {
    GuestMemory memory = testing::make_guest_memory();
    VirtqueueBuilder vq(memory, 4);
    const uint64_t a = vq.alloc(3), b = vq.alloc(5);
    const uint16_t head = vq.write_chain({{a, 3, true}, {b, 5, true}});
    auto chain = DescriptorChain::parse(memory, GuestAddress(vq.desc_table()), 4, head,
                                        IndirectDescriptors::kRefused);
    ASSERT_TRUE(chain.has_value());
    ChainWriter writer(chain->writable());
    const uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    EXPECT_EQ(writer.write(data), 8u);
    EXPECT_EQ(writer.remaining(), 0u);
    EXPECT_EQ(vq.read(a, 3), (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(vq.read(b, 5), (std::vector<uint8_t>{4, 5, 6, 7, 8}));

    ChainReader reader(chain->writable());
    uint8_t out[4] = {};
    EXPECT_EQ(reader.read(out), 4u);
    EXPECT_EQ(out[3], 4);
    EXPECT_EQ(reader.remaining(), 4u);
}

}  // namespace
}  // namespace ember::virtio
