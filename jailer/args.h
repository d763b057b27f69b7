// The jailer's command line, with the flags of Firecracker's jailer (docs/jailer.md).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace ember::jailer {

inline constexpr std::string_view kDefaultChrootBaseDir = "/srv/jailer";
inline constexpr size_t kMaxIdLength = 64;
// Firecracker's defaults: no file size limit, 2048 open files.
inline constexpr uint64_t kDefaultFsizeLimit = RLIM_INFINITY;
inline constexpr uint64_t kDefaultNoFileLimit = 2048;

enum class CgroupVersion : uint8_t { kV1 = 1, kV2 = 2 };

// `--cgroup FILE=VALUE`, e.g. `cpuset.cpus=0`; the controller is the part of FILE before the dot.
struct CgroupSetting {
    std::string file;
    std::string value;
    std::string controller() const { return file.substr(0, file.find('.')); }
};

struct ResourceLimits {
    uint64_t fsize = kDefaultFsizeLimit;
    uint64_t no_file = kDefaultNoFileLimit;
};

struct JailerArgs {
    std::string id;
    std::string exec_file;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string chroot_base_dir{kDefaultChrootBaseDir};
    std::optional<std::string> netns;
    bool daemonize = false;
    bool new_pid_ns = false;
    // Ember's own flag: --uid 0 or --gid 0 is refused without it, since uid 0 would leave ember
    // with every capability of root and gid 0 with root's group access.
    bool allow_root = false;
    std::vector<CgroupSetting> cgroups;
    CgroupVersion cgroup_version = CgroupVersion::kV1;
    // Relative to each cgroup mount; defaults to the exec file's name.
    std::optional<std::string> parent_cgroup;
    ResourceLimits limits;
    // Everything after `--`, passed on to ember.
    std::vector<std::string> extra_args;

    // The file name of --exec-file: the name of the jail's folder and of the copied binary.
    std::string exec_name() const;
    std::string parent_cgroup_or_default() const { return parent_cgroup.value_or(exec_name()); }
};

enum class Command : uint8_t { kRun, kHelp, kVersion };

struct ParsedArgs {
    Command command = Command::kRun;
    JailerArgs args;
};

// Parses argv without argv[0]. Every error names the flag at fault.
Result<ParsedArgs> parse_args(std::span<const std::string_view> argv);

// Letters, digits and hyphens, 1 to 64 characters (Firecracker's rule for --id).
bool is_valid_id(std::string_view id);

extern const char* const kUsage;

}  // namespace ember::jailer
