// The snapshot's view of the device blobs: describe()'s one-line summaries of each known type,
// and the machine state's device list, where ids are unique per type only.
#include <gtest/gtest.h>

#include <string>

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "tests/unit/devices/legacy/legacy_persist_samples.h"
#include "tests/unit/devices/virtio/virtio_persist_samples.h"
#include "tests/unit/vmm/snapshot/test_state.h"
#include "vmm/snapshot/device_summary.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

TEST(DeviceBlobs, SummarizesKnownDevices) {
    std::string block = summarize_device(encode_block(sample_block(true)));
    EXPECT_NE(block.find("drive \"rootfs\" /srv/vm/rootfs.ext4 read-only root, async engine"),
              std::string::npos)
        << block;
    EXPECT_NE(block.find("mmio 0xd0001000 gsi 6, status 0xf active"), std::string::npos) << block;
    EXPECT_NE(block.find("q0 size 128 avail 65000 used 64990"), std::string::npos) << block;
    EXPECT_NE(
        block.find("1024 MiB, limiter tokens left: bytes 400 (+200 burst), ops 30 (+15 burst), "
                   "mmio"),
        std::string::npos)
        << block;
    std::string net = summarize_device(encode_net(sample_net(true)));
    EXPECT_NE(net.find("iface \"eth0\" tap tap0 MAC 06:00:ac:10:00:02, rx limiter tokens left: "
                       "bytes 100 (+50 burst), tx limiter tokens left: ops 8 (+4 burst), mmio"),
              std::string::npos)
        << net;
    std::string plain = summarize_device(encode_block(sample_block(false)));
    EXPECT_EQ(plain.find("tokens left"), std::string::npos) << plain;
    EXPECT_NE(summarize_device(encode_serial(sample_serial())).find("3 input bytes"),
              std::string::npos);
    EXPECT_NE(summarize_device(encode_cmos(sample_cmos())).find("clock offset -123456789 s"),
              std::string::npos);
    EXPECT_NE(summarize_device(encode_i8042(sample_i8042())).find("4 output bytes"),
              std::string::npos);
    EXPECT_NE(summarize_device(encode_boot_timer(sample_boot_timer())).find("123456 us wall"),
              std::string::npos);

    DeviceState broken = encode_block(sample_block(true));
    broken.data.resize(5);
    EXPECT_EQ(summarize_device(broken).rfind("UNREADABLE: snapshot device virtio-block", 0), 0u);
    EXPECT_EQ(summarize_device({.id = "x", .type = "virtio-vsock", .version = 1}), "");
}

TEST(DeviceBlobs, MachineStateAllowsOneIdForDevicesOfDifferentTypes) {
    MachineState s = testing::sample_state();
    s.devices = {encode_serial(sample_serial()), encode_i8042(sample_i8042())};
    BlockSnapshot drive = sample_block(false);
    drive.drive.drive_id = "serial";  // The same id as the serial port: allowed.
    s.devices.push_back(encode_block(drive));
    Result<MachineState> loaded = decode_machine_state(encode_machine_state(s));
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->devices, s.devices);
    Result<BlockSnapshot> block = decode_block(loaded->devices[2]);
    ASSERT_TRUE(block) << block.error().message();
    EXPECT_EQ(*block, drive);

    s.devices.push_back(encode_block(drive));  // The same type and id twice: refused.
    loaded = decode_machine_state(encode_machine_state(s));
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().message(), "duplicate snapshot device: virtio-block \"serial\"");
}

}  // namespace
}  // namespace ember::snapshot
