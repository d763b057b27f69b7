// The jailer's readers of host files: /proc/mounts (cgroup hierarchies) and /proc/misc.
#include <gtest/gtest.h>

#include "jailer/cgroup.h"
#include "jailer/devices.h"

namespace ember::jailer {
namespace {

TEST(ParseMounts, FindsCgroupHierarchiesWithTheirControllers) {
    auto mounts = parse_mounts(
        "proc /proc proc rw,relatime 0 0\n"
        "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n");
    ASSERT_EQ(mounts.size(), 3u);
    EXPECT_EQ(mounts[1].path, "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(mounts[1].fstype, "cgroup");
    EXPECT_EQ(mounts[1].options, (std::vector<std::string>{"rw", "nosuid", "cpu", "cpuacct"}));
    EXPECT_EQ(mounts[2].fstype, "cgroup2");
}

TEST(UserfaultfdMinor, IsReadFromProcMiscWhenTheHostHasTheDevice) {
    EXPECT_EQ(userfaultfd_minor(" 200 tun\n257 userfaultfd\n 232 kvm\n"), 257u);
    EXPECT_EQ(userfaultfd_minor(" 200 tun\n 232 kvm\n"), std::nullopt);
    EXPECT_EQ(userfaultfd_minor("xx userfaultfd\n"), std::nullopt);
}

}  // namespace
}  // namespace ember::jailer
