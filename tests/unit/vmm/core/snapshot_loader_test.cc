// load_machine's checks that come before any KVM call: a state file that decodes but describes a
// machine Ember cannot or must not build is refused without touching /dev/kvm.
#include "vmm/core/snapshot_loader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/legacy/vmgenid_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"

namespace ember {
namespace {

class SnapshotLoaderTest : public ::testing::Test {
protected:
    SnapshotLoaderTest() {
        state.machine = {.vcpu_count = 1, .mem_size_mib = 128, .smt = false, .huge_pages = "None"};
        state.memory = {{.gpa = 0, .size_bytes = 128ull << 20, .file_offset = 0}};
        state.devices = {snapshot::encode_serial({}), snapshot::encode_i8042({}),
                         snapshot::encode_cmos({})};
        snapshot::NetSnapshot net;
        net.net = {.iface_id = "eth0", .host_dev_name = "tap0"};
        net.slot.mmio_base = 0xc0001000;
        net.slot.gsi = 5;
        state.devices.push_back(snapshot::encode_net(net));
        snapshot::BlockSnapshot block;
        block.drive = {.drive_id = "scratch", .path_on_host = "/saved/scratch.img"};
        block.device.disk_size_bytes = 1 << 20;
        block.slot.mmio_base = 0xc0002000;
        block.slot.gsi = 6;
        state.devices.push_back(snapshot::encode_block(block));
        state.vm.host_realtime_ns = 1'790'000'000'000'000'000ull;
        char dir_template[] = "/tmp/ember-loader-XXXXXX";
        EXPECT_NE(::mkdtemp(dir_template), nullptr);
        dir = dir_template;
        params.snapshot_path = "vm.state";
        params.backend_path = "vm.mem";
        options.kvm_path = "/nonexistent/kvm";
        options.console_input_fd = -1;
    }

    std::string load_error() {
        Result<LoadedMachine> loaded = load_machine(state, params, options, loop);
        EXPECT_FALSE(loaded);
        return loaded ? std::string() : loaded.error().message();
    }

    ~SnapshotLoaderTest() override { std::filesystem::remove_all(dir); }

    std::string file_of(const std::string& name, size_t bytes) {
        std::string path = dir + "/" + name;
        std::ofstream(path) << std::string(bytes, 'x');
        return path;
    }

