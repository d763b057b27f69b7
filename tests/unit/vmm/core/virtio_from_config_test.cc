// The translation from drive and network-interface configuration to device options, and the
// Vmm's PUT/PATCH checks for drives and interfaces (no KVM: nothing here boots).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "vmm/core/virtio_from_config.h"
#include "vmm/core/vmm.h"

namespace ember {
namespace {

TEST(VirtioDevicesTest, MissingBucketMeansNoLimit) {
    TokenBucketParams p = token_bucket_params(std::nullopt);
    EXPECT_EQ(p.size, 0u);
    EXPECT_EQ(p.refill_time_ms, 0u);
    EXPECT_EQ(bucket_update(std::nullopt).kind, BucketUpdate::Kind::kNone);
}

TEST(VirtioDevicesTest, BucketUpdateOfSizeZeroDisablesTheBucket) {
    EXPECT_EQ(bucket_update(TokenBucketConfig{.size = 0, .refill_time_ms = 100}).kind,
              BucketUpdate::Kind::kDisabled);
    BucketUpdate u =
        bucket_update(TokenBucketConfig{.size = 10, .one_time_burst = 5, .refill_time_ms = 100});
    EXPECT_EQ(u.kind, BucketUpdate::Kind::kUpdate);
    EXPECT_EQ(u.params.size, 10u);
    EXPECT_EQ(u.params.one_time_burst, 5u);
    EXPECT_EQ(u.params.refill_time_ms, 100u);
}

TEST(VirtioDevicesTest, DriveConfigBecomesBlockOptions) {
    DriveConfig d;
    d.drive_id = "data";
    d.path_on_host = "/tmp/x";
    d.is_read_only = true;
    d.cache_type = CacheType::kWriteback;
    d.io_engine = IoEngine::kAsync;
    d.rate_limiter =
        RateLimiterConfig{.bandwidth = TokenBucketConfig{.size = 1000, .refill_time_ms = 10},
                          .ops = TokenBucketConfig{.size = 7, .refill_time_ms = 20}};
    virtio::BlockDeviceOptions o = block_device_options(d);
    EXPECT_EQ(o.drive_id, "data");
    EXPECT_EQ(o.path, "/tmp/x");
    EXPECT_EQ(o.access, virtio::Access::kReadOnly);
    EXPECT_EQ(o.cache, CacheType::kWriteback);
    EXPECT_EQ(o.engine, IoEngine::kAsync);
    EXPECT_EQ(o.bandwidth.size, 1000u);
    EXPECT_EQ(o.ops.refill_time_ms, 20u);
    d.is_read_only = false;
    d.io_engine = IoEngine::kSync;
    EXPECT_EQ(block_device_options(d).access, virtio::Access::kReadWrite);
    EXPECT_EQ(block_device_options(d).engine, IoEngine::kSync);
}

TEST(VirtioDevicesTest, NetConfigBecomesNetOptionsWithParsedMac) {
    NetConfig n;
    n.iface_id = "eth0";
    n.host_dev_name = "tap0";
    n.guest_mac = "06:00:AC:10:00:02";
    n.mtu = 1400;
    n.tx_rate_limiter =
        RateLimiterConfig{.bandwidth = TokenBucketConfig{.size = 65536, .refill_time_ms = 250}};
    Result<virtio::NetDeviceOptions> o = net_device_options(n);
    ASSERT_TRUE(o) << o.error().message();
    ASSERT_TRUE(o->guest_mac);
    EXPECT_EQ(*o->guest_mac, (virtio::MacAddress{0x06, 0x00, 0xac, 0x10, 0x00, 0x02}));
    EXPECT_EQ(o->mtu, 1400);
    EXPECT_EQ(o->tx_bandwidth.size, 65536u);
    EXPECT_EQ(o->rx_bandwidth.size, 0u);
    n.guest_mac = "06:00:ac:10:00";
    EXPECT_FALSE(net_device_options(n));
}

// A Responder that answers nothing: only its address matters here.
class SilentResponder : public mmds::Responder {
public:
    std::optional<mmds::Reply> respond(std::string_view, std::string&) override {
        return std::nullopt;
    }
};

TEST(VirtioFromConfig, GivesTheMmdsServiceToTheInterfacesTheConfigNames) {
    SilentResponder service;
    NetConfig eth0{.iface_id = "eth0", .host_dev_name = "tap0"};
    NetConfig eth1{.iface_id = "eth1", .host_dev_name = "tap1"};
    std::optional<MmdsConfig> mmds =
        MmdsConfig{.network_interfaces = {"eth1"}, .ipv4_address = {169, 254, 170, 2}};
    EXPECT_FALSE(net_mmds_options(eth0, mmds, &service));
    std::optional<virtio::NetMmdsOptions> o = net_mmds_options(eth1, mmds, &service);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->responder, &service);
    EXPECT_EQ(o->ipv4, (std::array<uint8_t, 4>{169, 254, 170, 2}));
    // No MMDS configuration, or no service to answer with: the interface is a plain one.
    EXPECT_FALSE(net_mmds_options(eth1, std::nullopt, &service));
    EXPECT_FALSE(net_mmds_options(eth1, mmds, nullptr));
}

class VmmDevicesTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ember-vmm-devices-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        disk_ = dir_ + "/disk.img";
        int fd = ::open(disk_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
        ::close(fd);
        Vmm::Options options;
        options.kvm_path = dir_ + "/no-kvm-here";
        options.console_input_fd = -1;
        auto vmm = Vmm::create(options);
        ASSERT_TRUE(vmm) << vmm.error().message();
        vmm_ = std::move(*vmm);
    }
    void TearDown() override {
        vmm_.reset();
        ::unlink(disk_.c_str());
        ::rmdir(dir_.c_str());
    }
    DriveConfig drive(const std::string& id, bool root) const {
        DriveConfig d;
        d.drive_id = id;
        d.path_on_host = disk_;
        d.is_root_device = root;
        return d;
    }

