#include "vmm/config/vm_config.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

namespace ember {
namespace {

TEST(MachineConfig, DefaultsAreOneVcpuAnd128Mib) {
    MachineConfig m;
    EXPECT_EQ(m.vcpu_count, 1u);
    EXPECT_EQ(m.mem_size_mib, 128u);
    EXPECT_TRUE(m.validate());
}

TEST(MachineConfig, RefusesZeroAndTooManyVcpus) {
    MachineConfig m;
    m.vcpu_count = 0;
    EXPECT_FALSE(m.validate());
    m.vcpu_count = 33;
    EXPECT_FALSE(m.validate());
}

// As Firecracker: any size is taken at the PUT/PATCH; what Ember cannot map fails at the start.
TEST(MachineConfig, BoundsTheMemoryOnlyForBoot) {
    MachineConfig m{.mem_size_mib = UINT64_MAX};
    EXPECT_TRUE(m.validate());
    Result<void> boot = m.validate_for_boot();
    ASSERT_FALSE(boot);
    EXPECT_NE(boot.error().message().find("larger than the 1 TiB"), std::string::npos);
    m.mem_size_mib = MachineConfig::kMaxMemMib;
    EXPECT_TRUE(m.validate_for_boot());
    m.mem_size_mib = 0;
    EXPECT_EQ(m.validate().error().message(),
              "mem_size_mib: The memory size (MiB) is either 0, or not a multiple of the "
              "configured page size.");
}

TEST(VmConfig, RefusesASecondRootDeviceInFirecrackersWords) {
    VmConfig c;
    c.drives.push_back({.drive_id = "a", .path_on_host = "/a", .is_root_device = true});
    c.drives.push_back({.drive_id = "b", .path_on_host = "/b", .is_root_device = true});
    Result<void> v = c.validate();
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message().find("A root block device already exists!"), std::string::npos);
}

TEST(MachineConfig, RefusesOddVcpuCountWithSmt) {
    MachineConfig m{.vcpu_count = 3, .smt = true};
    EXPECT_FALSE(m.validate());
}

// Firecracker's InvalidMemorySize: 2M guests are whole 2 MiB pages; other settings take any size.
TEST(MachineConfig, RefusesAnOddMemorySizeOnlyWith2MHugePages) {
    MachineConfig m{.mem_size_mib = 129, .huge_pages = HugePages::k2M};
    Result<void> v = m.validate();
    ASSERT_FALSE(v);
    EXPECT_EQ(
        v.error().message(),
        "mem_size_mib: The memory size (MiB) is either 0, or not a multiple of the configured "
        "page size.");
    m.mem_size_mib = 130;
    EXPECT_TRUE(m.validate());
    for (HugePages other : {HugePages::kNone, HugePages::kTransparent}) {
        EXPECT_TRUE((MachineConfig{.mem_size_mib = 129, .huge_pages = other}).validate());
    }
}

TEST(VmConfig, RefusesTwoRootDrives) {
    VmConfig c;
    c.drives.push_back({.drive_id = "a", .path_on_host = "/a", .is_root_device = true});
    c.drives.push_back({.drive_id = "b", .path_on_host = "/b", .is_root_device = true});
    EXPECT_FALSE(c.validate());
}

// Firecracker's MmdsConfigError texts, which its test_mmds.py matches.
TEST(MmdsConfig, NeedsAnInterfaceAndALinkLocalAddress) {
    MmdsConfig m{.network_interfaces = {"eth0"}};
    EXPECT_TRUE(m.validate());
    m.network_interfaces.clear();
    Result<void> empty = m.validate();
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message(),
              "MMDS config error: The list of network interface IDs that allow forwarding MMDS "
              "requests is empty.");
    m.network_interfaces = {"eth0"};
    for (std::array<uint8_t, 4> ip :
         {std::array<uint8_t, 4>{169, 254, 0, 1}, std::array<uint8_t, 4>{169, 254, 255, 1},
          std::array<uint8_t, 4>{10, 0, 0, 1}, std::array<uint8_t, 4>{169, 253, 1, 1}}) {
        m.ipv4_address = ip;
        Result<void> refused = m.validate();
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().message(),
                  "MMDS config error: The MMDS IPv4 address is not link local.");
    }
    for (std::array<uint8_t, 4> ip :
         {std::array<uint8_t, 4>{169, 254, 1, 0}, std::array<uint8_t, 4>{169, 254, 170, 2},
          std::array<uint8_t, 4>{169, 254, 254, 255}}) {
        m.ipv4_address = ip;
        EXPECT_TRUE(m.validate());
    }
}

