// Namespaces and process shape: the network namespace to join, daemonizing, a new pid
// namespace, and the final drop of privileges.
#pragma once

#include <sys/types.h>

#include <string>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::jailer {

// setns(CLONE_NEWNET) into the namespace file at `path` (e.g. /var/run/netns/NAME).
Result<void> join_netns(const std::string& path);

// Opens /dev/null for daemonize(); call before pivot_into (the jail has no /dev/null).
Result<UniqueFd> open_dev_null();

// Detaches from the caller: fork (the parent exits 0), setsid, fork again (the session leader
// exits 0), then /dev/null on stdin, stdout and stderr. Returns in the grandchild.
Result<void> daemonize(const UniqueFd& dev_null);

// Moves the rest of the jail into a new pid namespace: the caller forks a child that is pid 1
// there; the parent writes the child's pid to `pid_file` and exits 0. Returns in the child.
Result<void> enter_new_pid_ns(const std::string& pid_file);

// Writes `pid` in decimal to `path` (created afresh, never through a symlink).
Result<void> write_pid_file(const std::string& path, pid_t pid);

// Drops supplementary groups and sets the real and effective gid and uid, keeping root as the
// saved ids: execve then copies the effective ids into the saved ones, so ember starts with no
// way back to root, while a failed execve can still regain root to undo the cgroups.
Result<void> drop_privileges(uid_t uid, gid_t gid);
// After a failed execve: back to effective root (possible only through the saved ids).
Result<void> regain_privileges();

}  // namespace ember::jailer
