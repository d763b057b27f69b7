#include "jailer/env.h"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <vector>

#include "vmm/base/unique_fd.h"

namespace ember::jailer {
namespace {

uint64_t clock_us(clockid_t clock) {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000ULL +
           static_cast<uint64_t>(ts.tv_nsec) / 1000ULL;
}

// Kernels before 5.9 lack close_range: close what /proc/self/fd lists instead.
Result<void> close_listed_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return Error::from_errno("sanitize: opendir", "/proc/self/fd");
    std::vector<int> fds;
    while (dirent* entry = ::readdir(dir)) {
        int fd = std::atoi(entry->d_name);
        if (fd > 2 && fd != ::dirfd(dir)) fds.push_back(fd);
    }
    ::closedir(dir);
    // Adopting each inherited fd closes it.
    for (int fd : fds) UniqueFd{fd}.reset();
    return ok();
}

}  // namespace

Result<void> sanitize_process() {
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        if (errno != ENOSYS) return Error::from_errno("sanitize: close_range");
        EMBER_TRY(close_listed_fds());
    }
    if (::clearenv() != 0) return Error::from_errno("sanitize: clearenv");
    return ok();
}

uint64_t monotonic_us() { return clock_us(CLOCK_MONOTONIC); }
uint64_t process_cpu_us() { return clock_us(CLOCK_PROCESS_CPUTIME_ID); }

}  // namespace ember::jailer
