#include "vmm/base/event_fd.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

TEST(EventFd, AccumulatesWritesUntilRead) {
    auto efd = EventFd::create();
    ASSERT_TRUE(efd);
    ASSERT_TRUE(efd->write(2));
    ASSERT_TRUE(efd->write(3));
    auto v = efd->read();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 5u);
}

TEST(EventFd, ReadingAnEmptyCounterIsEagainNotABlock) {
    auto efd = EventFd::create();
    ASSERT_TRUE(efd);
    auto v = efd->read();
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code().value(), EAGAIN);
}

}  // namespace
}  // namespace ember
