// One jail per id at a time. The jailer holds an flock on the jail's folder
// (`<base>/<exec name>/<id>`, outside the chroot) from before it touches the jail until its exec,
// so a second jailer for the same id meanwhile is refused; after that, a jail whose pid file names
// a live process rooted in that jail is in use and refused. A stale jail (its process gone, or the
// pid reused by a process rooted elsewhere) is reused, as Firecracker reuses any existing jail.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::jailer {

// A pid file longer than this is not one the jailer wrote, and counts as stale.
inline constexpr size_t kMaxPidFileBytes = 32;

class JailLock {
public:
    // Locks `jail_dir` (refusing if another jailer holds it), then refuses
    // if `pid_file` (a host path inside `root_dir`) names a live process whose root is `root_dir`.
    static Result<JailLock> acquire(const std::string& jail_dir, const std::string& root_dir,
                                    const std::string& pid_file);

private:
    explicit JailLock(UniqueFd dir) : dir_(std::move(dir)) {}
    UniqueFd dir_;  // Close-on-exec: the lock ends with ember's exec (or the jailer's exit).
};

// The pid in `pid_file` if it holds only a decimal pid (read without following symlinks).
std::optional<pid_t> read_pid_file(const std::string& pid_file);
// Whether `pid` is alive with `root_dir` as its root directory (same device and inode).
bool is_rooted_in(pid_t pid, const std::string& root_dir);

}  // namespace ember::jailer
