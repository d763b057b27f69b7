#include "jailer/chroot.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/base/unique_fd.h"

namespace ember::jailer {
namespace {

constexpr const char* kOldRoot = "old_root";

}  // namespace

std::string jail_root_path(const std::string& base_dir, const std::string& exec_name,
                           const std::string& id) {
    std::string base = base_dir == "/" ? "" : base_dir;
    return base + "/" + exec_name + "/" + id + "/root";
}

Result<void> create_dirs(const std::string& path) {
    for (size_t pos = 1; pos <= path.size(); ++pos) {
        if (pos != path.size() && path[pos] != '/') continue;
        std::string prefix = path.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0755) == 0) continue;
        if (errno != EEXIST) return Error::from_errno("create jail dir: mkdir", prefix);
        struct stat st {};
        if (::lstat(prefix.c_str(), &st) != 0)
            return Error::from_errno("create jail dir: lstat", prefix);
        if (!S_ISDIR(st.st_mode)) return Error::invalid("create jail dir: not a directory", prefix);
    }
    return ok();
}

Result<void> copy_exec_file(const std::string& source, const std::string& root_dir,
                            const std::string& name, uid_t uid, gid_t gid) {
    struct stat st {};
    if (::lstat(source.c_str(), &st) != 0) return Error::from_errno("exec file: lstat", source);
    if (S_ISLNK(st.st_mode)) return Error::invalid("exec file: refusing a symlink", source);
    if (!S_ISREG(st.st_mode)) return Error::invalid("exec file: not a regular file", source);
    if (st.st_nlink > 1)
        return Error::invalid("exec file: refusing a file with several hard links", source);

    UniqueFd in(::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return Error::from_errno("exec file: open", source);
    // Check what was opened, not just the name: the path may have changed since lstat.
    struct stat opened {};
    if (::fstat(in.get(), &opened) != 0) return Error::from_errno("exec file: fstat", source);
    if (opened.st_dev != st.st_dev || opened.st_ino != st.st_ino || opened.st_nlink > 1) {
        return Error::invalid("exec file: changed while being checked", source);
    }

    UniqueFd root(::open(root_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) return Error::from_errno("jail root: open", root_dir);
    std::string target = root_dir + "/" + name;
    if (::unlinkat(root.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
        return Error::from_errno("exec copy: unlink old copy", target);
    }
    UniqueFd out(::openat(root.get(), name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700));
    if (!out) return Error::from_errno("exec copy: create", target);
    off_t remaining = opened.st_size;
    while (remaining > 0) {
        ssize_t n = ::sendfile(out.get(), in.get(), nullptr, static_cast<size_t>(remaining));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("exec copy: sendfile", target);
        if (n == 0) return Error::invalid("exec copy: source shrank", source);
        remaining -= n;
    }
    if (::fchown(out.get(), uid, gid) != 0) return Error::from_errno("exec copy: fchown", target);
    // The source's permission bits, minus setuid/setgid/sticky.
    if (::fchmod(out.get(), opened.st_mode & 0755) != 0)
        return Error::from_errno("exec copy: fchmod", target);
    return ok();
}

Result<void> pivot_into(const std::string& root_dir) {
    if (::unshare(CLONE_NEWNS) != 0) return Error::from_errno("jail: unshare(CLONE_NEWNS)");
    // Nothing we mount or unmount from here on propagates back to the host.
    if (::mount(nullptr, "/", nullptr, MS_PRIVATE | MS_REC, nullptr) != 0) {
        return Error::from_errno("jail: make / private", "/");
    }
    // pivot_root needs the new root to be a mount point.
    if (::mount(root_dir.c_str(), root_dir.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        return Error::from_errno("jail: bind mount", root_dir);
    }
    if (::chdir(root_dir.c_str()) != 0) return Error::from_errno("jail: chdir", root_dir);
    if (::mkdir(kOldRoot, 0700) != 0 && errno != EEXIST) {
        return Error::from_errno("jail: mkdir", root_dir + "/" + kOldRoot);
    }
    if (::syscall(SYS_pivot_root, ".", kOldRoot) != 0)
        return Error::from_errno("jail: pivot_root", root_dir);
    if (::chdir("/") != 0) return Error::from_errno("jail: chdir", "/");
    if (::umount2(kOldRoot, MNT_DETACH) != 0)
        return Error::from_errno("jail: umount old root", kOldRoot);
    if (::rmdir(kOldRoot) != 0) return Error::from_errno("jail: rmdir", kOldRoot);
    if (::chroot(".") != 0) return Error::from_errno("jail: chroot", "/");
    return ok();
}

}  // namespace ember::jailer
