// Firecracker's own TokenBucket/RateLimiter test cases (rate_limiter/mod.rs), with the sleeps
// replaced by steps of a fake clock.
#include "devices/rate_limiter.h"

#include <gtest/gtest.h>
#include <poll.h>

#include "tests/fakes/fake_clock.h"

namespace ember {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

TokenBucket bucket(FakeClock& clock, uint64_t size, uint64_t burst, uint64_t refill_ms) {
    auto tb = TokenBucket::create({size, burst, refill_ms}, clock);
    EXPECT_TRUE(tb.has_value());
    return *tb;
}

TEST(TokenBucket, IsCreatedFullAndRefusesZeroSizeOrRefillTime) {
    FakeClock clock;
    TokenBucket tb = bucket(clock, 1000, 0, 1000);
    EXPECT_EQ(tb.capacity(), 1000u);
    EXPECT_EQ(tb.budget(), 1000u);
    EXPECT_EQ(tb.last_update_ns(), clock.now_ns());
    EXPECT_EQ(tb.processed_capacity(), 1u);
    EXPECT_EQ(tb.processed_refill_time(), 1'000'000u);
    EXPECT_FALSE(TokenBucket::create({0, 1234, 1000}, clock).has_value());
    EXPECT_FALSE(TokenBucket::create({100, 1234, 0}, clock).has_value());
    EXPECT_FALSE(TokenBucket::create({0, 1234, 0}, clock).has_value());
}

TEST(TokenBucket, RefusesRefillTimeThatOverflowsNanoseconds) {
    FakeClock clock;
    EXPECT_FALSE(TokenBucket::create({10, 0, UINT64_MAX / 1'000'000 + 1}, clock).has_value());
    EXPECT_TRUE(TokenBucket::create({10, 0, UINT64_MAX / 1'000'000}, clock).has_value());
}

TEST(TokenBucket, ReducesTheRefillFractionByTheGcd) {
    FakeClock clock;
    const uint64_t thousand = 1000;
    TokenBucket tb =
        bucket(clock, uint64_t{3} * 7 * 11 * 19 * thousand, 0, uint64_t{7} * 11 * 13 * 17);
    EXPECT_EQ(tb.processed_capacity(), 3u * 19);
    EXPECT_EQ(tb.processed_refill_time(), uint64_t{13} * 17 * (1'000'000 / thousand));
}

TEST(TokenBucket, ReducesBurstFirstThenBudgetAndOverconsumes) {
    FakeClock clock;
    TokenBucket tb = bucket(clock, 1000, 0, 1000);
    EXPECT_EQ(tb.reduce(123), BucketReduction::kSuccess);
    EXPECT_EQ(tb.budget(), 1000u - 123);
    EXPECT_EQ(tb.reduce(1000), BucketReduction::kFailure);

    TokenBucket burst = bucket(clock, 1000, 1100, 1000);
    EXPECT_EQ(burst.reduce(1000), BucketReduction::kSuccess);
    EXPECT_EQ(burst.one_time_burst(), 100u);
    EXPECT_EQ(burst.reduce(500), BucketReduction::kSuccess);
    EXPECT_EQ(burst.one_time_burst(), 0u);
    EXPECT_EQ(burst.budget(), 600u);
    EXPECT_EQ(burst.reduce(500), BucketReduction::kSuccess);
    EXPECT_EQ(burst.reduce(500), BucketReduction::kFailure);
    clock.advance(500ms);
    EXPECT_EQ(burst.reduce(500), BucketReduction::kSuccess);
    clock.advance(1000ms);
    EXPECT_EQ(burst.reduce(2500), BucketReduction::kOverConsumption);
    EXPECT_DOUBLE_EQ(burst.overconsumption_ratio(), 1.5);
    EXPECT_EQ(burst.budget(), 0u);

    burst.reset();
    EXPECT_EQ(burst.budget(), 1000u);
    EXPECT_EQ(burst.last_update_ns(), clock.now_ns());
}

TEST(TokenBucket, AutoReplenishesOneTokenPerHundredMilliseconds) {
    // Firecracker's test_token_bucket_auto_replenish_one: 10 tokens per second.
    FakeClock clock;
    TokenBucket tb = bucket(clock, 10, 0, 1000);
    EXPECT_EQ(tb.reduce(10), BucketReduction::kSuccess);
    EXPECT_EQ(tb.budget(), 0u);
    // reduce(size + 1) always replenishes first; a failing reduce(1) shows the budget too.
    clock.advance(10ms);
    EXPECT_EQ(tb.reduce(1), BucketReduction::kFailure);
    clock.advance(10ms);
    EXPECT_EQ(tb.reduce(1), BucketReduction::kFailure);
    clock.advance(80ms);
    EXPECT_EQ(tb.reduce(2), BucketReduction::kFailure);
    EXPECT_EQ(tb.budget(), 1u);
    clock.advance(400ms);
    EXPECT_EQ(tb.reduce(6), BucketReduction::kFailure);
    EXPECT_EQ(tb.budget(), 5u);
    clock.advance(1000ms);
    EXPECT_EQ(tb.reduce(10), BucketReduction::kSuccess);
    EXPECT_EQ(tb.budget(), 0u);
}

TEST(TokenBucket, CarriesFractionsOfATokenOverToTheNextRefill) {
    // 1 token per 100 ms: 150 ms gives 1 token and keeps 50 ms for the next refill.
    FakeClock clock;
    TokenBucket tb = bucket(clock, 10, 0, 1000);
    ASSERT_EQ(tb.reduce(10), BucketReduction::kSuccess);
    clock.advance(150ms);
    EXPECT_EQ(tb.reduce(2), BucketReduction::kFailure);
    EXPECT_EQ(tb.budget(), 1u);
    clock.advance(50ms);
    EXPECT_EQ(tb.reduce(2), BucketReduction::kSuccess);
    EXPECT_EQ(tb.budget(), 0u);
}

TEST(TokenBucket, ForceReplenishRefillsBurstWhileItLastsThenBudgetUpToSize) {
    FakeClock clock;
    TokenBucket tb = bucket(clock, 1000, 100, 1000);
    EXPECT_EQ(tb.reduce(50), BucketReduction::kSuccess);
    tb.force_replenish(500);
    EXPECT_EQ(tb.one_time_burst(), 100u);
    EXPECT_EQ(tb.budget(), 1000u);
    EXPECT_EQ(tb.reduce(700), BucketReduction::kSuccess);
    EXPECT_EQ(tb.one_time_burst(), 0u);
    EXPECT_EQ(tb.budget(), 400u);
    tb.force_replenish(100);
    EXPECT_EQ(tb.budget(), 500u);
    tb.force_replenish(UINT64_MAX);
    EXPECT_EQ(tb.budget(), 1000u);
}

TEST(TokenBucket, RestoredDrainedBucketRefillsOnlyByTheTimeElapsedBeforeAndAfterTheSave) {
    // 1 token per 100 ms. Drained, then saved 250 ms later.
    FakeClock clock;
    TokenBucket tb = bucket(clock, 10, 0, 1000);
    ASSERT_EQ(tb.reduce(10), BucketReduction::kSuccess);
    clock.advance(250ms);
    const TokenBucketState saved = tb.state();
    EXPECT_EQ(saved,
              (TokenBucketState{.budget = 0, .one_time_burst = 0, .elapsed_ns = 250'000'000}));

    // Restored an hour later in another process: the hour does not count, the 250 ms do.
    FakeClock later;
    later.advance(3600s);
    TokenBucket restored = bucket(later, 10, 0, 1000);
    EXPECT_EQ(restored.budget(), 10u);
    restored.restore(saved);
    EXPECT_EQ(restored.budget(), 0u);
    EXPECT_EQ(restored.last_update_ns(), later.now_ns() - 250'000'000);
    later.advance(50ms);
    EXPECT_EQ(restored.reduce(4), BucketReduction::kFailure);
    EXPECT_EQ(restored.budget(), 3u);
    later.advance(1000ms);
    EXPECT_EQ(restored.reduce(10), BucketReduction::kSuccess);
}

TEST(TokenBucket, RestoreKeepsWhatIsLeftOfTheBurst) {
    FakeClock clock;
    TokenBucket tb = bucket(clock, 100, 500, 1000);
    ASSERT_EQ(tb.reduce(450), BucketReduction::kSuccess);
    TokenBucket restored = bucket(clock, 100, 500, 1000);
    restored.restore(tb.state());
    EXPECT_EQ(restored.one_time_burst(), 50u);
    EXPECT_EQ(restored.initial_one_time_burst(), 500u);
    EXPECT_EQ(restored.budget(), 100u);
}

TEST(TokenBucket, RestoreClampsHostileValues) {
    // A refill time of 10 s, longer than the fake clock has run (1 s).
    FakeClock clock;
    TokenBucket tb = bucket(clock, 100, 20, 10'000);
    tb.restore({.budget = UINT64_MAX, .one_time_burst = UINT64_MAX, .elapsed_ns = UINT64_MAX});
    EXPECT_EQ(tb.budget(), 100u);
    EXPECT_EQ(tb.one_time_burst(), 20u);
    EXPECT_EQ(tb.last_update_ns(), 0u);
    EXPECT_EQ(tb.reduce(120), BucketReduction::kSuccess);
    // The 1 s since the clock's zero refilled a tenth of the bucket.
    EXPECT_EQ(tb.reduce(11), BucketReduction::kFailure);
    EXPECT_EQ(tb.budget(), 10u);

    // Elapsed past one refill time counts as one refill time: the bucket is full at the next use.
    clock.advance(20s);
    tb.restore({.budget = 0, .one_time_burst = 0, .elapsed_ns = UINT64_MAX});
    EXPECT_EQ(tb.last_update_ns(), clock.now_ns() - 10'000'000'000);
    EXPECT_EQ(tb.reduce(100), BucketReduction::kSuccess);
}

RateLimiter limiter(FakeClock& clock, TokenBucketParams bandwidth, TokenBucketParams ops) {
    auto l = RateLimiter::create(bandwidth, ops, clock);
    EXPECT_TRUE(l.has_value());
    return std::move(*l);
}

TEST(RateLimiter, WithoutBucketsAlwaysConsumesAndHasNoTimerEvent) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {}, {});
    EXPECT_FALSE(l.is_blocked());
    EXPECT_TRUE(l.consume(UINT64_MAX, TokenType::kOps));
    EXPECT_TRUE(l.consume(UINT64_MAX, TokenType::kBytes));
    EXPECT_FALSE(l.on_timer_event().has_value());
}

TEST(RateLimiter, BlocksOnFailureForTheRefillTimerAndUnblocksWhenItFires) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {1000, 0, 1000}, {});
    EXPECT_TRUE(l.consume(1000, TokenType::kBytes));
    EXPECT_FALSE(l.consume(100, TokenType::kBytes));
    EXPECT_TRUE(l.is_blocked());
    EXPECT_EQ(l.last_timer_duration(), RateLimiter::kRefillTimerDuration);
    // While blocked, even a bucket that would have tokens refuses.
    clock.advance(2000ms);
    EXPECT_FALSE(l.consume(1, TokenType::kBytes));
    EXPECT_FALSE(l.consume(1, TokenType::kOps));

    // The real timerfd fires after 100 ms.
    pollfd pfd{l.timer_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 1000), 1);
    ASSERT_TRUE(l.on_timer_event().has_value());
    EXPECT_FALSE(l.is_blocked());
    EXPECT_TRUE(l.consume(100, TokenType::kBytes));
}