TEST(VmConfig, RefusesAnMmdsInterfaceThatDoesNotExist) {
    VmConfig c;
    c.nets.push_back({.iface_id = "eth0", .host_dev_name = "tap0"});
    c.mmds = MmdsConfig{.network_interfaces = {"eth0"}};
    EXPECT_TRUE(c.validate());
    c.mmds->network_interfaces.emplace_back("eth1");
    Result<void> refused = c.validate();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message(),
              "MMDS config error: The list of network interface IDs provided contains at least "
              "one ID that does not correspond to any existing network interface.");
    c.mmds->network_interfaces.clear();
    EXPECT_FALSE(c.validate());
}

TEST(Ids, RefusePathCharacters) {
    EXPECT_FALSE(validate_id("drive_id", "../x"));
    EXPECT_FALSE(validate_id("drive_id", ""));
    EXPECT_FALSE(validate_id("drive_id", std::string(65, 'a')));
    EXPECT_TRUE(validate_id("drive_id", "rootfs_1"));
}

TEST(NetConfig, ValidatesTheMacAddress) {
    NetConfig n{.iface_id = "eth0", .host_dev_name = "tap0", .guest_mac = "06:00:AC:10:00:02"};
    EXPECT_TRUE(n.validate());
    n.guest_mac = "06:00:AC:10:00";
    EXPECT_FALSE(n.validate());
}

TEST(VmConfig, RefusesAMacUsedTwiceAndATapUsedTwice) {
    VmConfig c;
    c.nets.push_back({.iface_id = "a", .host_dev_name = "tap0", .guest_mac = "06:00:00:00:00:01"});
    c.nets.push_back({.iface_id = "b", .host_dev_name = "tap1", .guest_mac = "06:00:00:00:00:01"});
    Result<void> v = c.validate();
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().message(),
              "guest_mac: The MAC address is already in use: 06:00:00:00:00:01");
    c.nets[1].guest_mac = "06:00:00:00:00:02";
    EXPECT_TRUE(c.validate());
    c.nets[1].host_dev_name = "tap0";
    v = c.validate();
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message().find("Could not create the network device"), std::string::npos);
}

TEST(ParseMac, ReadsSixHexBytesInEitherCase) {
    Result<MacAddress> mac = parse_mac("06:00:AC:10:00:ff");
    ASSERT_TRUE(mac);
    EXPECT_EQ(*mac, (MacAddress{0x06, 0x00, 0xac, 0x10, 0x00, 0xff}));
    // Firecracker's u8::from_str_radix takes a leading '+'.
    EXPECT_EQ(*parse_mac("+6:00:ac:10:00:+f"), (MacAddress{0x06, 0x00, 0xac, 0x10, 0x00, 0x0f}));
    for (const char* bad :
         {"06:00:ac:10:00", "06:00:ac:10:00:02:", "06-00-ac-10-00-02", "06:00:ac:10:00:0g", "",
          " 6:00:ac:10:00:02", "-6:00:ac:10:00:02", "++:00:ac:10:00:02", "06:00:ac:10:00: 2",
          "06:00:ac:10:00:2", "060:0:ac:10:00:02", "06:00:ac:10:00:02\n", "06:00:ac:10:00:0\0"}) {
        Result<MacAddress> refused = parse_mac(bad);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().message(),
                  fmt::format("guest_mac: '{}' is not a MAC address", bad));
    }
}

TEST(Updates, CheckTheIdThePathAndTheLimiters) {
    EXPECT_TRUE((DriveUpdate{.drive_id = "rootfs"}).validate());
    EXPECT_FALSE((DriveUpdate{.drive_id = "bad-id"}).validate());
    Result<void> empty = DriveUpdate{.drive_id = "rootfs", .path_on_host = ""}.validate();
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message(), "path_on_host: must not be empty");
    EXPECT_TRUE((NetUpdate{.iface_id = "eth0"}).validate());
    EXPECT_FALSE((NetUpdate{.iface_id = ""}).validate());
}

}  // namespace
}  // namespace ember
