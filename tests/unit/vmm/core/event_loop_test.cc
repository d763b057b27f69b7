#include "vmm/core/event_loop.h"

#include <gtest/gtest.h>

#include "vmm/base/event_fd.h"

namespace ember {
namespace {

TEST(EventLoopTest, StepRunsTheHandlerOfAReadyEventFd) {
    EventLoop loop = EventLoop::create().value();
    EventFd evt = EventFd::create().value();
    int calls = 0;
    uint64_t seen = 0;
    ASSERT_TRUE(loop.add(evt.fd(),
                         [&](uint32_t events) {
                             ++calls;
                             EXPECT_TRUE(events & EPOLLIN);
                             seen = evt.read().value();
                         })
                    .has_value());
    ASSERT_TRUE(evt.write(3).has_value());
    EXPECT_EQ(loop.step(0).value(), 1u);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(seen, 3u);
}

TEST(EventLoopTest, StepWithNothingReadyRunsNoHandler) {
    EventLoop loop = EventLoop::create().value();
    EventFd evt = EventFd::create().value();
    int calls = 0;
    ASSERT_TRUE(loop.add(evt.fd(), [&](uint32_t) { ++calls; }).has_value());
    EXPECT_EQ(loop.step(0).value(), 0u);
    EXPECT_EQ(calls, 0);
}

TEST(EventLoopTest, RefusesTheSameFdTwice) {
    EventLoop loop = EventLoop::create().value();
    EventFd evt = EventFd::create().value();
    ASSERT_TRUE(loop.add(evt.fd(), [](uint32_t) {}).has_value());
    EXPECT_FALSE(loop.add(evt.fd(), [](uint32_t) {}).has_value());
}

TEST(EventLoopTest, RemovedFdIsNoLongerDispatched) {
    EventLoop loop = EventLoop::create().value();
    EventFd evt = EventFd::create().value();
    int calls = 0;
    ASSERT_TRUE(loop.add(evt.fd(), [&](uint32_t) { ++calls; }).has_value());
    ASSERT_TRUE(loop.remove(evt.fd()).has_value());
    ASSERT_TRUE(evt.write(1).has_value());
    EXPECT_EQ(loop.step(0).value(), 0u);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(loop.remove(evt.fd()).has_value());
}

TEST(EventLoopTest, HandlerMayRemoveAnotherReadyFd) {
    EventLoop loop = EventLoop::create().value();
    EventFd a = EventFd::create().value();
    EventFd b = EventFd::create().value();
    int calls = 0;
    ASSERT_TRUE(loop.add(a.fd(),
                         [&](uint32_t) {
                             ++calls;
                             (void)loop.remove(a.fd());
                             (void)loop.remove(b.fd());
                         })
                    .has_value());
    ASSERT_TRUE(loop.add(b.fd(),
                         [&](uint32_t) {
                             ++calls;
                             (void)loop.remove(a.fd());
                             (void)loop.remove(b.fd());
                         })
                    .has_value());
    ASSERT_TRUE(a.write(1).has_value());
    ASSERT_TRUE(b.write(1).has_value());
    EXPECT_EQ(loop.step(0).value(), 1u);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(loop.watched(), 0u);
}

TEST(EventLoopTest, RunReturnsOnceAHandlerRequestsStop) {
    EventLoop loop = EventLoop::create().value();
    EventFd evt = EventFd::create().value();
    ASSERT_TRUE(loop.add(evt.fd(), [&](uint32_t) { loop.request_stop(); }).has_value());
    ASSERT_TRUE(evt.write(1).has_value());
    EXPECT_TRUE(loop.run().has_value());
    EXPECT_TRUE(loop.stop_requested());
}

}  // namespace
}  // namespace ember
