#include "api/router.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "tests/fakes/fake_vmm_controller.h"
#include "tests/unit/api/test_request.h"

namespace ember::api {
namespace {

class RouterTest : public ::testing::Test {
protected:
    HttpResponse call(HttpMethod method, std::string path, std::string body = {}) {
        return router.handle(make_request(method, std::move(path), std::move(body)));
    }
    HttpResponse put(std::string path, std::string body) {
        return call(HttpMethod::kPut, std::move(path), std::move(body));
    }
    HttpResponse patch(std::string path, std::string body) {
        return call(HttpMethod::kPatch, std::move(path), std::move(body));
    }
    HttpResponse get(std::string path) { return call(HttpMethod::kGet, std::move(path)); }

    // Expects a 400 whose fault_message contains `text`.
    void expect_fault(const HttpResponse& r, const std::string& text) {
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(r.body.rfind("{\"fault_message\":", 0), 0u) << r.body;
        EXPECT_NE(r.body.find(text), std::string::npos) << r.body;
    }

    testing::FakeVmmController fake;
    Router router{fake};
};

constexpr const char* kDrive =
    R"({"drive_id": "rootfs", "path_on_host": "/r.ext4", "is_root_device": true})";
constexpr const char* kNet = R"({"iface_id": "eth0", "host_dev_name": "tap0"})";

TEST_F(RouterTest, AnswersInstanceInfoOnGetRoot) {
    HttpResponse r = get("/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body,
              R"({"app_name":"Firecracker","id":"anonymous-instance","state":"Not started",)"
              R"("vmm_version":"1.7.0"})");
}

TEST_F(RouterTest, AnswersTheVersion) {
    HttpResponse r = get("/version");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"firecracker_version":"1.7.0"})");
}

TEST_F(RouterTest, StartsTheInstanceOnInstanceStart) {
    EXPECT_EQ(put("/actions", R"({"action_type": "InstanceStart"})").status, 204);
    EXPECT_EQ(fake.last_call(), "start");
    EXPECT_EQ(put("/actions", R"({"action_type": "SendCtrlAltDel"})").status, 204);
    EXPECT_EQ(fake.last_call(), "send_ctrl_alt_del");
    EXPECT_EQ(put("/actions", R"({"action_type": "FlushMetrics"})").status, 204);
    EXPECT_EQ(fake.last_call(), "flush_metrics");
    EXPECT_NE(get("/").body.find("\"Running\""), std::string::npos);
}

TEST_F(RouterTest, RefusesUnknownActions) {
    expect_fault(put("/actions", R"({"action_type": "Reboot"})"),
                 "unknown variant `Reboot`, expected one of `FlushMetrics`, "
                 "`InstanceStart`, `SendCtrlAltDel`");
    expect_fault(put("/actions", R"({})"), "missing field `action_type`");
    expect_fault(put("/actions", R"({"action_type": 1})"), "expected a string");
    EXPECT_TRUE(fake.calls().empty());
}

TEST_F(RouterTest, SetsTheBootSource) {
    EXPECT_EQ(
        put("/boot-source", R"({"kernel_image_path": "/vmlinux", "boot_args": "quiet"})").status,
        204);
    ASSERT_TRUE(fake.config.boot_source);
    EXPECT_EQ(fake.config.boot_source->kernel_image_path, "/vmlinux");
    EXPECT_EQ(fake.config.boot_source->boot_args, "quiet");
}

TEST_F(RouterTest, RefusesBadBootSources) {
    expect_fault(put("/boot-source", R"({"boot_args": "x"})"), "missing field `kernel_image_path`");
    expect_fault(put("/boot-source", R"({"kernel_image_path": 5})"), "expected a string");
    expect_fault(put("/boot-source", R"({"kernel_image_path": "/k", "kernel": "/k"})"),
                 "unknown field `kernel`");
    expect_fault(put("/boot-source", R"([])"), "invalid type: sequence, expected a map.");
    expect_fault(put("/boot-source", R"({"kernel_image_path": "/k")"),
                 "EOF while parsing an object at line 1 column 26.");
    EXPECT_TRUE(fake.calls().empty());
}

