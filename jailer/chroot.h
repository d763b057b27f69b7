// The jail's file system: `<base>/<exec name>/<id>/root`, the copied exec file, and the
// pivot_root into it (Firecracker's chroot.rs).
#pragma once

#include <sys/types.h>

#include <string>

#include "vmm/base/result.h"

namespace ember::jailer {

// `<base>/<exec name>/<id>/root`.
std::string jail_root_path(const std::string& base_dir, const std::string& exec_name,
                           const std::string& id);

// mkdir -p with mode 0755 (existing folders are fine, symlinks are not followed).
Result<void> create_dirs(const std::string& path);

// Checks the exec file (lstat: a regular file, not a symlink, one link only) and copies it into
// the jail root as `<root>/<name>`, owned by uid:gid. An existing file of that name is replaced,
// never written through (a previous jailed process could have left a symlink there).
Result<void> copy_exec_file(const std::string& source, const std::string& root_dir,
                            const std::string& name, uid_t uid, gid_t gid);

// Enters a new mount namespace, makes / private recursively, bind-mounts `root_dir` onto itself,
// pivot_roots into it and detaches the old root. Afterwards `/` is the jail root.
Result<void> pivot_into(const std::string& root_dir);

}  // namespace ember::jailer
