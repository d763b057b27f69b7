#include "devices/rate_limiter.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "vmm/base/log.h"

namespace ember {
namespace {

constexpr uint64_t kNsPerMs = 1'000'000;
// NOLINTNEXTLINE(modernize-use-using): __extension__ (for -Wpedantic) takes only a typedef.
__extension__ typedef unsigned __int128 Uint128;

}  // namespace

std::optional<TokenBucket> TokenBucket::create(const TokenBucketParams& params,
                                               const Clock& clock) {
    if (params.size == 0 || params.refill_time_ms == 0) return std::nullopt;
    uint64_t refill_time_ns = 0;
    if (__builtin_mul_overflow(params.refill_time_ms, kNsPerMs, &refill_time_ns)) {
        return std::nullopt;
    }
    // refill tokens = elapsed_ns * size / refill_time_ns, with the fraction reduced so that the
    // 128-bit product below stays small.
    const uint64_t common = std::gcd(params.size, refill_time_ns);
    return TokenBucket(params, clock, params.size / common, refill_time_ns / common);
}

TokenBucket::TokenBucket(const TokenBucketParams& params, const Clock& clock,
                         uint64_t processed_capacity, uint64_t processed_refill_time)
    : clock_(&clock),
      size_(params.size),
      initial_one_time_burst_(params.one_time_burst),
      refill_time_ms_(params.refill_time_ms),
      one_time_burst_(params.one_time_burst),
      budget_(params.size),
      last_update_ns_(clock.now_ns()),
      processed_capacity_(processed_capacity),
      processed_refill_time_(processed_refill_time) {}

void TokenBucket::auto_replenish() {
    const uint64_t now = clock_->now_ns();
    const uint64_t delta = now - last_update_ns_;
    if (delta >= refill_time_ms_ * kNsPerMs) {
        budget_ = size_;
        last_update_ns_ = now;
        return;
    }
    const Uint128 capacity = processed_capacity_;
    const Uint128 refill = processed_refill_time_;
    const Uint128 tokens = static_cast<Uint128>(delta) * capacity / refill;
    // Advance last_update only by the time the whole tokens took (rounded up), carrying the
    // fraction of a token over to the next call.
    Uint128 adjustment = tokens * refill / capacity;
    if ((tokens * refill) % capacity != 0) adjustment += 1;
    last_update_ns_ += static_cast<uint64_t>(adjustment);
    uint64_t sum = 0;
    if (__builtin_add_overflow(budget_, static_cast<uint64_t>(tokens), &sum)) sum = UINT64_MAX;
    budget_ = std::min(sum, size_);
}

BucketReduction TokenBucket::reduce(uint64_t tokens) {
    if (one_time_burst_ > 0) {
        if (one_time_burst_ >= tokens) {
            one_time_burst_ -= tokens;
            last_update_ns_ = clock_->now_ns();
            return BucketReduction::kSuccess;
        }
        tokens -= one_time_burst_;
        one_time_burst_ = 0;
    }
    if (tokens > budget_) {
        auto_replenish();
        if (tokens > size_) {
            // More than a whole bucket: let it through, empty the bucket, and report by how many
            // bucket sizes it overdrew so the limiter can block for that long.
            tokens -= budget_;
            budget_ = 0;
            overconsumption_ratio_ = static_cast<double>(tokens) / static_cast<double>(size_);
            return BucketReduction::kOverConsumption;
        }
        if (tokens > budget_) return BucketReduction::kFailure;
    }
    budget_ -= tokens;
    return BucketReduction::kSuccess;
}

void TokenBucket::force_replenish(uint64_t tokens) {
    // Still in the burst interval: the tokens go back to the burst (Firecracker lets the rare
    // split between burst and budget slide, and so does Ember).
    if (one_time_burst_ > 0) {
        uint64_t sum = 0;
        if (__builtin_add_overflow(one_time_burst_, tokens, &sum)) sum = UINT64_MAX;
        one_time_burst_ = std::min(sum, initial_one_time_burst_);
        return;
    }
    uint64_t sum = 0;
    if (__builtin_add_overflow(budget_, tokens, &sum)) sum = UINT64_MAX;
    budget_ = std::min(sum, size_);
}

void TokenBucket::reset() {
    budget_ = size_;
    last_update_ns_ = clock_->now_ns();
}

TokenBucketState TokenBucket::state() const {
    const uint64_t now = clock_->now_ns();
    // A clock behind last_update (which a fake clock can be) counts as no time passed.
    return {.budget = budget_,
            .one_time_burst = one_time_burst_,
            .elapsed_ns = now > last_update_ns_ ? now - last_update_ns_ : 0};
}

void TokenBucket::restore(const TokenBucketState& state) {
    budget_ = std::min(state.budget, size_);
    one_time_burst_ = std::min(state.one_time_burst, initial_one_time_burst_);
    // create() checked that the refill time fits in nanoseconds. Not reaching back before the
    // clock's zero keeps last_update <= now, which auto_replenish() relies on.
    const uint64_t now = clock_->now_ns();
    last_update_ns_ = now - std::min({state.elapsed_ns, refill_time_ms_ * kNsPerMs, now});
}

Result<RateLimiter> RateLimiter::create(const TokenBucketParams& bandwidth,
                                        const TokenBucketParams& ops, const Clock& clock) {
    // The timer exists even when both buckets are off: a later PATCH may enable them, and the
    // seccomp filter may forbid creating it then.
    auto timer = EMBER_TRY(TimerFd::create());
    return RateLimiter(TokenBucket::create(bandwidth, clock), TokenBucket::create(ops, clock),
                       std::move(timer), clock);
}

void RateLimiter::activate_timer(std::chrono::milliseconds duration) {
    auto armed = timer_.arm_oneshot(duration);
    if (!armed) {
        // Our own timerfd refusing a relative one-shot cannot happen short of a kernel bug.
        EMBER_ERROR("rate limiter: {}", armed.error().message());
        std::abort();
    }
    timer_active_ = true;
    last_timer_duration_ = duration;
}

bool RateLimiter::consume(uint64_t tokens, TokenType type) {
    if (timer_active_) return false;
    std::optional<TokenBucket>& bucket = type == TokenType::kBytes ? bandwidth_ : ops_;
    if (!bucket) return true;
    switch (bucket->reduce(tokens)) {
        case BucketReduction::kFailure: activate_timer(kRefillTimerDuration); return false;
        case BucketReduction::kSuccess: return true;
        case BucketReduction::kOverConsumption:
            activate_timer(std::chrono::milliseconds(static_cast<uint64_t>(
                bucket->overconsumption_ratio() * static_cast<double>(bucket->refill_time_ms()))));
            return true;
    }
    return true;
}

void RateLimiter::manual_replenish(uint64_t tokens, TokenType type) {
    std::optional<TokenBucket>& bucket = type == TokenType::kBytes ? bandwidth_ : ops_;
    if (bucket) bucket->force_replenish(tokens);
}

Result<void> RateLimiter::on_timer_event() {
    const uint64_t expirations = EMBER_TRY(timer_.read());
    if (expirations == 0) {
        return Error::invalid("rate limiter", "timer event without an expired timer");
    }
    timer_active_ = false;
    return ok();
}

void RateLimiter::update_buckets(const BucketUpdate& bandwidth, const BucketUpdate& ops) {
    auto apply = [this](std::optional<TokenBucket>& bucket, const BucketUpdate& update) {
        switch (update.kind) {
            case BucketUpdate::Kind::kNone: break;
            case BucketUpdate::Kind::kDisabled: bucket.reset(); break;
            case BucketUpdate::Kind::kUpdate:
                bucket = TokenBucket::create(update.params, *clock_);
                break;
        }
    };
    apply(bandwidth_, bandwidth);
    apply(ops_, ops);
}

RateLimiterState RateLimiter::save_state() const {
    RateLimiterState state;
    if (bandwidth_) state.bandwidth = bandwidth_->state();
    if (ops_) state.ops = ops_->state();
    return state;
}

void RateLimiter::restore_state(const RateLimiterState& state) {
    if (bandwidth_ && state.bandwidth) bandwidth_->restore(*state.bandwidth);
    if (ops_ && state.ops) ops_->restore(*state.ops);
}

}  // namespace ember