TEST_F(RouterTest, PutsAndGetsTheMachineConfig) {
    EXPECT_EQ(
        put("/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 512, "smt": true})").status,
        204);
    EXPECT_EQ(fake.config.machine.vcpu_count, 2u);
    EXPECT_EQ(fake.config.machine.mem_size_mib, 512u);
    HttpResponse r = get("/machine-config");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"vcpu_count":2,"mem_size_mib":512,"smt":true,)"
                      R"("track_dirty_pages":false,"huge_pages":"None"})");
}

TEST_F(RouterTest, PatchesOnlyTheGivenMachineFields) {
    fake.config.machine.vcpu_count = 4;
    EXPECT_EQ(patch("/machine-config", R"({"mem_size_mib": 1024})").status, 204);
    EXPECT_EQ(fake.config.machine.vcpu_count, 4u);
    EXPECT_EQ(fake.config.machine.mem_size_mib, 1024u);
}

TEST_F(RouterTest, RefusesBadMachineConfigs) {
    expect_fault(put("/machine-config", R"({"vcpu_count": 2})"),
                 "{\"fault_message\":\"An error occurred when deserializing the json body of a "
                 "request: missing field `mem_size_mib` at line 1 column 17.\"}");
    expect_fault(put("/machine-config", R"({"vcpu_count": "1", "mem_size_mib": 128})"),
                 "invalid type: string \\\"1\\\", expected u8.");
    expect_fault(patch("/machine-config", R"({"huge_pages": "1G"})"),
                 "unknown variant `1G`, expected one of `None`, `Transparent`, `2M`");
    expect_fault(patch("/machine-config", R"({"cpu_template": "T3"})"), "unknown");
    expect_fault(patch("/machine-config", R"({"vcpus": 2})"), "unknown field `vcpus`");
    // serde reads in order: a wrong value before the end wins over a missing field.
    expect_fault(put("/machine-config", R"({"mem_size_mib": 18446744073709551616})"),
                 "request: invalid type: floating point `");
    expect_fault(patch("/machine-config", "{}"), "{\"fault_message\":\"Empty PATCH request.\"}");
    expect_fault(patch("/machine-config", R"({"smt": null})"), "Empty PATCH request.");
    expect_fault(put("/machine-config", "\n  {\"vcpu_count\": 2\n  }\n"),
                 "missing field `mem_size_mib` at line 3 column 3.");
    expect_fault(put("/machine-config", "invalid"),
                 "{\"fault_message\":\"An error occurred when deserializing the json body of a "
                 "request: expected value at line 1 column 1.\"}");
}

// PATCH hands the VMM the merged configuration, which the VMM checks as a whole.
TEST_F(RouterTest, PatchSendsTheMergedMachineConfig) {
    EXPECT_EQ(patch("/machine-config", R"({"huge_pages": "2M", "mem_size_mib": 256})").status, 204);
    EXPECT_EQ(fake.config.machine.huge_pages, HugePages::k2M);
    EXPECT_EQ(patch("/machine-config", R"({"mem_size_mib": 255})").status, 204);
    EXPECT_EQ(fake.config.machine.huge_pages, HugePages::k2M);
    EXPECT_EQ(fake.config.machine.mem_size_mib, 255u);
}

// The router parses; the rules of the configuration are the VMM's (vmm_api_test checks them).
TEST_F(RouterTest, LeavesTheConfigurationRulesToTheVmm) {
    EXPECT_EQ(put("/boot-source", R"({"kernel_image_path": ""})").status, 204);
    EXPECT_EQ(put("/machine-config", R"({"vcpu_count": 0, "mem_size_mib": 128})").status, 204);
    EXPECT_EQ(put("/drives/bad-id", R"({"drive_id": "bad-id", "path_on_host": "/r",
                                        "is_root_device": false})")
                  .status,
              204);
    EXPECT_EQ(put("/network-interfaces/eth0", R"({"iface_id": "eth0", "host_dev_name": "t",
                                                  "mtu": 20})")
                  .status,
              204);
    EXPECT_EQ(fake.calls(), (std::vector<std::string>{"set_boot_source", "set_machine_config",
                                                      "put_drive", "put_net"}));
}

