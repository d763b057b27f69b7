#include "jailer/rlimits.h"

#include <sys/resource.h>

#include <string>

namespace ember::jailer {
namespace {

Result<void> set_limit(int resource, uint64_t value, const char* name) {
    rlimit limit{};
    limit.rlim_cur = static_cast<rlim_t>(value);
    limit.rlim_max = static_cast<rlim_t>(value);
    if (::setrlimit(resource, &limit) != 0) {
        return Error::from_errno("rlimits: setrlimit", std::string(name) + "=" + std::to_string(value));
    }
    return ok();
}

}  // namespace

Result<void> apply_rlimits(const ResourceLimits& limits) {
    EMBER_TRY(set_limit(RLIMIT_FSIZE, limits.fsize, "fsize"));
    EMBER_TRY(set_limit(RLIMIT_NOFILE, limits.no_file, "no-file"));
    return ok();
}

}  // namespace ember::jailer
