// The rate limiter's part of the block and net device blobs: its configuration (vmm/config's
// RateLimiterConfig) and its buckets' state (RateLimiterState), each an optional nested field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "devices/rate_limiter.h"
#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/persist/blob_reader.h"
#include "vmm/persist/state_fields.h"

namespace ember::snapshot {

// A configured limiter is written as a nested field `tag`; none writes nothing and reads back as
// std::nullopt.
void write_optional_rate_limiter(FieldWriter& w, uint32_t tag,
                                 const std::optional<RateLimiterConfig>& l);
Result<void> read_optional_rate_limiter(const BlobReader& r, uint32_t tag, const char* name,
                                        std::optional<RateLimiterConfig>& out);

// A limiter without enabled buckets writes nothing, as the snapshots from before the state was
// saved; a missing field reads as no state, and the restored buckets start full. Any values
// decode: TokenBucket::restore clamps them to the configuration.
void write_limiter_state(FieldWriter& w, uint32_t tag, const RateLimiterState& l);
Result<void> read_limiter_state(const BlobReader& r, uint32_t tag, const char* name,
                                RateLimiterState& out);

// ", <name> tokens left: bytes B, ops O (+N burst)" for the buckets with saved state, or nothing.
std::string limiter_summary(std::string_view name, const RateLimiterState& l);

}  // namespace ember::snapshot