    std::string dir;
    snapshot::MachineState state;
    SnapshotLoadParams params;
    BuildOptions options;
    EventLoop loop = EventLoop::create().value();
};

TEST_F(SnapshotLoaderTest, ReachesKvmOnlyWhenEverythingElseChecksOut) {
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesMemoryThatIsNotEmbersLayout) {
    state.memory[0].gpa = 0x100000;  // RAM moved up: it would cover other addresses.
    EXPECT_NE(load_error().find("not Ember's layout for 128 MiB"), std::string::npos);
    state.memory = {{.gpa = 0, .size_bytes = 64ull << 20, .file_offset = 0},
                    {.gpa = 0xc0000000, .size_bytes = 64ull << 20, .file_offset = 64ull << 20}};
    EXPECT_NE(load_error().find("not Ember's layout"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesUnknownAndMissingDevices) {
    state.devices.push_back({.id = "gpu", .type = "virtio-gpu", .version = 1, .data = {}});
    EXPECT_NE(load_error().find("unknown type 'virtio-gpu'"), std::string::npos);
    state.devices.pop_back();
    state.devices.erase(state.devices.begin());  // No serial port.
    EXPECT_NE(load_error().find("serial port, i8042 or CMOS state is missing"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesTwoOfALegacyDevice) {
    state.devices.push_back(snapshot::encode_cmos({}));
    EXPECT_NE(load_error().find("two cmos-rtc devices"), std::string::npos);
}

// The fixture's state has no VMGenID device, as a snapshot from before it: it loads without one.
TEST_F(SnapshotLoaderTest, TakesOneVmGenIdDeviceAndNeedsNone) {
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
    state.devices.push_back(snapshot::encode_vmgenid({.id_gpa = 0xa2000, .gsi = 6}));
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
    state.devices.push_back(snapshot::encode_vmgenid({.id_gpa = 0xa2000, .gsi = 6}));
    EXPECT_NE(load_error().find("two vmgenid devices"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesANetworkOverrideForAnInterfaceTheSnapshotLacks) {
    params.network_overrides = {{.iface_id = "eth1", .host_dev_name = "tap9"}};
    EXPECT_NE(load_error().find("no network interface 'eth1'"), std::string::npos);
    params.network_overrides = {{.iface_id = "eth0", .host_dev_name = "tap9"}};
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
}

// The saved MMDS configuration must name the snapshot's interfaces, as PUT /mmds/config must.
TEST_F(SnapshotLoaderTest, RefusesAnMmdsConfigNamingAnInterfaceTheSnapshotLacks) {
    state.mmds = MmdsConfig{.network_interfaces = {"eth1"}};
    EXPECT_NE(load_error().find("does not correspond to any existing network interface"),
              std::string::npos);
    state.mmds = MmdsConfig{.network_interfaces = {"eth0"}};
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesADeviceBlobThatDoesNotDecode) {
    state.devices[0].data = {1, 2, 3};
    EXPECT_NE(load_error().find("serial"), std::string::npos);
    EXPECT_EQ(load_error().find("/nonexistent/kvm"), std::string::npos);
}

// Unlike Firecracker (its issue #6099), a 2M snapshot may load with the File backend: a memory
// file on hugetlbfs keeps its 2 MiB pages and a regular one falls back to 4 KiB pages with a
// warning, so nothing refuses it before the machine is built.
TEST_F(SnapshotLoaderTest, TakesTheFileBackendForA2MSnapshot) {
    state.machine.huge_pages = "2M";
    params.backend_type = MemBackendType::kFile;
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos) << load_error();
}

TEST_F(SnapshotLoaderTest, RefusesUnknownHugePagesAndOddSizesFor2M) {
    state.machine.huge_pages = "1G";
    EXPECT_NE(load_error().find("unknown huge_pages '1G'"), std::string::npos);
    state.machine.huge_pages = "2M";
    params.backend_type = MemBackendType::kUffd;
    state.machine.mem_size_mib = 127;
    state.memory = {{.gpa = 0, .size_bytes = 127ull << 20, .file_offset = 0}};
    EXPECT_NE(load_error().find("not a multiple of the configured page size"), std::string::npos);
}

// drive_overrides (Ember's extension) is checked as network_overrides is, and the file as PUT
// /drives checks a drive's, plus the saved size: the guest knows the capacity it saw.
TEST_F(SnapshotLoaderTest, TakesADriveOverrideOfTheSavedSize) {
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = file_of("a.img", 1 << 20)}};
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesADriveOverrideForADriveTheSnapshotLacks) {
    params.drive_overrides = {{.drive_id = "rootfs", .path_on_host = file_of("a.img", 1 << 20)}};
    EXPECT_NE(load_error().find("the snapshot has no drive 'rootfs'"), std::string::npos);
    params.drive_overrides = {{.drive_id = "eth0", .path_on_host = file_of("a.img", 1 << 20)}};
    EXPECT_NE(load_error().find("no drive 'eth0'"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesADriveOverrideOfAnotherSize) {
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = file_of("a.img", 4096)}};
    const std::string error = load_error();
    EXPECT_NE(error.find("drive 'scratch': " + dir +
                         "/a.img is 4096 bytes, the snapshot's drive "
                         "was 1048576 bytes"),
              std::string::npos)
        << error;
}

TEST_F(SnapshotLoaderTest, RefusesADriveOverrideThatIsNotADiskWithoutBlocking) {
    const std::string fifo = dir + "/fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = fifo}};
    auto begin = std::chrono::steady_clock::now();
    std::string error = load_error();
    EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
    EXPECT_NE(error.find("a FIFO, not a regular file or block device"), std::string::npos) << error;
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = dir}};
    error = load_error();
    EXPECT_NE(error.find("a directory"), std::string::npos) << error;
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = dir + "/missing.img"}};
    error = load_error();
    EXPECT_NE(error.find("missing.img"), std::string::npos) << error;
    EXPECT_EQ(error.find("/nonexistent/kvm"), std::string::npos) << error;
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = ""}};
    EXPECT_NE(load_error().find("path_on_host is empty"), std::string::npos);
}

TEST_F(SnapshotLoaderTest, RefusesADriveNamedTwice) {
    const std::string path = file_of("a.img", 1 << 20);
    params.drive_overrides = {{.drive_id = "scratch", .path_on_host = path},
                              {.drive_id = "scratch", .path_on_host = path}};
    EXPECT_NE(load_error().find("drive 'scratch' is named twice"), std::string::npos);
}

// clock_realtime needs the host time of the save, which snapshots of older Embers lack; KVM's
// own pair (KVM_CLOCK_REALTIME reported at save) is enough too.
TEST_F(SnapshotLoaderTest, RefusesClockRealtimeForASnapshotWithoutItsSaveTime) {
    params.clock_realtime = true;
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
    state.vm.host_realtime_ns = 0;
    EXPECT_NE(load_error().find("clock_realtime: the snapshot does not hold the host time of its "
                                "save"),
              std::string::npos);
    state.vm.clock.flags = KVM_CLOCK_REALTIME;
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
    state.vm.clock.flags = 0;
    params.clock_realtime = false;
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
}

}  // namespace
}  // namespace ember
