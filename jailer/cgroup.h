// The VM's cgroups (Firecracker's cgroup.rs): v1, one folder per controller hierarchy that a
// --cgroup file names; v2, one folder in the unified hierarchy with the controllers enabled down
// the path. Every folder is `<mount>/<parent cgroup>/<id>`.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "jailer/args.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::jailer {

struct MountEntry {
    std::string path;
    std::string fstype;
    std::vector<std::string> options;
};

// Parses /proc/mounts (or /proc/self/mounts) text.
std::vector<MountEntry> parse_mounts(std::string_view text);

// Owns the cgroup folders the jailer made. Unless released (ember was exec'd), its destructor
// moves the process back to the cgroups it came from and removes every folder it created, so a
// failed jail leaves no half-made cgroup behind. Works after pivot_into: it keeps an fd to each
// hierarchy's mount.
class CgroupJail {
public:
    // Creates the folders, writes the settings and moves `pid` in; on failure undoes all of it.
    static Result<CgroupJail> create(const JailerArgs& args, pid_t pid);

    CgroupJail(CgroupJail&&) = default;
    CgroupJail& operator=(CgroupJail&&) = delete;
    CgroupJail(const CgroupJail&) = delete;
    CgroupJail& operator=(const CgroupJail&) = delete;
    ~CgroupJail() { rollback(); }

    // Keeps the cgroups: the jailed process lives in them from now on.
    void release() { hierarchies_.clear(); }
    // Moves this process out and removes the created folders (also done by the destructor).
    void rollback();

    // The host paths of the VM's cgroup folders.
    std::vector<std::string> leaf_paths() const;

private:
    struct Hierarchy {
        UniqueFd mount_dir;      // O_PATH fd of the hierarchy's mount point
        std::string mount_path;  // for messages
        std::vector<std::string> controllers;
        std::string original;              // the process's cgroup before, relative to the mount
        std::string leaf;                  // `<parent>/<id>`, relative to the mount
        std::vector<std::string> created;  // folders made, outermost first
        bool joined = false;
    };

    CgroupJail() = default;
    Result<void> setup_v1(const JailerArgs& args, pid_t pid, const std::vector<MountEntry>& mounts,
                          std::string_view self_cgroup);
    Result<void> setup_v2(const JailerArgs& args, pid_t pid, const std::vector<MountEntry>& mounts,
                          std::string_view self_cgroup);
    Result<void> make_leaf(Hierarchy& h);

    std::vector<Hierarchy> hierarchies_;
    CgroupVersion version_ = CgroupVersion::kV1;
};

}  // namespace ember::jailer