TEST_F(RouterTest, PutsADrive) {
    EXPECT_EQ(put("/drives/rootfs", kDrive).status, 204);
    ASSERT_EQ(fake.config.drives.size(), 1u);
    EXPECT_EQ(fake.config.drives[0].path_on_host, "/r.ext4");
    EXPECT_TRUE(fake.config.drives[0].is_root_device);
}

TEST_F(RouterTest, RefusesADriveWhoseIdDiffersFromThePath) {
    expect_fault(put("/drives/other", kDrive), "does not match the id from the body");
    EXPECT_TRUE(fake.calls().empty());
}

TEST_F(RouterTest, RefusesBadDrives) {
    expect_fault(put("/drives/a", R"({"drive_id": "a", "path_on_host": "/r"})"),
                 "missing field `is_root_device`");
    expect_fault(put("/drives/a", R"({"drive_id": "a", "path_on_host": "/r",
                                      "is_root_device": "yes"})"),
                 "expected a boolean");
    expect_fault(put("/drives/a", R"({"drive_id": "a", "path_on_host": "/r",
                                      "is_root_device": false, "io_engine": "Uring"})"),
                 "unknown variant");
    expect_fault(put("/drives/a", R"({"drive_id": "a", "socket": "/s", "is_root_device": false})"),
                 "vhost-user-block");
    expect_fault(put("/drives/a", R"({"drive_id": "a", "path_on_host": "/r",
        "is_root_device": false, "rate_limiter": {"bandwidth": {"size": -1, "refill_time": 1}}})"),
                 "invalid value: integer `-1`, expected u64.");
}

TEST_F(RouterTest, PatchesADrive) {
    EXPECT_EQ(patch("/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": "/new"})").status,
              204);
    ASSERT_TRUE(fake.last_drive_update);
    EXPECT_EQ(fake.last_drive_update->path_on_host, "/new");
    expect_fault(patch("/drives/rootfs", R"({"drive_id": "x"})"), "does not match");
    expect_fault(patch("/drives/rootfs", R"({"drive_id": "rootfs", "is_read_only": true})"),
                 "unknown field `is_read_only`");
}

TEST_F(RouterTest, PutsAndPatchesANetworkInterface) {
    EXPECT_EQ(put("/network-interfaces/eth0", kNet).status, 204);
    ASSERT_EQ(fake.config.nets.size(), 1u);
    EXPECT_EQ(fake.config.nets[0].host_dev_name, "tap0");
    EXPECT_EQ(patch("/network-interfaces/eth0",
                    R"({"iface_id": "eth0", "rx_rate_limiter": {"ops": {"size": 10,
                        "refill_time": 100}}})")
                  .status,
              204);
    ASSERT_TRUE(fake.last_net_update);
    EXPECT_EQ(fake.last_net_update->rx_rate_limiter->ops->size, 10u);
}

TEST_F(RouterTest, RefusesBadNetworkInterfaces) {
    expect_fault(put("/network-interfaces/eth1", kNet), "does not match");
    expect_fault(put("/network-interfaces/eth0", R"({"iface_id": "eth0"})"),
                 "missing field `host_dev_name`");
    expect_fault(put("/network-interfaces/eth0", R"({"iface_id": "eth0", "host_dev_name": "t",
                                                     "guest_mac": 5})"),
                 "expected a string");
    expect_fault(patch("/network-interfaces/eth0", R"({"iface_id": "eth0", "host_dev_name": "t"})"),
                 "unknown field `host_dev_name`");
}

