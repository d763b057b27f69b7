// Namespaces and process shape: the network namespace to join, daemonizing, a new pid
// namespace, and the final drop of privileges.
#pragma once

#include <sys/types.h>

#include <string>

#include "jailer/launch_report.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::jailer {

// setns(CLONE_NEWNET) into the namespace file at `path` (e.g. /var/run/netns/NAME).
Result<void> join_netns(const std::string& path);

// Opens /dev/null for daemonize(); call before pivot_into (the jail has no /dev/null).
Result<UniqueFd> open_dev_null();

// Detaches from the caller: fork, setsid, fork again (the session leader exits 0), then
// /dev/null on stdin, stdout and stderr. Returns in the grandchild. The parent waits on the
// active `report` and exits 0 only once the jail's process has reached exec, else prints the
// reported error and exits 1.
Result<void> daemonize(const UniqueFd& dev_null, LaunchReport& report);

// Moves the rest of the jail into a new pid namespace: the caller forks a child that is pid 1
// there; the parent writes the child's pid to `pid_file`, then, if it still has the report's
// reader (not daemonized), waits on it as daemonize's parent does, else exits 0. Returns in the
// child.
Result<void> enter_new_pid_ns(const std::string& pid_file, LaunchReport& report);

// Writes `pid` in decimal to `path` (created afresh, never through a symlink).
Result<void> write_pid_file(const std::string& path, pid_t pid);

// Drops supplementary groups and sets the real and effective gid and uid, keeping root as the
// saved ids: execve then copies the effective ids into the saved ones, so ember starts with no
// way back to root, while a failed execve can still regain root to undo the cgroups.
Result<void> drop_privileges(uid_t uid, gid_t gid);
// After a failed execve: back to effective root (possible only through the saved ids).
Result<void> regain_privileges();

}  // namespace ember::jailer
