#include "jailer/args.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace ember::jailer {
namespace {

Result<ParsedArgs> parse(std::initializer_list<std::string_view> extra, bool with_required = true) {
    std::vector<std::string_view> argv;
    if (with_required)
        argv = {"--id", "vm-1", "--exec-file", "/usr/bin/ember", "--uid", "123", "--gid", "456"};
    for (std::string_view arg : extra) argv.push_back(arg);
    return parse_args(argv);
}

std::string error_of(const Result<ParsedArgs>& r) { return r ? "" : r.error().message(); }

TEST(JailerArgs, ParsesTheRequiredFlagsAndAppliesFirecrackersDefaults) {
    auto r = parse({});
    ASSERT_TRUE(r) << error_of(r);
    const JailerArgs& a = r->args;
    EXPECT_EQ(r->command, Command::kRun);
    EXPECT_EQ(a.id, "vm-1");
    EXPECT_EQ(a.exec_file, "/usr/bin/ember");
    EXPECT_EQ(a.exec_name(), "ember");
    EXPECT_EQ(a.uid, 123u);
    EXPECT_EQ(a.gid, 456u);
    EXPECT_EQ(a.chroot_base_dir, "/srv/jailer");
    EXPECT_EQ(a.cgroup_version, CgroupVersion::kV1);
    EXPECT_EQ(a.parent_cgroup_or_default(), "ember");
    EXPECT_EQ(a.limits.no_file, 2048u);
    EXPECT_EQ(a.limits.fsize, static_cast<uint64_t>(RLIM_INFINITY));
    EXPECT_FALSE(a.daemonize);
    EXPECT_FALSE(a.new_pid_ns);
    EXPECT_FALSE(a.netns);
}

TEST(JailerArgs, ParsesEveryOptionalFlagAndForwardsArgumentsAfterTheSeparator) {
    auto r = parse({"--chroot-base-dir=/var/jail/",
                    "--netns",
                    "/var/run/netns/vm",
                    "--daemonize",
                    "--new-pid-ns",
                    "--cgroup",
                    "cpuset.cpus=0-1",
                    "--cgroup",
                    "cpu.weight=50",
                    "--cgroup-version",
                    "2",
                    "--parent-cgroup",
                    "fc/vms",
                    "--resource-limit",
                    "fsize=1024",
                    "--resource-limit=no-file=64",
                    "--",
                    "--api-sock",
                    "/run/api.sock",
                    "--id",
                    "ignored"});
    ASSERT_TRUE(r) << error_of(r);
    const JailerArgs& a = r->args;
    EXPECT_EQ(a.chroot_base_dir, "/var/jail");
    EXPECT_EQ(a.netns, "/var/run/netns/vm");
    EXPECT_TRUE(a.daemonize);
    EXPECT_TRUE(a.new_pid_ns);
    ASSERT_EQ(a.cgroups.size(), 2u);
    EXPECT_EQ(a.cgroups[0].file, "cpuset.cpus");
    EXPECT_EQ(a.cgroups[0].value, "0-1");
    EXPECT_EQ(a.cgroups[0].controller(), "cpuset");
    EXPECT_EQ(a.cgroups[1].controller(), "cpu");
    EXPECT_EQ(a.cgroup_version, CgroupVersion::kV2);
    EXPECT_EQ(a.parent_cgroup_or_default(), "fc/vms");
    EXPECT_EQ(a.limits.fsize, 1024u);
    EXPECT_EQ(a.limits.no_file, 64u);
    EXPECT_EQ(a.extra_args,
              (std::vector<std::string>{"--api-sock", "/run/api.sock", "--id", "ignored"}));
}

TEST(JailerArgs, RecognisesHelpAndVersion) {
    auto help = parse({"--help"}, false);
    ASSERT_TRUE(help);
    EXPECT_EQ(help->command, Command::kHelp);
    auto version = parse({"--version"}, false);
    ASSERT_TRUE(version);
    EXPECT_EQ(version->command, Command::kVersion);
}

TEST(JailerArgs, RejectsIdsThatCouldEscapeTheChrootBaseOrAreTooLong) {
    for (std::string_view id : {"../x", "a/b", "", ".", "vm_1", "vm 1", "vm.1"}) {
        auto r = parse_args(std::vector<std::string_view>{"--id", id, "--exec-file", "/e", "--uid",
                                                          "1", "--gid", "1"});
        EXPECT_FALSE(r) << "id '" << id << "' accepted";
        if (!r) {
            EXPECT_NE(r.error().message().find("--id"), std::string::npos);
        }
    }
    std::string longest(64, 'a');
    std::string too_long(65, 'a');
    EXPECT_TRUE(parse_args(std::vector<std::string_view>{"--id", longest, "--exec-file", "/e",
                                                         "--uid", "1", "--gid", "1"}));
    EXPECT_FALSE(parse_args(std::vector<std::string_view>{"--id", too_long, "--exec-file", "/e",
                                                          "--uid", "1", "--gid", "1"}));
}

TEST(JailerArgs, RejectsAMissingRequiredFlagAndNamesIt) {
    const std::vector<std::string_view> all = {"--id",  "vm", "--exec-file", "/e",
                                               "--uid", "1",  "--gid",       "1"};
    for (size_t drop = 0; drop < all.size(); drop += 2) {
        std::vector<std::string_view> argv;
        for (size_t i = 0; i < all.size(); ++i) {
            if (i != drop && i != drop + 1) argv.push_back(all[i]);
        }
        auto r = parse_args(argv);
        ASSERT_FALSE(r) << "accepted without " << all[drop];
        EXPECT_NE(r.error().message().find(std::string("missing required flag ") +
                                           std::string(all[drop])),
                  std::string::npos)
            << r.error().message();
    }
}

TEST(JailerArgs, RejectsBadUidsAndGids) {
    EXPECT_FALSE(parse({"--uid", "-1"}));
    EXPECT_FALSE(parse({"--uid", "root"}));
    EXPECT_FALSE(parse({"--gid", "4294967295"}));
    EXPECT_FALSE(parse({"--gid", "99999999999"}));
    EXPECT_FALSE(parse({"--uid"}));
}

TEST(JailerArgs, RefusesUidOrGidZeroUnlessAllowRootSaysSo) {
    auto uid0 = parse({"--uid", "0"});
    ASSERT_FALSE(uid0);
    EXPECT_NE(error_of(uid0).find("--uid 0"), std::string::npos) << error_of(uid0);
    EXPECT_NE(error_of(uid0).find("--allow-root"), std::string::npos) << error_of(uid0);
    auto gid0 = parse({"--gid", "0"});
    ASSERT_FALSE(gid0);
    EXPECT_NE(error_of(gid0).find("--gid 0"), std::string::npos) << error_of(gid0);
    auto allowed = parse({"--uid", "0", "--gid", "0", "--allow-root"});
    ASSERT_TRUE(allowed) << error_of(allowed);
    EXPECT_TRUE(allowed->args.allow_root);
    EXPECT_EQ(allowed->args.uid, 0u);
    EXPECT_FALSE(parse({})->args.allow_root);
}

TEST(JailerArgs, RejectsMalformedCgroupSettings) {
    for (std::string_view bad : {"cpuset.cpus", "=1", "cpuset=1", ".cpus=1", "cpuset.=1",
                                 "../cpu.shares=1", "cpu/x.shares=1", "cpu.shares="}) {
        auto r = parse({"--cgroup", bad});
        EXPECT_FALSE(r) << "cgroup '" << bad << "' accepted";
    }
    EXPECT_FALSE(parse({"--cgroup-version", "3"}));
    EXPECT_FALSE(parse({"--parent-cgroup", "../escape"}));
    EXPECT_FALSE(parse({"--parent-cgroup", "/abs"}));
    EXPECT_FALSE(parse({"--parent-cgroup", "a//b"}));
}

TEST(JailerArgs, RejectsMalformedResourceLimits) {
    for (std::string_view bad :
         {"fsize", "fsize=", "fsize=-1", "fsize=12k", "nofile=10", "core=0", "=5"}) {
        auto r = parse({"--resource-limit", bad});
        EXPECT_FALSE(r) << "resource limit '" << bad << "' accepted";
    }
}

TEST(JailerArgs, RejectsUnknownFlagsRelativeBaseDirsAndUnusableExecNames) {
    EXPECT_FALSE(parse({"--bogus", "1"}));
    EXPECT_FALSE(parse({"--chroot-base-dir", "relative/dir"}));
    EXPECT_FALSE(parse({"--chroot-base-dir", "/srv/../etc"}));
    EXPECT_FALSE(parse_args(std::vector<std::string_view>{"--id", "vm", "--exec-file", "/usr/bin/",
                                                          "--uid", "1", "--gid", "1"}));
    EXPECT_FALSE(parse_args(std::vector<std::string_view>{"--id", "vm", "--exec-file", "/usr/..",
                                                          "--uid", "1", "--gid", "1"}));
}

}  // namespace
}  // namespace ember::jailer
