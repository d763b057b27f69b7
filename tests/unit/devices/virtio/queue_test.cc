#include "devices/virtio/queue.h"

#include <gtest/gtest.h>

#include "devices/virtio/virtio_spec.h"
#include "tests/fakes/virtqueue_builder.h"

namespace ember::virtio {
namespace {

using testing::VirtqueueBuilder;

constexpr uint16_t kSize = 8;

class QueueTest : public ::testing::Test {
protected:
    QueueTest() { vq_.configure(queue_); }

    std::optional<AvailableChain> pop() {
        auto popped = queue_.pop(memory_);
        EXPECT_TRUE(popped.has_value());
        return popped ? std::move(*popped) : std::nullopt;
    }

    GuestMemory memory_ = testing::make_guest_memory();
    VirtqueueBuilder vq_{memory_, kSize};
    Queue queue_{256};
};

TEST_F(QueueTest, ValidatesSizeAlignmentAndPlacement) {
    EXPECT_TRUE(queue_.validate(memory_).has_value());
    queue_.set_size(6);
    EXPECT_FALSE(queue_.validate(memory_).has_value());
    queue_.set_size(512);
    EXPECT_FALSE(queue_.validate(memory_).has_value());
    queue_.set_size(0);
    EXPECT_FALSE(queue_.validate(memory_).has_value());
    queue_.set_size(kSize);
    queue_.set_desc_table(GuestAddress(vq_.desc_table() + 8));
    EXPECT_FALSE(queue_.validate(memory_).has_value());
    queue_.set_desc_table(GuestAddress(vq_.desc_table()));
    queue_.set_used_ring(GuestAddress((1 << 20) - 16));
    EXPECT_FALSE(queue_.validate(memory_).has_value());
}

TEST_F(QueueTest, PopsChainsInOrderAndReportsEmpty) {
    const uint64_t a = vq_.alloc(4);
    const uint16_t first = vq_.add_chain({{a, 4}});
    const uint16_t second = vq_.add_chain({{a, 4, true}});
    auto c1 = pop();
    ASSERT_TRUE(c1.has_value());
    EXPECT_EQ(c1->head, first);
    ASSERT_TRUE(c1->chain.has_value());
    auto c2 = pop();
    ASSERT_TRUE(c2.has_value());
    EXPECT_EQ(c2->head, second);
    EXPECT_FALSE(pop().has_value());
}

TEST_F(QueueTest, UndoPopReturnsTheSameChainAgain) {
    const uint16_t head = vq_.add_chain({{vq_.alloc(4), 4}});
    ASSERT_TRUE(pop().has_value());
    queue_.undo_pop();
    auto again = pop();
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->head, head);
}

TEST_F(QueueTest, ReturnsABrokenChainWithItsHeadSoItCanBeCompleted) {
    vq_.write_descriptor(0, 1ull << 40, 8, 0, 0);
    vq_.publish(0);
    auto popped = pop();
    ASSERT_TRUE(popped.has_value());
    EXPECT_EQ(popped->head, 0);
    EXPECT_FALSE(popped->chain.has_value());
}

TEST_F(QueueTest, RefusesAnAvailableIndexMoreThanAQueueAhead) {
    vq_.set_avail_idx(kSize + 1);
    EXPECT_FALSE(queue_.pop(memory_).has_value());
    vq_.set_avail_idx(kSize);
    EXPECT_TRUE(queue_.pop(memory_).has_value());
}

TEST_F(QueueTest, AddUsedWritesTheElementAndIndex) {
    const uint16_t head = vq_.add_chain({{vq_.alloc(4), 4, true}});
    ASSERT_TRUE(pop().has_value());
    ASSERT_TRUE(queue_.add_used(memory_, head, 4).has_value());
    EXPECT_EQ(vq_.used_idx(), 1);
    EXPECT_EQ(vq_.used_element(0).id, head);
    EXPECT_EQ(vq_.used_element(0).len, 4u);
    EXPECT_FALSE(queue_.add_used(memory_, kSize, 0).has_value());
}

TEST_F(QueueTest, WrapsAroundTheRingPastSixteenBitIndices) {
    queue_.set_indices(65534, 65534);
    vq_.set_avail_idx(65534);
    for (int i = 0; i < 4; ++i) {
        const uint16_t head = vq_.add_chain({{vq_.alloc(4), 4}});
        auto popped = pop();
        ASSERT_TRUE(popped.has_value());
        EXPECT_EQ(popped->head, head);
        ASSERT_TRUE(queue_.add_used(memory_, head, 0).has_value());
    }
    EXPECT_EQ(vq_.used_idx(), 2);
}

TEST_F(QueueTest, WithoutEventIdxNotifiesUnlessTheDriverSetNoInterrupt) {
    const uint16_t head = vq_.add_chain({{vq_.alloc(4), 4}});
    ASSERT_TRUE(pop().has_value());
    EXPECT_EQ(queue_.needs_notification(memory_).value(), false);  // Nothing used yet.
    ASSERT_TRUE(queue_.add_used(memory_, head, 0).has_value());
    EXPECT_EQ(queue_.needs_notification(memory_).value(), true);

    vq_.set_avail_flags(kAvailFlagNoInterrupt);
    ASSERT_TRUE(queue_.add_used(memory_, head, 0).has_value());
    EXPECT_EQ(queue_.needs_notification(memory_).value(), false);
}

TEST_F(QueueTest, WithEventIdxNotifiesOnlyWhenUsedEventIsCrossed) {
    queue_.set_event_idx(true);
    for (int i = 0; i < 4; ++i) vq_.add_chain({{vq_.alloc(4), 4}});
    vq_.set_used_event(2);  // Interrupt me when the used index passes 2.
    for (int i = 0; i < 2; ++i) {
        auto c = pop();
        ASSERT_TRUE(c.has_value());
        ASSERT_TRUE(queue_.add_used(memory_, c->head, 0).has_value());
    }
    // used idx 0 -> 2: entry 2 not yet written.
    EXPECT_EQ(queue_.needs_notification(memory_).value(), false);
    auto c = pop();
    ASSERT_TRUE(queue_.add_used(memory_, c->head, 0).has_value());
    // used idx 2 -> 3 covers used_event 2.
    EXPECT_EQ(queue_.needs_notification(memory_).value(), true);
    c = pop();
    ASSERT_TRUE(queue_.add_used(memory_, c->head, 0).has_value());
    EXPECT_EQ(queue_.needs_notification(memory_).value(), false);
}

TEST_F(QueueTest, WithEventIdxABatchCrossingUsedEventNotifiesOnce) {
    queue_.set_event_idx(true);
    vq_.set_used_event(1);
    for (int i = 0; i < 3; ++i) {
        vq_.add_chain({{vq_.alloc(4), 4}});
        auto c = pop();
        ASSERT_TRUE(queue_.add_used(memory_, c->head, 0).has_value());
    }
    EXPECT_EQ(queue_.needs_notification(memory_).value(), true);
    EXPECT_EQ(queue_.needs_notification(memory_).value(), false);
}

TEST_F(QueueTest, WithEventIdxAnEmptyPopPublishesAvailEvent) {
    queue_.set_event_idx(true);
    vq_.add_chain({{vq_.alloc(4), 4}});
    vq_.add_chain({{vq_.alloc(4), 4}});
    ASSERT_TRUE(pop().has_value());
    ASSERT_TRUE(pop().has_value());
    EXPECT_FALSE(pop().has_value());
    EXPECT_EQ(vq_.avail_event(), 2);
}

TEST_F(QueueTest, ResetForgetsConfigurationAndIndices) {
    vq_.add_chain({{vq_.alloc(4), 4}});
    ASSERT_TRUE(pop().has_value());
    queue_.reset();
    EXPECT_FALSE(queue_.ready());
    EXPECT_EQ(queue_.size(), 256);
    EXPECT_EQ(queue_.next_avail(), 0);
    EXPECT_EQ(queue_.desc_table().value(), 0u);
}

}  // namespace
}  // namespace ember::virtio