TEST_F(RouterTest, PausesAndResumesTheVm) {
    EXPECT_EQ(patch("/vm", R"({"state": "Paused"})").status, 204);
    EXPECT_EQ(fake.last_call(), "pause");
    EXPECT_EQ(patch("/vm", R"({"state": "Resumed"})").status, 204);
    EXPECT_EQ(fake.last_call(), "resume");
    expect_fault(patch("/vm", R"({"state": "Stopped"})"),
                 "unknown variant `Stopped`, expected `Paused` or `Resumed`");
}

TEST_F(RouterTest, RendersTheVmConfig) {
    ASSERT_EQ(put("/drives/rootfs", kDrive).status, 204);
    HttpResponse r = get("/vm/config");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"("drives":[{"drive_id":"rootfs")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("machine-config":{"vcpu_count":1)"), std::string::npos) << r.body;
}

TEST_F(RouterTest, ConfiguresLoggerMetricsAndSerial) {
    EXPECT_EQ(
        put("/logger", R"({"log_path": "/l", "level": "warning", "show_level": true})").status,
        204);
    EXPECT_EQ(fake.config.logger->level, "warning");
    EXPECT_EQ(put("/metrics", R"({"metrics_path": "/m"})").status, 204);
    EXPECT_EQ(fake.config.metrics->metrics_path, "/m");
    EXPECT_EQ(put("/serial", R"({"serial_out_path": "/s"})").status, 204);
    EXPECT_EQ(fake.config.serial->serial_out_path, "/s");
    expect_fault(put("/logger", R"({"level": "Verbose"})"), "unknown level");
    expect_fault(put("/metrics", R"({})"), "missing field `metrics_path`");
    expect_fault(put("/serial", R"({"rate_limiter": {"size": 1}})"), "missing field `refill_time`");
}

TEST_F(RouterTest, ParsesSnapshotRequests) {
    EXPECT_EQ(put("/snapshot/create", R"({"snapshot_path": "/s", "mem_file_path": "/m",
                                          "snapshot_type": "Diff"})")
                  .status,
              204);
    ASSERT_TRUE(fake.last_snapshot_create);
    EXPECT_EQ(fake.last_snapshot_create->type, SnapshotType::kDiff);
    EXPECT_EQ(put("/snapshot/load", R"({"snapshot_path": "/s",
        "mem_backend": {"backend_type": "Uffd", "backend_path": "/uffd.sock"},
        "track_dirty_pages": true, "resume_vm": true,
        "network_overrides": [{"iface_id": "eth0", "host_dev_name": "tap9"}]})")
                  .status,
              204);
    ASSERT_TRUE(fake.last_snapshot_load);
    const SnapshotLoadParams& p = *fake.last_snapshot_load;
    EXPECT_EQ(p.backend_type, MemBackendType::kUffd);
    EXPECT_EQ(p.backend_path, "/uffd.sock");
    EXPECT_TRUE(p.track_dirty_pages);
    EXPECT_TRUE(p.resume_vm);
    ASSERT_EQ(p.network_overrides.size(), 1u);
    EXPECT_EQ(p.network_overrides[0].host_dev_name, "tap9");
}

// Firecracker's clock_realtime and Ember's drive_overrides.
TEST_F(RouterTest, ParsesClockRealtimeAndDriveOverrides) {
    EXPECT_EQ(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "clock_realtime": true,
        "drive_overrides": [{"drive_id": "scratch", "path_on_host": "/clone1/scratch.img"},
                            {"drive_id": "rootfs", "path_on_host": "/clone1/root.img"}]})")
                  .status,
              204);
    ASSERT_TRUE(fake.last_snapshot_load);
    const SnapshotLoadParams& p = *fake.last_snapshot_load;
    EXPECT_TRUE(p.clock_realtime);
    ASSERT_EQ(p.drive_overrides.size(), 2u);
    EXPECT_EQ(p.drive_overrides[0].drive_id, "scratch");
    EXPECT_EQ(p.drive_overrides[0].path_on_host, "/clone1/scratch.img");
    EXPECT_EQ(p.drive_overrides[1].drive_id, "rootfs");
    EXPECT_EQ(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "clock_realtime": false, "drive_overrides": []})")
                  .status,
              204);
    EXPECT_FALSE(fake.last_snapshot_load->clock_realtime);
    EXPECT_TRUE(fake.last_snapshot_load->drive_overrides.empty());
}