TEST(RateLimiter, OverconsumptionSucceedsAndBlocksForRatioTimesRefillTime) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {}, {100, 0, 200});
    EXPECT_TRUE(l.consume(350, TokenType::kOps));
    EXPECT_TRUE(l.is_blocked());
    // 350 - 100 in the bucket = 250 = 2.5 buckets, times 200 ms.
    EXPECT_EQ(l.last_timer_duration(), std::chrono::milliseconds(500));
}

TEST(RateLimiter, ManualReplenishGivesTokensBack) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {}, {10, 0, 1000});
    EXPECT_TRUE(l.consume(10, TokenType::kOps));
    l.manual_replenish(3, TokenType::kOps);
    EXPECT_EQ(l.ops()->budget(), 3u);
    EXPECT_TRUE(l.consume(3, TokenType::kOps));
}

TEST(RateLimiter, UpdateReplacesDisablesOrKeepsEachBucket) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {1000, 0, 1000}, {10, 0, 1000});
    l.update_buckets(BucketUpdate::from({2000, 0, 500}), BucketUpdate::none());
    ASSERT_NE(l.bandwidth(), nullptr);
    EXPECT_EQ(l.bandwidth()->capacity(), 2000u);
    EXPECT_EQ(l.bandwidth()->refill_time_ms(), 500u);
    ASSERT_NE(l.ops(), nullptr);
    EXPECT_EQ(l.ops()->capacity(), 10u);

    l.update_buckets(BucketUpdate::none(), BucketUpdate::from({0, 0, 0}));
    EXPECT_NE(l.bandwidth(), nullptr);
    EXPECT_EQ(l.ops(), nullptr);
    EXPECT_TRUE(l.consume(UINT64_MAX, TokenType::kOps));
}

