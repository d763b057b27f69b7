// Resource limits for the jailed process (Firecracker's resource_limits.rs). Applied as the last
// step before exec, after the jailer's own writes (the exec copy, the pid file): with fsize=0 set
// earlier, the jailer's own pid file write would raise SIGXFSZ and kill it half way.
#pragma once

#include <sys/resource.h>

#include "jailer/args.h"
#include "vmm/base/result.h"

namespace ember::jailer {

struct AppliedLimits {
    rlimit fsize{};
    rlimit no_file{};
};

// Sets RLIMIT_FSIZE and RLIMIT_NOFILE (soft and hard) to the given values; returns the limits
// they replaced, for restore_rlimits if the exec then fails.
Result<AppliedLimits> apply_rlimits(const ResourceLimits& limits);
// Puts back what apply_rlimits replaced (as root), so the jailer can clean up after a failed exec.
void restore_rlimits(const AppliedLimits& previous);

}  // namespace ember::jailer