TEST_F(RouterTest, RefusesMalformedDriveOverridesAndClockRealtime) {
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "drive_overrides": {"drive_id": "scratch", "path_on_host": "/x"}})"),
                 "invalid type: map, expected a sequence");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "drive_overrides": [{"drive_id": "scratch"}]})"),
                 "missing field `path_on_host`");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "drive_overrides": [{"path_on_host": "/x"}]})"),
                 "missing field `drive_id`");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "drive_overrides": [{"drive_id": "a", "path_on_host": "/x", "is_read_only": true}]})"),
                 "is_read_only");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "clock_realtime": "yes"})"),
                 "expected a boolean");
}

// Ember's mem_backend.working_set_path: File only, refused before the load (the process goes on).
TEST_F(RouterTest, ParsesAWorkingSetPathForTheFileBackendOnly) {
    EXPECT_EQ(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_backend":
        {"backend_type": "File", "backend_path": "/m", "working_set_path": "/m.ws"}})")
                  .status,
              204);
    ASSERT_TRUE(fake.last_snapshot_load);
    EXPECT_EQ(fake.last_snapshot_load->working_set_path, "/m.ws");
    EXPECT_EQ(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m"})").status,
              204);
    EXPECT_FALSE(fake.last_snapshot_load->working_set_path);
    fake.last_snapshot_load.reset();
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_backend":
        {"backend_type": "Uffd", "backend_path": "/u", "working_set_path": "/m.ws"}})"),
                 "working_set_path is for the File backend");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_backend":
        {"backend_type": "File", "backend_path": "/m", "working_set_path": ""}})"),
                 "working_set_path must not be empty");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_backend":
        {"backend_type": "File", "backend_path": "/m", "working_set_path": 7}})"),
                 "expected a string");
    EXPECT_FALSE(fake.last_snapshot_load);
}

TEST_F(RouterTest, AcceptsTheDeprecatedMemFilePath) {
    EXPECT_EQ(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m"})").status,
              204);
    EXPECT_EQ(fake.last_snapshot_load->backend_type, MemBackendType::kFile);
    EXPECT_EQ(fake.last_snapshot_load->backend_path, "/m");
}

TEST_F(RouterTest, RefusesBadSnapshotRequests) {
    expect_fault(put("/snapshot/create", R"({"snapshot_path": "/s"})"),
                 "missing field `mem_file_path`");
    expect_fault(put("/snapshot/create", R"({"snapshot_path": "/s", "mem_file_path": "/m",
                                             "snapshot_type": "Partial"})"),
                 "unknown variant");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s"})"), "mem_backend");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
        "mem_backend": {"backend_type": "File", "backend_path": "/m"}})"),
                 "too many fields: either `mem_backend` or `mem_file_path` exclusively is "
                 "required.");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s"})"),
                 "missing field: either `mem_backend` or `mem_file_path` is required");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s",
        "mem_backend": {"backend_path": "/m"}})"),
                 "missing field `backend_type`");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s",
        "mem_backend": {"backend_type": "File"}})"),
                 "missing field `backend_path`");
    expect_fault(put("/snapshot/load", R"({"mem_backend": {"backend_type": "File",
        "backend_path": "/m"}})"),
                 "missing field `snapshot_path`");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s",
        "mem_backend": {"backend_type": "Disk", "backend_path": "/m"}})"),
                 "unknown variant `Disk`, expected `File` or `Uffd`");
    expect_fault(put("/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m",
                                           "vsock_override": {"uds_path": "/v"}})"),
                 "Ember does not support vsock");
}

