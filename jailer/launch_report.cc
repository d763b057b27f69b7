#include "jailer/launch_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ember::jailer {
namespace {

constexpr char kExecMarker = '\x01';

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // The reader is gone: nobody left to tell.
        text.remove_prefix(static_cast<size_t>(n));
    }
}

}  // namespace

Result<LaunchReport> LaunchReport::create() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno("launch report: pipe2");
    LaunchReport report;
    report.read_.reset(fds[0]);
    report.write_.reset(fds[1]);
    return report;
}

Result<void> LaunchReport::wait_for_exec() {
    write_.reset();
    std::string text;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(read_.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("launch report: read");
        if (n == 0) break;
        size_t room = kMaxLaunchReportBytes - text.size();
        text.append(buf, std::min(room, static_cast<size_t>(n)));
    }
    read_.reset();
    bool reached_exec = !text.empty() && text.front() == kExecMarker;
    if (reached_exec) text.erase(0, 1);
    if (!text.empty()) return Error::invalid("jailed process failed", text);
    if (!reached_exec) return Error::invalid("jailed process died before exec");
    return ok();
}

void LaunchReport::mark_exec() const {
    if (active()) write_all(write_.get(), std::string_view(&kExecMarker, 1));
}

void LaunchReport::report_failure(std::string_view message) const {
    if (active()) write_all(write_.get(), message);
}

}  // namespace ember::jailer
