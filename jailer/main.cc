// ember-jailer: builds a jail (chroot, namespaces, cgroups, uid/gid, rlimits) and execs ember,
// in the order of Firecracker's jailer (src/jailer/src/env.rs, Env::run).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/chroot.h"
#include "jailer/devices.h"
#include "jailer/env.h"
#include "jailer/jail_lock.h"
#include "jailer/launch_report.h"
#include "jailer/namespaces.h"
#include "jailer/rlimits.h"

namespace ember::jailer {
namespace {

// Replaces the process with the copied exec file; returns only on failure.
Result<void> exec_jailed(const JailerArgs& args, uint64_t start_us, uint64_t start_cpu_us,
                         const LaunchReport& report) {
    std::string path = "/" + args.exec_name();
    std::vector<std::string> argv_text = {path,
                                          "--id",
                                          args.id,
                                          "--start-time-us",
                                          std::to_string(start_us),
                                          "--start-time-cpu-us",
                                          std::to_string(start_cpu_us)};
    argv_text.insert(argv_text.end(), args.extra_args.begin(), args.extra_args.end());
    std::vector<char*> argv;
    argv.reserve(argv_text.size() + 1);
    for (std::string& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    report.mark_exec();
    ::execve(path.c_str(), argv.data(), envp);
    return Error::from_errno("exec", path);
}

Result<void> run(const JailerArgs& args, uint64_t start_us, uint64_t start_cpu_us,
                 LaunchReport& report) {
    const std::string exec_name = args.exec_name();
    const std::string root = jail_root_path(args.chroot_base_dir, exec_name, args.id);
    EMBER_TRY(create_dirs(root));
    // Held until exec; refuses the id of a live jail before anything in it is touched.
    JailLock lock = EMBER_TRY(
        JailLock::acquire(root.substr(0, root.rfind('/')), root, root + "/" + exec_name + ".pid"));
    std::optional<uint32_t> uffd_minor = EMBER_TRY(host_userfaultfd_minor());
    EMBER_TRY(copy_exec_file(args.exec_file, root, exec_name, args.uid, args.gid));
    if (args.netns) EMBER_TRY(join_netns(*args.netns));
    // From here on, an error return destroys `cgroups`, which removes what it made.
    CgroupJail cgroups = EMBER_TRY(CgroupJail::create(args, ::getpid()));
    UniqueFd dev_null;
    if (args.daemonize) dev_null = EMBER_TRY(open_dev_null());
    EMBER_TRY(pivot_into(root));
    EMBER_TRY(create_jail_devices(args.uid, args.gid, uffd_minor));
    // After a fork, the process the user started learns the outcome through `report`.
    if (args.daemonize || args.new_pid_ns) report = EMBER_TRY(LaunchReport::create());
    if (args.daemonize) EMBER_TRY(daemonize(dev_null, report));
    dev_null.reset();
    const std::string pid_file = "/" + exec_name + ".pid";
    if (args.new_pid_ns) {
        EMBER_TRY(enter_new_pid_ns(pid_file, report));
    } else {
        EMBER_TRY(write_pid_file(pid_file, ::getpid()));
    }
    // The jailer's own writes are done: now the limits cannot cut them short.
    AppliedLimits previous_limits = EMBER_TRY(apply_rlimits(args.limits));
    if (auto dropped = drop_privileges(args.uid, args.gid); !dropped) {
        restore_rlimits(previous_limits);
        return dropped.error();
    }
    Result<void> exec_error = exec_jailed(args, start_us, start_cpu_us, report);
    // Root again, so that `cgroups` can move us out and remove its folders.
    if (auto regained = regain_privileges(); !regained) return regained.error();
    restore_rlimits(previous_limits);
    return exec_error;
}

}  // namespace
}  // namespace ember::jailer

int main(int argc, char** argv) {
    using namespace ember::jailer;
    const uint64_t start_us = monotonic_us();
    const uint64_t start_cpu_us = process_cpu_us();
    if (auto clean = sanitize_process(); !clean) {
        std::fprintf(stderr, "ember-jailer: %s\n", clean.error().message().c_str());
        return 1;
    }
    std::vector<std::string_view> args(argv + 1, argv + argc);
    auto parsed = parse_args(args);
    if (!parsed) {
        std::fprintf(stderr, "ember-jailer: %s\n\n%s", parsed.error().message().c_str(), kUsage);
        return 1;
    }
    if (parsed->command == Command::kHelp) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (parsed->command == Command::kVersion) {
        std::printf("ember-jailer v%s\n", EMBER_VERSION);
        return 0;
    }
    LaunchReport report;
    auto result = run(parsed->args, start_us, start_cpu_us, report);
    // run() returns only on failure: success ends in exec. After --daemonize stderr is
    // /dev/null: the report carries the message to the process the user started.
    std::string message = result ? "exec returned" : result.error().message();
    report.report_failure(message);
    std::fprintf(stderr, "ember-jailer: %s\n", message.c_str());
    return 1;
}
