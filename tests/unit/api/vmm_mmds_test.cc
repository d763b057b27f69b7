// MMDS through the API over the real Vmm (no KVM needed: nothing here boots): the data store in
// every phase with its size limit, the configuration's rules, GET /vm/config, the config file.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>

#include "api/config_file.h"
#include "api/json/json_reader.h"
#include "api/router.h"
#include "tests/unit/api/test_request.h"
#include "vmm/core/vmm.h"

namespace ember::api {
namespace {

// A Vmm running its loop on its own thread, as main runs it, with a router in front.
class MmdsVmm {
public:
    explicit MmdsVmm(size_t mmds_size_limit) {
        std::promise<void> ready;
        thread_ = std::jthread([&] {
            Vmm::Options options;
            options.kvm_path = "/nonexistent/kvm";
            options.console_input_fd = -1;
            options.mmds_size_limit = mmds_size_limit;
            Result<std::unique_ptr<Vmm>> vmm = Vmm::create(options);
            if (!vmm) {
                ADD_FAILURE() << vmm.error().message();
                ready.set_value();
                return;
            }
            vmm_ = std::move(*vmm);
            router_ = std::make_unique<Router>(*vmm_);
            ready.set_value();
            (void)vmm_->run();
        });
        ready.get_future().wait();
    }
    ~MmdsVmm() {
        if (vmm_) vmm_->request_exit(Vmm::kExitOk);
    }

    HttpResponse call(HttpMethod method, std::string path, std::string body = {}) {
        return router_->handle(make_request(method, std::move(path), std::move(body)));
    }
    Vmm& vmm() { return *vmm_; }

private:
    std::unique_ptr<Vmm> vmm_;
    std::unique_ptr<Router> router_;
    std::jthread thread_;  // Last: joined before the Vmm goes.
};

TEST(VmmMmds, KeepsTheStoreFromLaunchAndAnswersGetWithIt) {
    MmdsVmm vm(mmds::MmdsStore::kDefaultSizeLimit);
    HttpResponse empty = vm.call(HttpMethod::kGet, "/mmds");
    EXPECT_EQ(empty.status, 200);
    EXPECT_EQ(empty.body, "{}");
    EXPECT_EQ(
        vm.call(HttpMethod::kPut, "/mmds", R"({"latest": {"meta-data": {"id": "i-1"}}})").status,
        204);
    EXPECT_EQ(vm.call(HttpMethod::kPatch, "/mmds", R"({"latest": {"user-data": "x"}})").status,
              204);
    HttpResponse r = vm.call(HttpMethod::kGet, "/mmds");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"latest":{"meta-data":{"id":"i-1"},"user-data":"x"}})");
    // The store is not part of the VM's configuration (Firecracker's config has no MMDS data).
    EXPECT_EQ(vm.vmm().vm_config(), VmConfig{});
}

// Firecracker's MmdsLimitExceeded: 413, and the store keeps what it had.
TEST(VmmMmds, RefusesAStoreOverTheSizeLimitWith413) {
    MmdsVmm vm(32);
    EXPECT_EQ(vm.call(HttpMethod::kPut, "/mmds", R"({"a": "b"})").status, 204);
    HttpResponse put =
        vm.call(HttpMethod::kPut, "/mmds", R"({"a": ")" + std::string(40, 'x') + "\"}");
    EXPECT_EQ(put.status, 413) << put.body;
    HttpResponse patch =
        vm.call(HttpMethod::kPatch, "/mmds", R"({"c": ")" + std::string(40, 'x') + "\"}");
    EXPECT_EQ(patch.status, 413) << patch.body;
    EXPECT_EQ(vm.call(HttpMethod::kGet, "/mmds").body, R"({"a":"b"})");
}

TEST(VmmMmds, RefusesAConfigNamingAnInterfaceThatDoesNotExist) {
    MmdsVmm vm(mmds::MmdsStore::kDefaultSizeLimit);
    HttpResponse r =
        vm.call(HttpMethod::kPut, "/mmds/config", R"({"network_interfaces": ["eth0"]})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("The list of network interface IDs provided contains at least one ID "
                          "that does not correspond to any existing network interface."),
              std::string::npos)
        << r.body;
    r = vm.call(HttpMethod::kPut, "/mmds/config", R"({"network_interfaces": []})");
    EXPECT_NE(r.body.find("The list of network interface IDs that allow forwarding MMDS "
                          "requests is empty."),
              std::string::npos)
        << r.body;
    EXPECT_FALSE(vm.vmm().vm_config().mmds);
}

// The config-file path (no taps opened before boot) carries the MMDS configuration, which
// GET /vm/config then shows and PUT /mmds/config replaces while the VM is not started.
TEST(VmmMmds, TakesTheConfigFromTheConfigFileAndShowsItInVmConfig) {
    MmdsVmm vm(mmds::MmdsStore::kDefaultSizeLimit);
    Result<VmConfig> config = parse_vm_config(R"({
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"},
                               {"iface_id": "eth1", "host_dev_name": "tap1"}],
        "mmds-config": {"network_interfaces": ["eth1"], "version": "V2"}})");
    ASSERT_TRUE(config) << describe(config.error());
    ASSERT_TRUE(vm.vmm().configure(*config));
    HttpResponse r = vm.call(HttpMethod::kGet, "/vm/config");
    EXPECT_NE(r.body.find(R"("mmds-config":{"version":"V2","imds_compat":false,)"
                          R"("network_interfaces":["eth1"],"ipv4_address":"169.254.169.254"})"),
              std::string::npos)
        << r.body;
    EXPECT_EQ(vm.call(HttpMethod::kPut, "/mmds/config",
                      R"({"network_interfaces": ["eth0", "eth1"], "ipv4_address": "169.254.1.1"})")
                  .status,
              204);
    EXPECT_EQ(vm.vmm().vm_config().mmds, (MmdsConfig{.network_interfaces = {"eth0", "eth1"},
                                                     .ipv4_address = {169, 254, 1, 1}}));
    // A load needs an unconfigured process, as Firecracker's: PUT /mmds/config configures it.
    HttpResponse load = vm.call(HttpMethod::kPut, "/snapshot/load",
                                R"({"snapshot_path": "/s", "mem_file_path": "/m"})");
    EXPECT_EQ(load.status, 400);
}

}  // namespace
}  // namespace ember::api
