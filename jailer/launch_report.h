// How the process the user started learns whether ember was exec'd. After a fork (--daemonize,
// --new-pid-ns) the process that goes on to exec ember is not the one whose exit status the
// caller sees: it reports over a close-on-exec pipe instead. A marker byte written just before
// execve plus end-of-file (every writer gone: exec'd or exited) means success; an error message,
// or end-of-file without the marker (a writer killed by a signal), means failure.
#pragma once

#include <string_view>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::jailer {

// At most this many bytes of report are read; the rest of a longer message is dropped.
inline constexpr size_t kMaxLaunchReportBytes = 4096;

class LaunchReport {
public:
    LaunchReport() = default;  // Inactive: nothing to report to.
    static Result<LaunchReport> create();

    bool active() const { return write_.valid(); }
    bool has_reader() const { return read_.valid(); }
    // In every process that goes on towards exec: drop the read end.
    void detach_reader() { read_.reset(); }
    // In the waiting process: drops its write end and reads until every writer is gone.
    // Fails with the reported message, or if no writer reached exec.
    Result<void> wait_for_exec();

    // Called right before execve; the pipe closes on exec.
    void mark_exec() const;
    void report_failure(std::string_view message) const;

private:
    UniqueFd read_;
    UniqueFd write_;
};

}  // namespace ember::jailer
