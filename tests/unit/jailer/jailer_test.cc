// Runs the real ember-jailer binary (as root) against jail_probe, a static program that prints
// what it sees from inside the jail, and checks the jail it was given.
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char* kJailer = EMBER_JAILER_BIN;
constexpr const char* kProbe = EMBER_JAIL_PROBE_BIN;
constexpr const char* kV1Cpu = "/sys/fs/cgroup/cpu";
constexpr const char* kV1Pids = "/sys/fs/cgroup/pids";
constexpr const char* kV1Cpuset = "/sys/fs/cgroup/cpuset";

struct JailerRun {
    int exit_code = -1;
    std::string output;
    std::map<std::string, std::string> seen;  // the probe's key=value lines
};

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The v2 mount, from /proc/mounts.
std::string cgroup2_mount() {
    std::istringstream mounts(read_text("/proc/mounts"));
    std::string dev, path, type, rest;
    while (mounts >> dev >> path >> type && std::getline(mounts, rest)) {
        if (type == "cgroup2") return path;
    }
    return {};
}

class JailerTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(::geteuid(), 0u) << "the jailer tests need root";
        // Daemonized and pid-namespace probes are reparented to us, so we can wait for them.
        ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        char tmpl[] = "/tmp/ember-jailer-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        suffix_ = std::to_string(::getpid());
        id_ = "vm-" + suffix_;
        parent_ = "ember-test-" + suffix_;
        jails_ = base_ + "/jails";
        ASSERT_EQ(::mkdir((base_ + "/bin").c_str(), 0755), 0);
        probe_ = base_ + "/bin/jail_probe";
        copy(kProbe, probe_);
        root_ = jails_ + "/jail_probe/" + id_ + "/root";
    }

    void TearDown() override {
        for (const std::string& mount :
             {std::string(kV1Cpu), std::string(kV1Pids), std::string(kV1Cpuset), cgroup2_mount()}) {
            if (mount.empty()) continue;
            ::rmdir((mount + "/" + parent_ + "/" + id_).c_str());
            ::rmdir((mount + "/" + parent_).c_str());
        }
        std::string cmd = "rm -rf '" + base_ + "'";
        EXPECT_EQ(std::system(cmd.c_str()), 0);
    }

    static void copy(const std::string& from, const std::string& to) {
        std::ifstream in(from, std::ios::binary);
        std::ofstream out(to, std::ios::binary);
        out << in.rdbuf();
        out.close();
        ASSERT_EQ(::chmod(to.c_str(), 0755), 0);
    }

    std::vector<std::string> base_args() const {
        return {"--id",  id_,    "--exec-file",       probe_, "--uid",           "4321",
                "--gid", "4322", "--chroot-base-dir", jails_, "--parent-cgroup", parent_};
    }

    // Runs the jailer in a private mount namespace that has a proc mount inside the jail root
    // (so the probe can read /proc/self/...), collecting everything printed until the last
    // process holding the pipe is gone.
    enum class Orphans : uint8_t { kWait, kLeave };
    JailerRun run_jailer(const std::vector<std::string>& args, bool mount_proc = true,
                         Orphans orphans = Orphans::kWait) {
        JailerRun run;
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return run;
        pid_t pid = ::fork();
        if (pid == 0) {
            ::dup2(pipe_fds[1], 1);
            ::dup2(pipe_fds[1], 2);
            // A stray fd the jailer must close before running the probe.
            ::open("/dev/null", O_RDONLY);
            ::setenv("EMBER_TEST_LEAK", "1", 1);
            if (mount_proc) {
                std::string proc = root_ + "/proc";
                std::string mkdir = "mkdir -p '" + proc + "'";
                if (std::system(mkdir.c_str()) != 0) ::_exit(120);
                if (::unshare(CLONE_NEWNS) != 0) ::_exit(121);
                if (::mount(nullptr, "/", nullptr, MS_PRIVATE | MS_REC, nullptr) != 0) ::_exit(122);
                if (::mount("proc", proc.c_str(), "proc", 0, nullptr) != 0) ::_exit(123);
            }
            std::vector<char*> argv{const_cast<char*>(kJailer)};
            for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(kJailer, argv.data());
            ::_exit(127);
        }
        ::close(pipe_fds[1]);
        char buf[4096];
        ssize_t n;
        while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0)
            run.output.append(buf, static_cast<size_t>(n));
        ::close(pipe_fds[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (orphans == Orphans::kWait) wait_for_orphans();
        parse_probe_output(run.output, run.seen);
        return run;
    }

    // Reaps every descendant reparented to us (daemonized or pid-namespace probes).
    static void wait_for_orphans() {
        while (::waitpid(-1, nullptr, 0) > 0) {
        }
    }

    static void parse_probe_output(const std::string& text,
                                   std::map<std::string, std::string>& seen) {
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line)) {
            size_t eq = line.find('=');
            if (eq != std::string::npos) seen[line.substr(0, eq)] = line.substr(eq + 1);
        }
    }

    std::string base_, jails_, suffix_, id_, parent_, probe_, root_;
};

