// The device nodes and folders ember needs inside the jail (run after pivot_into).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "vmm/base/result.h"

namespace ember::jailer {

// The misc minor of /dev/userfaultfd from /proc/misc text, if the host has the device.
std::optional<uint32_t> userfaultfd_minor(std::string_view proc_misc);

// Reads /proc/misc (call before pivot_into: the jail has no /proc).
Result<std::optional<uint32_t>> host_userfaultfd_minor();

// Creates and chowns `/`, /dev, /dev/net and /run, then the nodes /dev/kvm (10:232),
// /dev/net/tun (10:200), /dev/urandom (1:9) and, when `uffd_minor` is set, /dev/userfaultfd,
// each mode 0600 and owned by uid:gid.
Result<void> create_jail_devices(uid_t uid, gid_t gid, std::optional<uint32_t> uffd_minor);

}  // namespace ember::jailer
