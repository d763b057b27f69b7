#include "jailer/rlimits.h"

#include <string>

namespace ember::jailer {
namespace {

Result<void> set_limit(int resource, uint64_t value, const char* name) {
    rlimit limit{};
    limit.rlim_cur = static_cast<rlim_t>(value);
    limit.rlim_max = static_cast<rlim_t>(value);
    if (::setrlimit(resource, &limit) != 0) {
        return Error::from_errno("rlimits: setrlimit",
                                 std::string(name) + "=" + std::to_string(value));
    }
    return ok();
}

}  // namespace

Result<AppliedLimits> apply_rlimits(const ResourceLimits& limits) {
    AppliedLimits previous;
    if (::getrlimit(RLIMIT_FSIZE, &previous.fsize) != 0)
        return Error::from_errno("rlimits: getrlimit", "fsize");
    if (::getrlimit(RLIMIT_NOFILE, &previous.no_file) != 0) {
        return Error::from_errno("rlimits: getrlimit", "no-file");
    }
    EMBER_TRY(set_limit(RLIMIT_FSIZE, limits.fsize, "fsize"));
    if (auto set = set_limit(RLIMIT_NOFILE, limits.no_file, "no-file"); !set) {
        restore_rlimits(previous);
        return set.error();
    }
    return previous;
}

void restore_rlimits(const AppliedLimits& previous) {
    // Best effort: this runs on a path that already failed and reports that failure.
    ::setrlimit(RLIMIT_FSIZE, &previous.fsize);
    ::setrlimit(RLIMIT_NOFILE, &previous.no_file);
}

}  // namespace ember::jailer
