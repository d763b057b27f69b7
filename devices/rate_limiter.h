// TokenBucket and RateLimiter: Firecracker's rate limiter (src/vmm/src/rate_limiter/mod.rs),
// arithmetic for arithmetic. A RateLimiter owns a timerfd that the event loop watches; while the
// timer is armed every consume() fails, and when it fires the device resumes the throttled queue.
// Thread: the vmm thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "vmm/base/clock.h"
#include "vmm/base/result.h"
#include "vmm/base/timer_fd.h"

namespace ember {

enum class BucketReduction { kFailure, kSuccess, kOverConsumption };

struct TokenBucketParams {
    uint64_t size = 0;
    uint64_t one_time_burst = 0;
    uint64_t refill_time_ms = 0;
};

// A bucket's runtime state for snapshots, as Firecracker's TokenBucketState: the tokens left and
// how long before the save the bucket last refilled (an absolute time means nothing to another
// process). The size, burst and refill time come from the configuration saved beside it.
struct TokenBucketState {
    uint64_t budget = 0;
    uint64_t one_time_burst = 0;  // What is left of the initial burst.
    uint64_t elapsed_ns = 0;
    bool operator==(const TokenBucketState&) const = default;
};

class TokenBucket {
public:
    // std::nullopt when size or refill time is zero (limiting disabled) or the refill time
    // overflows in nanoseconds, as Firecracker's TokenBucket::new.
    static std::optional<TokenBucket> create(const TokenBucketParams& params,
                                             const Clock& clock = SteadyClock::instance());

    // Takes `tokens`: one-time burst first, then the budget, replenishing by elapsed time when
    // the budget runs short. kOverConsumption lets a request larger than the bucket through and
    // empties it; overconsumption_ratio() then says by how many bucket sizes it overdrew.
    BucketReduction reduce(uint64_t tokens);
    // Gives back tokens for work that could not be done.
    void force_replenish(uint64_t tokens);
    // Back to a full budget and the initial burst.
    void reset();
    TokenBucketState state() const;
    // Applies a saved state to a bucket made from the saved configuration. The state is untrusted
    // (it comes from a snapshot file): the budget is clamped to the size, the burst to the initial
    // burst and the elapsed time to one refill time (longer refills the bucket fully anyway).
    void restore(const TokenBucketState& state);

    uint64_t capacity() const { return size_; }
    uint64_t budget() const { return budget_; }
    uint64_t one_time_burst() const { return one_time_burst_; }
    uint64_t initial_one_time_burst() const { return initial_one_time_burst_; }
    uint64_t refill_time_ms() const { return refill_time_ms_; }
    uint64_t processed_capacity() const { return processed_capacity_; }
    uint64_t processed_refill_time() const { return processed_refill_time_; }
    uint64_t last_update_ns() const { return last_update_ns_; }
    double overconsumption_ratio() const { return overconsumption_ratio_; }

private:
    TokenBucket(const TokenBucketParams& params, const Clock& clock, uint64_t processed_capacity,
                uint64_t processed_refill_time);
    void auto_replenish();

    const Clock* clock_;
    uint64_t size_;
    uint64_t initial_one_time_burst_;
    uint64_t refill_time_ms_;
    uint64_t one_time_burst_;
    uint64_t budget_;
    uint64_t last_update_ns_;
    uint64_t processed_capacity_;
    uint64_t processed_refill_time_;
    double overconsumption_ratio_ = 0;
};

enum class TokenType { kBytes, kOps };

// A limiter's runtime state for snapshots: one entry per enabled bucket. An older snapshot has
// none, and the restored buckets start full as they did then.
struct RateLimiterState {
    std::optional<TokenBucketState> bandwidth;
    std::optional<TokenBucketState> ops;
    bool operator==(const RateLimiterState&) const = default;
};

// How PATCH changes one bucket: leave it, replace it, or (size 0) disable it.
struct BucketUpdate {
    enum class Kind { kNone, kDisabled, kUpdate };
    Kind kind = Kind::kNone;
    TokenBucketParams params;

    static BucketUpdate none() { return {}; }
    // Firecracker's semantics: a bucket of size 0 or refill time 0 turns limiting off.
    static BucketUpdate from(const TokenBucketParams& p) {
        if (p.size == 0 || p.refill_time_ms == 0) return {Kind::kDisabled, p};
        return {Kind::kUpdate, p};
    }
};

class RateLimiter {
public:
    // Firecracker's REFILL_TIMER_DURATION: how long a failed consume() blocks the limiter.
    static constexpr std::chrono::milliseconds kRefillTimerDuration{100};

    static Result<RateLimiter> create(const TokenBucketParams& bandwidth,
                                      const TokenBucketParams& ops,
                                      const Clock& clock = SteadyClock::instance());

    // False when the timer is armed or the bucket lacks tokens (then arms the timer for 100 ms);
    // an overconsumption succeeds and blocks the limiter for ratio * refill_time ms.
    bool consume(uint64_t tokens, TokenType type);
    void manual_replenish(uint64_t tokens, TokenType type);
    bool is_blocked() const { return timer_active_; }
    // Call when timer_fd() is readable; an error if it had not fired (a spurious event).
    Result<void> on_timer_event();
    void update_buckets(const BucketUpdate& bandwidth, const BucketUpdate& ops);

    // The timer is not saved: a restored limiter is unblocked, and a drained bucket blocks it
    // again at the next consume().
    RateLimiterState save_state() const;
    // Into a limiter made from the snapshot's configuration. A bucket with no saved state stays
    // full; saved state for a bucket the configuration disables is ignored. Never fails: see
    // TokenBucket::restore for the clamping.
    void restore_state(const RateLimiterState& state);

    const TokenBucket* bandwidth() const { return bandwidth_ ? &*bandwidth_ : nullptr; }
    const TokenBucket* ops() const { return ops_ ? &*ops_ : nullptr; }
    int timer_fd() const { return timer_.fd(); }
    // The duration the timer was last armed for, for tests and logs.
    std::chrono::milliseconds last_timer_duration() const { return last_timer_duration_; }

private:
    RateLimiter(std::optional<TokenBucket> bandwidth, std::optional<TokenBucket> ops, TimerFd timer,
                const Clock& clock)
        : bandwidth_(bandwidth), ops_(ops), timer_(std::move(timer)), clock_(&clock) {}
    void activate_timer(std::chrono::milliseconds duration);

    std::optional<TokenBucket> bandwidth_;
    std::optional<TokenBucket> ops_;
    TimerFd timer_;
    const Clock* clock_;
    bool timer_active_ = false;
    std::chrono::milliseconds last_timer_duration_{0};
};

}  // namespace ember