TEST(RateLimiter, SavesOneStatePerEnabledBucketAndRestoresAnUnblockedDrainedLimiter) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {1000, 0, 1000}, {});
    EXPECT_TRUE(l.consume(1000, TokenType::kBytes));
    EXPECT_FALSE(l.consume(1, TokenType::kBytes));
    ASSERT_TRUE(l.is_blocked());
    clock.advance(100ms);
    const RateLimiterState saved = l.save_state();
    ASSERT_TRUE(saved.bandwidth.has_value());
    EXPECT_FALSE(saved.ops.has_value());
    EXPECT_EQ(saved.bandwidth->budget, 0u);

    RateLimiter restored = limiter(clock, {1000, 0, 1000}, {});
    restored.restore_state(saved);
    EXPECT_FALSE(restored.is_blocked());
    // 100 ms of a 1 s refill: 100 tokens, not 1000.
    EXPECT_TRUE(restored.consume(100, TokenType::kBytes));
    EXPECT_FALSE(restored.consume(1, TokenType::kBytes));
    EXPECT_TRUE(restored.is_blocked());
}

TEST(RateLimiter, RestoreIgnoresStateForADisabledBucketAndKeepsABucketWithoutStateFull) {
    FakeClock clock;
    RateLimiter l = limiter(clock, {}, {10, 0, 1000});
    const TokenBucketState drained{.budget = 0, .one_time_burst = 0, .elapsed_ns = 0};
    l.restore_state({.bandwidth = drained});
    EXPECT_EQ(l.bandwidth(), nullptr);
    EXPECT_EQ(l.ops()->budget(), 10u);
    EXPECT_TRUE(l.consume(UINT64_MAX, TokenType::kBytes));
    // An older snapshot has no state at all.
    l.restore_state({});
    EXPECT_EQ(l.ops()->budget(), 10u);
    l.restore_state({.ops = drained});
    EXPECT_EQ(l.ops()->budget(), 0u);
}

}  // namespace
}  // namespace ember