TEST_F(JailerTest, BuildsAV1JailAndRunsTheCopiedExecutableConfined) {
    auto args = base_args();
    args.insert(args.end(), {"--cgroup", "cpu.shares=512", "--cgroup", "pids.max=10", "--cgroup",
                             "cpuset.cpus=0", "--resource-limit", "no-file=100", "--resource-limit",
                             "fsize=1048576", "--", "--api-sock", "/run/api.sock"});
    JailerRun run = run_jailer(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto& s = run.seen;
    EXPECT_EQ(s.at("uid"), "4321");
    EXPECT_EQ(s.at("euid"), "4321");
    EXPECT_EQ(s.at("gid"), "4322");
    EXPECT_EQ(s.at("egid"), "4322");
    EXPECT_EQ(s.at("groups"), "0");
    // No way back to root: execve turned the saved ids into the jailed ones.
    EXPECT_EQ(s.at("suid"), "4321");
    EXPECT_EQ(s.at("sgid"), "4322");
    EXPECT_EQ(s.at("cwd"), "/");
    EXPECT_EQ(s.at("root"), "dev,jail_probe,jail_probe.pid,proc,run");
    EXPECT_EQ(s.at("kvm"), "c:10:232:4321:4322:600");
    EXPECT_EQ(s.at("tun"), "c:10:200:4321:4322:600");
    EXPECT_EQ(s.at("urandom"), "c:1:9:4321:4322:600");
    bool host_has_uffd = read_text("/proc/misc").find(" userfaultfd\n") != std::string::npos;
    EXPECT_EQ(s.at("uffd") != "missing", host_has_uffd);
    // Only the jail root and the proc mount the test put in it: the host's mounts are gone.
    EXPECT_EQ(s.at("mounts"), "2");
    EXPECT_NE(s.at("cgroup").find(":cpu:/" + parent_ + "/" + id_ + ";"), std::string::npos)
        << s.at("cgroup");
    EXPECT_NE(s.at("cgroup").find(":pids:/" + parent_ + "/" + id_ + ";"), std::string::npos)
        << s.at("cgroup");
    EXPECT_EQ(read_text(std::string(kV1Cpu) + "/" + parent_ + "/" + id_ + "/cpu.shares"), "512\n");
    EXPECT_EQ(read_text(std::string(kV1Pids) + "/" + parent_ + "/" + id_ + "/pids.max"), "10\n");
    // cpuset.mems was empty in the new folders: inherited from the root so the task could join.
    std::string cpuset_leaf = std::string(kV1Cpuset) + "/" + parent_ + "/" + id_;
    EXPECT_NE(s.at("cgroup").find(":cpuset:/" + parent_ + "/" + id_ + ";"), std::string::npos)
        << s.at("cgroup");
    EXPECT_EQ(read_text(cpuset_leaf + "/cpuset.cpus"), "0\n");
    EXPECT_EQ(read_text(cpuset_leaf + "/cpuset.mems"),
              read_text(std::string(kV1Cpuset) + "/cpuset.mems"));
    EXPECT_EQ(s.at("nofile"), "100");
    EXPECT_EQ(s.at("fsize"), "1048576");
    EXPECT_EQ(s.at("env"), "0");
    EXPECT_EQ(s.at("fds"), "0,1,2");
    EXPECT_NE(s.at("pid"), "1");
    EXPECT_EQ(read_text(root_ + "/jail_probe.pid"), s.at("pid"));
    EXPECT_EQ(s.at("args").rfind("/jail_probe --id " + id_ + " --start-time-us ", 0), 0u)
        << s.at("args");
    EXPECT_NE(s.at("args").find(" --start-time-cpu-us "), std::string::npos);
    EXPECT_NE(s.at("args").find(" --api-sock /run/api.sock"), std::string::npos);
    // A copy, not a link, owned by the jailed user.
    struct stat original {
    }, copied{};
    ASSERT_EQ(::stat(probe_.c_str(), &original), 0);
    ASSERT_EQ(::stat((root_ + "/jail_probe").c_str(), &copied), 0);
    EXPECT_NE(original.st_ino, copied.st_ino);
    EXPECT_EQ(copied.st_uid, 4321u);
    EXPECT_EQ(copied.st_size, original.st_size);
}

TEST_F(JailerTest, BuildsAV2JailInANewPidNamespace) {
    std::string unified = cgroup2_mount();
    ASSERT_FALSE(unified.empty()) << "no cgroup2 mount";
    auto args = base_args();
    args.insert(args.end(),
                {"--cgroup-version", "2", "--cgroup", "cgroup.max.descendants=3", "--new-pid-ns"});
    JailerRun run = run_jailer(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto& s = run.seen;
    EXPECT_EQ(s.at("pid"), "1");
    EXPECT_EQ(s.at("uid"), "4321");
    EXPECT_EQ(s.at("fds"), "0,1,2");
    EXPECT_NE(s.at("cgroup").find("0::/" + parent_ + "/" + id_ + ";"), std::string::npos)
        << s.at("cgroup");
    EXPECT_EQ(read_text(unified + "/" + parent_ + "/" + id_ + "/cgroup.max.descendants"), "3\n");
    // The parent wrote the child's pid as seen from the host.
    std::string pid_text = read_text(root_ + "/jail_probe.pid");
    EXPECT_FALSE(pid_text.empty());
    EXPECT_NE(pid_text, "1");
}

TEST_F(JailerTest, DaemonizesWithStdioOnDevNullAndNoControllingSession) {
    auto args = base_args();
    args.insert(args.end(), {"--daemonize", "--", "--write-to", "/run/probe.out"});
    JailerRun run = run_jailer(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    // Nothing reached our pipe: the daemon's stdio is /dev/null.
    EXPECT_EQ(run.output, "");
    std::map<std::string, std::string> seen;
    parse_probe_output(read_text(root_ + "/run/probe.out"), seen);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.at("stdin"), "c:1:3");
    EXPECT_EQ(seen.at("session_leader"), "0");
    EXPECT_EQ(seen.at("uid"), "4321");
    EXPECT_EQ(read_text(root_ + "/jail_probe.pid"), seen.at("pid"));
}

TEST_F(JailerTest, JoinsTheGivenNetworkNamespace) {
    // As `ip netns add`: a child makes a network namespace and bind-mounts it onto a file (in
    // our mount namespace), so it outlives the child.
    std::string ns_file = base_ + "/netns";
    { std::ofstream(ns_file) << ""; }
    pid_t maker = ::fork();
    if (maker == 0) {
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
        ::_exit(::mount("/proc/self/ns/net", ns_file.c_str(), nullptr, MS_BIND, nullptr) == 0 ? 0
                                                                                              : 2);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(maker, &status, 0), maker);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    struct stat ns {};
    ASSERT_EQ(::stat(ns_file.c_str(), &ns), 0);
    auto args = base_args();
    args.insert(args.end(), {"--netns", ns_file});
    JailerRun run = run_jailer(args);
    ::umount2(ns_file.c_str(), MNT_DETACH);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(run.seen.at("netns"), "net:[" + std::to_string(ns.st_ino) + "]");
}

TEST_F(JailerTest, RefusesAMissingNetworkNamespaceAndNamesIt) {
    auto args = base_args();
    args.insert(args.end(), {"--netns", "/nonexistent/netns"});
    JailerRun run = run_jailer(args, false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("netns: open: /nonexistent/netns"), std::string::npos) << run.output;
}

TEST_F(JailerTest, RefusesASymlinkedExecFile) {
    std::string link = base_ + "/bin/linked";
    ASSERT_EQ(::symlink(probe_.c_str(), link.c_str()), 0);
    auto args = base_args();
    args[3] = link;
    JailerRun run = run_jailer(args, false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("refusing a symlink: " + link), std::string::npos) << run.output;
    EXPECT_FALSE(exists(jails_ + "/linked/" + id_ + "/root/linked"));
}

TEST_F(JailerTest, RefusesAHardLinkedExecFile) {
    std::string other = base_ + "/bin/other-name";
    ASSERT_EQ(::link(probe_.c_str(), other.c_str()), 0);
    JailerRun run = run_jailer(base_args(), false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("several hard links: " + probe_), std::string::npos) << run.output;
    EXPECT_FALSE(exists(root_ + "/jail_probe"));
}

TEST_F(JailerTest, RefusesToRunWithoutAUid) {
    std::vector<std::string> args = {"--id",  id_,    "--exec-file",       probe_,
                                     "--gid", "4322", "--chroot-base-dir", jails_};
    JailerRun run = run_jailer(args, false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("missing required flag --uid"), std::string::npos) << run.output;
    EXPECT_FALSE(exists(jails_));
}

TEST_F(JailerTest, RemovesTheCgroupsItMadeWhenACgroupWriteFails) {
    auto args = base_args();
    args.insert(args.end(), {"--cgroup", "cpu.shares=512", "--cgroup", "pids.no_such_file=1"});
    JailerRun run = run_jailer(args, false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("cgroup: open: " + std::string(kV1Pids) + "/" + parent_ + "/" + id_ +
                              "/pids.no_such_file"),
              std::string::npos)
        << run.output;
    EXPECT_FALSE(exists(std::string(kV1Cpu) + "/" + parent_));
    EXPECT_FALSE(exists(std::string(kV1Pids) + "/" + parent_));
}

TEST_F(JailerTest, RemovesTheCgroupsItJoinedWhenTheExecFails) {
    // Not executable: everything succeeds up to execve, which fails inside the jail.
    ASSERT_EQ(::chmod(probe_.c_str(), 0644), 0);
    auto args = base_args();
    args.insert(args.end(), {"--cgroup", "pids.max=10"});
    JailerRun run = run_jailer(args, false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("exec: /jail_probe"), std::string::npos) << run.output;
    EXPECT_FALSE(exists(std::string(kV1Pids) + "/" + parent_ + "/" + id_));
    EXPECT_FALSE(exists(std::string(kV1Pids) + "/" + parent_));
}

TEST_F(JailerTest, ReplacesALeftoverSymlinkInTheJailInsteadOfWritingThroughIt) {
    std::string victim = base_ + "/victim";
    { std::ofstream(victim) << "precious"; }
    ASSERT_EQ(std::system(("mkdir -p '" + root_ + "'").c_str()), 0);
    ASSERT_EQ(::symlink(victim.c_str(), (root_ + "/jail_probe").c_str()), 0);
    JailerRun run = run_jailer(base_args());
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(read_text(victim), "precious");
    EXPECT_EQ(run.seen.at("uid"), "4321");
}

// Before: RLIMIT_FSIZE was set before the pid file was written, and SIGXFSZ killed the jailer
// (exit 153) after it had created an empty pid file.
TEST_F(JailerTest, AppliesAZeroFileSizeLimitOnlyAfterItsOwnWrites) {
    auto args = base_args();
    args.insert(args.end(), {"--resource-limit", "fsize=0", "--resource-limit", "no-file=16"});
    JailerRun run = run_jailer(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(run.seen.at("fsize"), "0");
    EXPECT_EQ(run.seen.at("nofile"), "16");
    EXPECT_EQ(read_text(root_ + "/jail_probe.pid"), run.seen.at("pid"));
}

// Before: the daemon died of SIGXFSZ with a truncated pid file and the jailer exited 0.
TEST_F(JailerTest, DaemonizedWithATinyFileSizeLimitStillWritesAWholePidFile) {
    auto args = base_args();
    args.insert(args.end(), {"--daemonize", "--resource-limit", "fsize=2", "--new-pid-ns"});
    JailerRun run = run_jailer(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    std::string pid = read_text(root_ + "/jail_probe.pid");
    EXPECT_GT(pid.size(), 2u);
    EXPECT_EQ(pid.find_first_not_of("0123456789"), std::string::npos) << pid;
}

// Before: the process the user started exited 0 whatever happened to the daemon after the fork.
TEST_F(JailerTest, ReportsAFailureOfTheDaemonWithANonZeroExit) {
    ASSERT_EQ(::chmod(probe_.c_str(), 0644), 0);
    auto args = base_args();
    args.insert(args.end(), {"--daemonize"});
    JailerRun run = run_jailer(args, false);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("exec: /jail_probe"), std::string::npos) << run.output;
}

TEST_F(JailerTest, ReportsAFailureOfTheExecInANewPidNamespaceWithANonZeroExit) {
    ASSERT_EQ(::chmod(probe_.c_str(), 0644), 0);
    for (const char* daemonize : {"", "--daemonize"}) {
        auto args = base_args();
        args.emplace_back("--new-pid-ns");
        if (*daemonize != 0) args.emplace_back(daemonize);
        JailerRun run = run_jailer(args, false);
        EXPECT_EQ(run.exit_code, 1) << daemonize;
        EXPECT_NE(run.output.find("exec: /jail_probe"), std::string::npos) << run.output;
    }
}

// Before: the second jailer replaced the live jail's binary, devices and pid file.
TEST_F(JailerTest, RefusesTheIdOfALiveJailAndReusesItOnceItsProcessIsGone) {
    ASSERT_EQ(std::system(("mkdir -p '" + root_ + "/run'").c_str()), 0);
    const std::string fifo = root_ + "/run/hold";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
    auto args = base_args();
    args.insert(args.end(),
                {"--daemonize", "--", "--write-to", "/run/probe.out", "--block-on", "/run/hold"});
    JailerRun first = run_jailer(args, true, Orphans::kLeave);
    ASSERT_EQ(first.exit_code, 0) << first.output;
    const std::string live_pid = read_text(root_ + "/jail_probe.pid");
    struct stat binary_before {};
    ASSERT_EQ(::stat((root_ + "/jail_probe").c_str(), &binary_before), 0);

    JailerRun second = run_jailer(base_args(), false, Orphans::kLeave);
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.output.find("in use by pid " + live_pid), std::string::npos) << second.output;
    EXPECT_EQ(read_text(root_ + "/jail_probe.pid"), live_pid);
    struct stat binary_after {};
    ASSERT_EQ(::stat((root_ + "/jail_probe").c_str(), &binary_after), 0);
    EXPECT_EQ(binary_after.st_ino, binary_before.st_ino);

    // Let the first probe end: its jail is stale now, and may be reused.
    int hold = ::open(fifo.c_str(), O_WRONLY);
    ASSERT_GE(hold, 0);
    ::close(hold);
    wait_for_orphans();
    JailerRun third = run_jailer(base_args());
    ASSERT_EQ(third.exit_code, 0) << third.output;
    EXPECT_EQ(read_text(root_ + "/jail_probe.pid"), third.seen.at("pid"));
}

TEST_F(JailerTest, RefusesAJailThatAnotherJailerIsSettingUp) {
    ASSERT_EQ(std::system(("mkdir -p '" + root_ + "'").c_str()), 0);
    const std::string jail_dir = jails_ + "/jail_probe/" + id_;
    int held = ::open(jail_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(held, 0);
    ASSERT_EQ(::flock(held, LOCK_EX), 0);
    JailerRun run = run_jailer(base_args(), false);
    ::close(held);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("being set up by another ember-jailer"), std::string::npos)
        << run.output;
    EXPECT_FALSE(exists(root_ + "/jail_probe"));
}

TEST_F(JailerTest, ReusesAJailWhosePidFileNamesAnUnrelatedLiveProcess) {
    // Pid reuse: pid 1 is alive but its root is not this jail.
    ASSERT_EQ(std::system(("mkdir -p '" + root_ + "'").c_str()), 0);
    { std::ofstream(root_ + "/jail_probe.pid") << "1"; }
    JailerRun run = run_jailer(base_args());
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(read_text(root_ + "/jail_probe.pid"), run.seen.at("pid"));
}

// Before: --uid 0 ran the VMM as root with every capability, without a word.
TEST_F(JailerTest, RefusesRootUnlessAllowRootIsGiven) {
    for (const char* flag : {"--uid", "--gid"}) {
        auto args = base_args();
        auto at = std::find(args.begin(), args.end(), flag);
        ASSERT_NE(at, args.end());
        *(at + 1) = "0";
        JailerRun refused = run_jailer(args, false);
        EXPECT_EQ(refused.exit_code, 1) << flag;
        EXPECT_NE(refused.output.find("--allow-root"), std::string::npos) << refused.output;
        EXPECT_FALSE(exists(jails_));
    }
    auto args = base_args();
    args[5] = "0";
    args[7] = "0";
    args.emplace_back("--allow-root");
    JailerRun run = run_jailer(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(run.seen.at("uid"), "0");
    EXPECT_EQ(run.seen.at("gid"), "0");
}

}  // namespace
