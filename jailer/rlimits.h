// Resource limits for the jailed process (Firecracker's resource_limits.rs).
#pragma once

#include "jailer/args.h"
#include "vmm/base/result.h"

namespace ember::jailer {

// Sets RLIMIT_FSIZE and RLIMIT_NOFILE (soft and hard) to the given values.
Result<void> apply_rlimits(const ResourceLimits& limits);

}  // namespace ember::jailer
