// load_machine's checks that come before any KVM call: a state file that decodes but describes a
// machine Ember cannot or must not build is refused without touching /dev/kvm.
#include "vmm/core/snapshot_loader.h"

#include <gtest/gtest.h>

#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/legacy/vmgenid_persist.h"
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

// As Firecracker: hugetlb memory cannot be a MAP_PRIVATE file mapping, so a 2M snapshot needs
// the Uffd backend; the File backend is refused before anything is built.
TEST_F(SnapshotLoaderTest, RefusesTheFileBackendForA2MSnapshot) {
    state.machine.huge_pages = "2M";
    params.backend_type = MemBackendType::kFile;
    const std::string error = load_error();
    EXPECT_NE(error.find("2M huge pages (hugetlbfs), which the File backend cannot map"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("backend_type Uffd"), std::string::npos) << error;
    params.backend_type = MemBackendType::kUffd;
    EXPECT_NE(load_error().find("/nonexistent/kvm"), std::string::npos);
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

}  // namespace
}  // namespace ember
