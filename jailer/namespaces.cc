#include "jailer/namespaces.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace ember::jailer {

Result<void> join_netns(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("netns: open", path);
    if (::setns(fd.get(), CLONE_NEWNET) != 0) return Error::from_errno("netns: setns", path);
    return ok();
}

Result<UniqueFd> open_dev_null() {
    UniqueFd fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!fd) return Error::from_errno("daemonize: open", "/dev/null");
    return fd;
}

namespace {

// The end of the process the user started: its exit status is the jail's outcome.
[[noreturn]] void exit_with_report(LaunchReport& report) {
    Result<void> launched = report.wait_for_exec();
    if (!launched) std::fprintf(stderr, "ember-jailer: %s\n", launched.error().message().c_str());
    ::_exit(launched ? 0 : 1);
}

}  // namespace

Result<void> daemonize(const UniqueFd& dev_null, LaunchReport& report) {
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("daemonize: fork");
    if (pid > 0) exit_with_report(report);
    report.detach_reader();
    if (::setsid() < 0) return Error::from_errno("daemonize: setsid");
    // A second fork: the daemon is not a session leader, so it can never get a terminal back.
    pid = ::fork();
    if (pid < 0) return Error::from_errno("daemonize: fork");
    if (pid > 0) ::_exit(0);
    for (int fd = 0; fd <= 2; ++fd) {
        if (::dup2(dev_null.get(), fd) < 0)
            return Error::from_errno("daemonize: dup2", "/dev/null");
    }
    return ok();
}

Result<void> write_pid_file(const std::string& path, pid_t pid) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Error::from_errno("pid file: unlink", path);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return Error::from_errno("pid file: create", path);
    std::string text = std::to_string(pid);
    ssize_t n;
    do {
        n = ::write(fd.get(), text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error::from_errno("pid file: write", path);
    // A short write (a full disk) leaves a pid file nobody could trust.
    if (static_cast<size_t>(n) != text.size())
        return Error::from_errno(ENOSPC, "pid file: short write", path);
    return ok();
}

Result<void> enter_new_pid_ns(const std::string& pid_file, LaunchReport& report) {
    if (::unshare(CLONE_NEWPID) != 0) return Error::from_errno("new pid ns: unshare(CLONE_NEWPID)");
    pid_t child = ::fork();
    if (child < 0) return Error::from_errno("new pid ns: fork");
    if (child == 0) {
        report.detach_reader();
        return ok();
    }
    if (auto written = write_pid_file(pid_file, child); !written) {
        // Nobody would know the child's pid: stop it rather than leave it running unrecorded.
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        return written.error();
    }
    if (report.has_reader()) exit_with_report(report);
    ::_exit(0);
}

Result<void> drop_privileges(uid_t uid, gid_t gid) {
    if (::setgroups(0, nullptr) != 0) return Error::from_errno("drop privileges: setgroups");
    if (::setresgid(gid, gid, 0) != 0) {
        return Error::from_errno("drop privileges: setresgid", std::to_string(gid));
    }
    if (::setresuid(uid, uid, 0) != 0) {
        return Error::from_errno("drop privileges: setresuid", std::to_string(uid));
    }
    return ok();
}

Result<void> regain_privileges() {
    if (::setresuid(static_cast<uid_t>(-1), 0, static_cast<uid_t>(-1)) != 0) {
        return Error::from_errno("regain privileges: setresuid");
    }
    if (::setresgid(static_cast<gid_t>(-1), 0, static_cast<gid_t>(-1)) != 0) {
        return Error::from_errno("regain privileges: setresgid");
    }
    return ok();
}

}  // namespace ember::jailer