TEST_F(RouterTest, ReportsControllerErrorsAsFaults) {
    fake.fail_with(Error::invalid("InstanceStart", "not allowed after the VM started"));
    expect_fault(put("/boot-source", R"({"kernel_image_path": "/k"})"),
                 "InstanceStart: not allowed after the VM started");
    expect_fault(put("/drives/rootfs", kDrive), "not allowed after the VM started");
    expect_fault(put("/actions", R"({"action_type": "InstanceStart"})"), "not allowed");
    expect_fault(patch("/vm", R"({"state": "Paused"})"), "not allowed");
    EXPECT_EQ(router.counters().put_fails.load(), 3u);
    EXPECT_EQ(router.counters().patch_fails.load(), 1u);
}

TEST_F(RouterTest, RefusesDevicesEmberLacks) {
    for (const char* path : {"/balloon", "/balloon/statistics", "/balloon/hinting/start", "/vsock",
                             "/entropy", "/pmem/p0", "/hotplug/memory"}) {
        expect_fault(put(path, "{}"), "Ember does not support");
        expect_fault(get(path), "Ember does not support");
    }
    EXPECT_TRUE(fake.calls().empty());
}

TEST_F(RouterTest, PutsPatchesAndGetsTheMmdsStore) {
    EXPECT_EQ(put("/mmds", R"({"latest": {"meta-data": {"id": "i-1"}}})").status, 204);
    EXPECT_EQ(fake.last_call(), "put_mmds");
    EXPECT_EQ(fake.mmds_json, R"({"latest": {"meta-data": {"id": "i-1"}}})");
    EXPECT_EQ(patch("/mmds", R"({"latest": null})").status, 204);
    EXPECT_EQ(fake.last_call(), "patch_mmds");
    EXPECT_EQ(fake.mmds_json, R"({"latest": null})");
    HttpResponse r = get("/mmds");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"latest": null})");
    EXPECT_EQ(fake.last_call(), "get_mmds");
}

TEST_F(RouterTest, RefusesAnMmdsBodyThatIsNotJsonBeforeTheVmm) {
    expect_fault(put("/mmds", "invalid_body"), "");
    expect_fault(patch("/mmds", R"({"a": )"), "");
    EXPECT_TRUE(fake.calls().empty());
    expect_fault(put("/mmds", ""), "Empty PUT request.");
    expect_fault(call(HttpMethod::kGet, "/mmds", "{}"), "GET request cannot have a body.");
    expect_fault(call(HttpMethod::kOther, "/mmds"), "Invalid request method and/or path");
}

// The store's errors keep their kind: over the size limit is Firecracker's 413.
TEST_F(RouterTest, AnswersAnMmdsStoreOverItsLimitWith413) {
    fake.fail_with(
        Error::invalid("MMDS limit exceeded error", "The MMDS patch request doesn't fit.")
            .with_kind(ErrorKind::kTooLarge));
    HttpResponse r = put("/mmds", R"({"a": "b"})");
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("The MMDS patch request doesn't fit."), std::string::npos) << r.body;
    EXPECT_EQ(patch("/mmds", R"({"a": "b"})").status, 413);
    EXPECT_EQ(get("/mmds").status, 413);
}

TEST_F(RouterTest, ParsesTheMmdsConfig) {
    EXPECT_EQ(put("/mmds/config", R"({"network_interfaces": ["eth0", "eth1"], "version": "V2",
        "ipv4_address": "169.254.170.2", "imds_compat": true})")
                  .status,
              204);
    EXPECT_EQ(fake.last_call(), "set_mmds_config");
    ASSERT_TRUE(fake.config.mmds);
    EXPECT_EQ(*fake.config.mmds, (MmdsConfig{.network_interfaces = {"eth0", "eth1"},
                                             .version = MmdsVersion::kV2,
                                             .ipv4_address = {169, 254, 170, 2},
                                             .imds_compat = true}));
    // Firecracker's defaults: V1, 169.254.169.254, no IMDS compatibility.
    EXPECT_EQ(put("/mmds/config", R"({"network_interfaces": []})").status, 204);
    EXPECT_EQ(*fake.config.mmds, MmdsConfig{});
}

