#include "devices/rate_limiter_persist.h"

#include <fmt/core.h>

#include <vector>

namespace ember::snapshot {
namespace {

// Field tags, one enum per struct. Never renumber or reuse a tag: add new ones at the end.
namespace token_bucket_tag {
enum : uint32_t { kSize = 1, kOneTimeBurst = 2, kRefillTimeMs = 3 };
}
namespace token_bucket_state_tag {
enum : uint32_t { kBudget = 1, kOneTimeBurst = 2, kElapsedNs = 3 };
}
// Both RateLimiterConfig and RateLimiterState.
namespace rate_limiter_tag {
enum : uint32_t { kBandwidth = 1, kOps = 2 };
}

std::vector<uint8_t> encode_token_bucket(const TokenBucketConfig& b) {
    FieldWriter w;
    w.u64(token_bucket_tag::kSize, b.size);
    w.u64(token_bucket_tag::kOneTimeBurst, b.one_time_burst);
    w.u64(token_bucket_tag::kRefillTimeMs, b.refill_time_ms);
    return w.take();
}

Result<void> decode_token_bucket(const BlobReader& r, TokenBucketConfig& b) {
    EMBER_TRY(r.u64(token_bucket_tag::kSize, "size", b.size));
    EMBER_TRY(r.u64(token_bucket_tag::kOneTimeBurst, "one_time_burst", b.one_time_burst));
    EMBER_TRY(r.u64(token_bucket_tag::kRefillTimeMs, "refill_time_ms", b.refill_time_ms));
    return ok();
}

// Any values: TokenBucket::restore clamps them to the configuration.
std::vector<uint8_t> encode_token_bucket(const TokenBucketState& b) {
    FieldWriter w;
    w.u64(token_bucket_state_tag::kBudget, b.budget);
    w.u64(token_bucket_state_tag::kOneTimeBurst, b.one_time_burst);
    w.u64(token_bucket_state_tag::kElapsedNs, b.elapsed_ns);
    return w.take();
}

Result<void> decode_token_bucket(const BlobReader& r, TokenBucketState& b) {
    EMBER_TRY(r.u64(token_bucket_state_tag::kBudget, "budget", b.budget));
    EMBER_TRY(r.u64(token_bucket_state_tag::kOneTimeBurst, "one_time_burst", b.one_time_burst));
    EMBER_TRY(r.u64(token_bucket_state_tag::kElapsedNs, "elapsed_ns", b.elapsed_ns));
    return ok();
}

// Limiter is RateLimiterConfig or RateLimiterState: an optional bucket for bytes and one for ops.
template <typename Limiter>
std::vector<uint8_t> encode_rate_limiter(const Limiter& l) {
    FieldWriter w;
    if (l.bandwidth) w.bytes(rate_limiter_tag::kBandwidth, encode_token_bucket(*l.bandwidth));
    if (l.ops) w.bytes(rate_limiter_tag::kOps, encode_token_bucket(*l.ops));
    return w.take();
}

template <typename Bucket>
Result<void> read_optional_bucket(const BlobReader& r, uint32_t tag, const char* name,
                                  std::optional<Bucket>& out) {
    out.reset();
    if (auto nested = EMBER_TRY(r.optional_nested(tag, name))) {
        EMBER_TRY(decode_token_bucket(*nested, out.emplace()));
    }
    return ok();
}

template <typename Limiter>
Result<Limiter> decode_rate_limiter(const BlobReader& r) {
    Limiter l;
    EMBER_TRY(read_optional_bucket(r, rate_limiter_tag::kBandwidth, "bandwidth", l.bandwidth));
    EMBER_TRY(read_optional_bucket(r, rate_limiter_tag::kOps, "ops", l.ops));
    return l;
}

}  // namespace

void write_optional_rate_limiter(FieldWriter& w, uint32_t tag,
                                 const std::optional<RateLimiterConfig>& l) {
    if (l) w.bytes(tag, encode_rate_limiter(*l));
}

Result<void> read_optional_rate_limiter(const BlobReader& r, uint32_t tag, const char* name,
                                        std::optional<RateLimiterConfig>& out) {
    out.reset();
    if (auto nested = EMBER_TRY(r.optional_nested(tag, name))) {
        out = EMBER_TRY(decode_rate_limiter<RateLimiterConfig>(*nested));
    }
    return ok();
}

void write_limiter_state(FieldWriter& w, uint32_t tag, const RateLimiterState& l) {
    if (l.bandwidth || l.ops) w.bytes(tag, encode_rate_limiter(l));
}

Result<void> read_limiter_state(const BlobReader& r, uint32_t tag, const char* name,
                                RateLimiterState& out) {
    out = {};
    if (auto nested = EMBER_TRY(r.optional_nested(tag, name))) {
        out = EMBER_TRY(decode_rate_limiter<RateLimiterState>(*nested));
    }
    return ok();
}

std::string limiter_summary(std::string_view name, const RateLimiterState& l) {
    std::string out;
    auto bucket = [&out](const char* kind, const std::optional<TokenBucketState>& b) {
        if (!b) return;
        out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kind, b->budget);
        if (b->one_time_burst != 0) out += fmt::format(" (+{} burst)", b->one_time_burst);
    };
    bucket("bytes", l.bandwidth);
    bucket("ops", l.ops);
    return out.empty() ? out : fmt::format(", {} tokens left: {}", name, out);
}

}  // namespace ember::snapshot
