#include "jailer/jail_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace ember::jailer {

std::optional<pid_t> read_pid_file(const std::string& pid_file) {
    // O_NONBLOCK: a FIFO left in the jail must not stall the jailer.
    UniqueFd fd(::open(pid_file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return std::nullopt;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    char buf[kMaxPidFileBytes + 1];
    ssize_t n;
    do {
        n = ::pread(fd.get(), buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0 || static_cast<size_t>(n) > kMaxPidFileBytes) return std::nullopt;
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(buf, buf + n, pid);
    if (ec != std::errc() || end != buf + n || pid <= 0) return std::nullopt;
    return pid;
}

bool is_rooted_in(pid_t pid, const std::string& root_dir) {
    // Comparing the roots, not just liveness, tells a reused pid from the jail's own process.
    struct stat theirs {
    }, jail{};
    std::string proc_root = "/proc/" + std::to_string(pid) + "/root";
    if (::stat(proc_root.c_str(), &theirs) != 0) return false;
    if (::stat(root_dir.c_str(), &jail) != 0) return false;
    return theirs.st_dev == jail.st_dev && theirs.st_ino == jail.st_ino;
}

Result<JailLock> JailLock::acquire(const std::string& jail_dir, const std::string& root_dir,
                                   const std::string& pid_file) {
    UniqueFd dir(::open(jail_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return Error::from_errno("jail lock: open", jail_dir);
    if (::flock(dir.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) return Error::from_errno("jail lock: flock", jail_dir);
        return Error(std::make_error_code(std::errc::device_or_resource_busy), "jail in use",
                     root_dir + " is being set up by another ember-jailer");
    }
    if (std::optional<pid_t> pid = read_pid_file(pid_file); pid && is_rooted_in(*pid, root_dir)) {
        return Error(std::make_error_code(std::errc::device_or_resource_busy), "jail in use",
                     root_dir + " is in use by pid " + std::to_string(*pid) +
                         " (pick another --id, or stop that process first)");
    }
    return JailLock(std::move(dir));
}

}  // namespace ember::jailer