    std::string dir_;
    std::string disk_;
    std::unique_ptr<Vmm> vmm_;
};

TEST_F(VmmDevicesTest, PutDriveStoresAndReplacesById) {
    ASSERT_TRUE(vmm_->put_drive(drive("rootfs", true)));
    ASSERT_TRUE(vmm_->put_drive(drive("data", false)));
    DriveConfig ro = drive("data", false);
    ro.is_read_only = true;
    ASSERT_TRUE(vmm_->put_drive(ro));
    VmConfig config = vmm_->vm_config();
    ASSERT_EQ(config.drives.size(), 2u);
    EXPECT_EQ(config.drives[0].drive_id, "rootfs");
    EXPECT_TRUE(config.drives[1].is_read_only);
}

TEST_F(VmmDevicesTest, PutDriveRefusesAMissingFileASecondRootAndABadId) {
    DriveConfig missing = drive("rootfs", true);
    missing.path_on_host = dir_ + "/missing.img";
    EXPECT_FALSE(vmm_->put_drive(missing));
    ASSERT_TRUE(vmm_->put_drive(drive("rootfs", true)));
    EXPECT_FALSE(vmm_->put_drive(drive("other", true)));
    EXPECT_FALSE(vmm_->put_drive(drive("bad-id", false)));
    // The same root drive again replaces itself.
    EXPECT_TRUE(vmm_->put_drive(drive("rootfs", true)));
    EXPECT_EQ(vmm_->vm_config().drives.size(), 1u);
}

TEST_F(VmmDevicesTest, PutNetRefusesBadFieldsBeforeTouchingTheTap) {
    NetConfig n;
    n.iface_id = "eth0";
    n.host_dev_name = "a-name-longer-than-ifnamsiz";
    EXPECT_FALSE(vmm_->put_net(n));
    n.host_dev_name = "tap0";
    n.guest_mac = "not-a-mac";
    EXPECT_FALSE(vmm_->put_net(n));
    EXPECT_TRUE(vmm_->vm_config().nets.empty());
}

TEST_F(VmmDevicesTest, PatchBeforeStartIsAPhaseError) {
    ASSERT_TRUE(vmm_->put_drive(drive("rootfs", true)));
    DriveUpdate update;
    update.drive_id = "rootfs";
    update.path_on_host = disk_;
    Result<void> patched = vmm_->patch_drive(update);
    ASSERT_FALSE(patched);
    EXPECT_EQ(patched.error().kind(), ErrorKind::kWrongPhase);
    EXPECT_EQ(patched.error().message(),
              "The requested operation is not supported before starting the microVM.");
    NetUpdate net;
    net.iface_id = "eth0";
    EXPECT_FALSE(vmm_->patch_net(net));
}

}  // namespace
}  // namespace ember
