#include "jailer/devices.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "vmm/base/unique_fd.h"

namespace ember::jailer {
namespace {

struct DeviceNode {
    const char* path;
    unsigned major;
    unsigned minor;
};

constexpr DeviceNode kDevices[] = {
    {"/dev/kvm", 10, 232},
    {"/dev/net/tun", 10, 200},
    {"/dev/urandom", 1, 9},
};

Result<void> make_owned_dir(const char* path, uid_t uid, gid_t gid) {
    if (::mkdir(path, 0755) != 0 && errno != EEXIST)
        return Error::from_errno("jail dirs: mkdir", path);
    struct stat st {};
    if (::lstat(path, &st) != 0) return Error::from_errno("jail dirs: lstat", path);
    if (!S_ISDIR(st.st_mode)) return Error::invalid("jail dirs: not a directory", path);
    if (::lchown(path, uid, gid) != 0) return Error::from_errno("jail dirs: chown", path);
    return ok();
}

Result<void> make_node(const char* path, unsigned major, unsigned minor, uid_t uid, gid_t gid) {
    // A leftover from an earlier jail may be anything the jailed user put there: replace it.
    if (::unlink(path) != 0 && errno != ENOENT)
        return Error::from_errno("jail devices: unlink", path);
    if (::mknod(path, S_IFCHR | 0600, makedev(major, minor)) != 0) {
        return Error::from_errno("jail devices: mknod", path);
    }
    if (::lchown(path, uid, gid) != 0) return Error::from_errno("jail devices: chown", path);
    return ok();
}

}  // namespace

std::optional<uint32_t> userfaultfd_minor(std::string_view proc_misc) {
    // Lines are "<minor> <name>", the minor right-aligned.
    while (!proc_misc.empty()) {
        size_t nl = proc_misc.find('\n');
        std::string_view line = proc_misc.substr(0, nl);
        proc_misc = nl == std::string_view::npos ? std::string_view() : proc_misc.substr(nl + 1);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        size_t space = line.find(' ');
        if (space == std::string_view::npos || line.substr(space + 1) != "userfaultfd") continue;
        uint32_t minor = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + space, minor);
        if (ec == std::errc() && end == line.data() + space) return minor;
    }
    return std::nullopt;
}

Result<std::optional<uint32_t>> host_userfaultfd_minor() {
    UniqueFd fd(::open("/proc/misc", O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("read /proc/misc", "/proc/misc");
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    if (n < 0) return Error::from_errno("read /proc/misc", "/proc/misc");
    return userfaultfd_minor(text);
}

Result<void> create_jail_devices(uid_t uid, gid_t gid, std::optional<uint32_t> uffd_minor) {
    for (const char* dir : {"/", "/dev", "/dev/net", "/run"})
        EMBER_TRY(make_owned_dir(dir, uid, gid));
    for (const DeviceNode& node : kDevices) {
        EMBER_TRY(make_node(node.path, node.major, node.minor, uid, gid));
    }
    if (uffd_minor) EMBER_TRY(make_node("/dev/userfaultfd", 10, *uffd_minor, uid, gid));
    return ok();
}

}  // namespace ember::jailer