// The cases of Firecracker's test_parse_put_mmds_request that its parser refuses.
TEST_F(RouterTest, RefusesAnMmdsConfigFirecrackerRefuses) {
    expect_fault(put("/mmds/config", R"({"version": "foo", "network_interfaces": []})"),
                 "unknown variant `foo`, expected `V1` or `V2`");
    expect_fault(put("/mmds/config", R"({"version": "V2"})"),
                 "missing field `network_interfaces` at line 1 column 17.");
    // An unknown field is named before the missing one, as serde's deny_unknown_fields does.
    expect_fault(put("/mmds/config", R"({"invalid_config": "invalid_value"})"),
                 "unknown field `invalid_config`, expected one of `network_interfaces`, `version`, "
                 "`ipv4_address`, `imds_compat`.");
    expect_fault(put("/mmds/config", R"({"ipv4_address": "", "network_interfaces": []})"),
                 "invalid IPv4 address syntax");
    expect_fault(put("/mmds/config", R"({"invalid_config": "invalid_value"})"), "");
    expect_fault(put("/mmds/config", R"({"network_interfaces": [], "x": 1})"), "x");
    expect_fault(put("/mmds/config", R"({"network_interfaces": "eth0"})"),
                 "invalid type: string \\\"eth0\\\", expected a sequence.");
    expect_fault(put("/mmds/config", R"({"network_interfaces": [1]})"), "expected a string");
    for (const char* ip : {"169.254.169", "169.254.169.254.1", "169.254.169.256", "169.254.1.01",
                           " 169.254.1.1", "169.254.1.1 ", "169.254.-1.1", "a.b.c.d"}) {
        expect_fault(put("/mmds/config", fmt::format(R"({{"ipv4_address": "{}",
            "network_interfaces": []}})",
                                                     ip)),
                     "invalid IPv4 address syntax");
    }
    expect_fault(put("/mmds/invalid_path", "{}"), "Unrecognized PUT request path `invalid_path`.");
    expect_fault(get("/mmds/config"), "Invalid request method and/or path: GET mmds.");
    EXPECT_TRUE(fake.calls().empty());
}

TEST_F(RouterTest, RefusesUnknownPathsAndMethodsAsFirecrackerDoes) {
    // parsed_request.rs names the first segment of the path, without its slash.
    expect_fault(get("/nothing/more"), "Invalid request method and/or path: GET nothing.");
    expect_fault(put("/", "{}"), "Invalid request method and/or path: PUT .");
    expect_fault(get("/actions"), "Invalid request method and/or path: GET actions.");
    expect_fault(put("/snapshot/nope", "{}"),
                 "Invalid request method and/or path: PUT /snapshot/nope.");
    expect_fault(put("/drives", kDrive), "The ID cannot be empty.");
    expect_fault(patch("/network-interfaces", "{}"), "The ID cannot be empty.");
    expect_fault(put("/drives/a/b", kDrive), "Invalid request method and/or path");
    expect_fault(call(HttpMethod::kOther, "/drives/a"),
                 "Invalid request method and/or path: "
                 "DELETE drives.");
    expect_fault(put("/vm", R"({"state": "Paused"})"), "Invalid request method and/or path");
}

TEST_F(RouterTest, RefusesEmptyBodiesAndGetBodies) {
    expect_fault(put("/boot-source", ""), "Empty PUT request.");
    expect_fault(patch("/vm", ""), "Empty PATCH request.");
    expect_fault(call(HttpMethod::kGet, "/", "{}"), "GET request cannot have a body.");
}

}  // namespace
}  // namespace ember::api
