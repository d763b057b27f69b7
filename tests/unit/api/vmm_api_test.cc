// The API over the real Vmm (no KVM needed: nothing here boots): phases, the logger, metrics,
// GET /vm/config feeding a config file, and an answer for every path of Firecracker's spec.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/config_file.h"
#include "api/router.h"
#include "tests/unit/api/test_request.h"
#include "vmm/base/log.h"
#include "vmm/core/vmm.h"

namespace ember::api {
namespace {

// PUT /logger opens its file and never creates it, as Firecracker's: the tests create it first.
void create_file(const std::string& path) { std::ofstream created(path); }

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// A Vmm running its loop on its own thread, as main runs it, with a router in front.
class RunningVmm {
public:
    explicit RunningVmm(const std::string& dir,
                        std::chrono::milliseconds metrics_period = std::chrono::seconds(60)) {
        std::promise<void> ready;
        thread_ = std::jthread([&] {
            Vmm::Options options;
            options.kvm_path = dir + "/no-kvm-here";  // InstanceStart must fail cleanly.
            options.console_input_fd = -1;
            options.metrics_period = metrics_period;
            Result<std::unique_ptr<Vmm>> vmm = Vmm::create(options);
            if (!vmm) {
                ADD_FAILURE() << vmm.error().message();
                ready.set_value();
                return;
            }
            vmm_ = std::move(*vmm);
            router_ = std::make_unique<Router>(*vmm_);
            ready.set_value();
            exit_code_ = vmm_->run();
        });
        ready.get_future().wait();
    }
    ~RunningVmm() { stop(); }

    int stop() {
        if (thread_.joinable()) {
            if (vmm_) vmm_->request_exit(Vmm::kExitOk);
            thread_.join();
        }
        return exit_code_;
    }
    // Waits for the Vmm to end by itself.
    int wait() {
        if (thread_.joinable()) thread_.join();
        return exit_code_;
    }

    HttpResponse call(HttpMethod method, std::string path, std::string body = {}) {
        return router_->handle(make_request(method, std::move(path), std::move(body)));
    }
    HttpResponse get(std::string path) { return call(HttpMethod::kGet, std::move(path)); }
    HttpResponse put(std::string path, std::string body) {
        return call(HttpMethod::kPut, std::move(path), std::move(body));
    }
    HttpResponse patch(std::string path, std::string body) {
        return call(HttpMethod::kPatch, std::move(path), std::move(body));
    }

    Vmm& vmm() { return *vmm_; }
    Router& router() { return *router_; }

private:
    std::unique_ptr<Vmm> vmm_;
    std::unique_ptr<Router> router_;
    int exit_code_ = -1;
    std::jthread thread_;
};

class VmmApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/ember-vmm-api-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { (void)!std::system(("rm -rf " + dir_).c_str()); }

    std::string touch(const std::string& name) {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << std::string(4096, '\0');
        return path;
    }

    static void expect_fault(const HttpResponse& r, const std::string& text) {
        EXPECT_EQ(r.status, 400) << r.body;
        EXPECT_EQ(r.body.rfind("{\"fault_message\":", 0), 0u) << r.body;
        EXPECT_NE(r.body.find(text), std::string::npos) << r.body;
    }

    std::string dir_;
};

TEST_F(VmmApiTest, FailsInstanceStartWithoutKvmClearlyAndKeepsServing) {
    RunningVmm vm(dir_);
    EXPECT_EQ(vm.put("/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 64})").status, 204);
    std::string kernel = touch("vmlinux");
    EXPECT_EQ(vm.put("/boot-source", R"({"kernel_image_path": ")" + kernel + R"("})").status, 204);
    HttpResponse start = vm.put("/actions", R"({"action_type": "InstanceStart"})");
    expect_fault(start, "InstanceStart failed");
    expect_fault(start, "no-kvm-here");
    // Still pre-boot and still answering.
    EXPECT_NE(vm.get("/").body.find(R"("state":"Not started")"), std::string::npos);
    EXPECT_EQ(vm.put("/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 128})").status, 204);
    EXPECT_EQ(vm.vmm().vm_config().machine.vcpu_count, 2u);
}

TEST_F(VmmApiTest, RefusesPostBootActionsBeforeTheVmStarts) {
    RunningVmm vm(dir_);
    const std::string pre_boot =
        "The requested operation is not supported before starting the microVM.";
    expect_fault(vm.patch("/vm", R"({"state": "Paused"})"), pre_boot);
    expect_fault(vm.patch("/vm", R"({"state": "Resumed"})"), pre_boot);
    expect_fault(vm.put("/actions", R"({"action_type": "SendCtrlAltDel"})"), pre_boot);
    expect_fault(vm.patch("/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": "x"})"),
                 pre_boot);
    EXPECT_NE(vm.get("/").body.find(R"("state":"Not started")"), std::string::npos);
}

// The rules of the configuration are checked once, in the VMM, whatever the router parsed.
TEST_F(VmmApiTest, RefusesConfigurationsThatBreakItsRules) {
    RunningVmm vm(dir_);
    expect_fault(vm.put("/boot-source", R"({"kernel_image_path": ""})"),
                 "kernel_image_path: must not be empty");
    expect_fault(vm.put("/machine-config", R"({"vcpu_count": 0, "mem_size_mib": 128})"),
                 "vcpu_count: The vCPU number is invalid!");
    expect_fault(
        vm.put("/machine-config", R"({"vcpu_count": 3, "mem_size_mib": 128, "smt": true})"),
        "The vCPU number can only be 1 or an even number when SMT is enabled.");
    expect_fault(
        vm.put("/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 129, "huge_pages": "2M"})"),
        "mem_size_mib: The memory size (MiB) is either 0, or not a multiple of the configured "
        "page size.");
    expect_fault(vm.put("/drives/bad-id", R"({"drive_id": "bad-id", "path_on_host": "/r",
                                              "is_root_device": false})"),
                 "API Resource IDs can only contain alphanumeric characters and underscores.");
    expect_fault(vm.put("/network-interfaces/eth0", R"({"iface_id": "eth0",
                        "host_dev_name": "t", "guest_mac": "zz"})"),
                 "guest_mac: 'zz' is not a MAC address");
    expect_fault(vm.put("/network-interfaces/eth0", R"({"iface_id": "eth0",
                        "host_dev_name": "t", "mtu": 20})"),
                 "mtu: must be 68 to 65535");
    EXPECT_EQ(vm.vmm().vm_config(), VmConfig{});
}

// PATCH /machine-config is checked merged: an odd size is refused once huge_pages is 2M.
TEST_F(VmmApiTest, PatchRefusesAnOddMemorySizeFor2MHugePages) {
    RunningVmm vm(dir_);
    EXPECT_EQ(vm.patch("/machine-config", R"({"huge_pages": "2M", "mem_size_mib": 256})").status,
              204);
    expect_fault(
        vm.patch("/machine-config", R"({"mem_size_mib": 255})"),
        "The memory size (MiB) is either 0, or not a multiple of the configured page size.");
    EXPECT_EQ(vm.vmm().vm_config().machine.mem_size_mib, 256u);
    EXPECT_EQ(vm.vmm().vm_config().machine.huge_pages, HugePages::k2M);
}

TEST_F(VmmApiTest, SnapshotCreateNeedsAPausedVm) {
    RunningVmm vm(dir_);
    expect_fault(vm.put("/snapshot/create", R"({"snapshot_path": "s", "mem_file_path": "m"})"),
                 "The requested operation is not supported before starting the microVM.");
    EXPECT_NE(vm.get("/").body.find(R"("state":"Not started")"), std::string::npos);
}

// Firecracker's rule: only the logger, metrics and serial may precede a load. A refused load is
// a phase error: the process goes on.
TEST_F(VmmApiTest, SnapshotLoadIsRefusedAfterOtherConfiguration) {
    RunningVmm vm(dir_);
    EXPECT_EQ(vm.put("/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 64})").status, 204);
    HttpResponse r = vm.put("/snapshot/load", R"({"snapshot_path": "s",
                 "mem_backend": {"backend_type": "File", "backend_path": "m"}})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, R"({"fault_message":"Load snapshot error: Loading a microVM snapshot not )"
                      R"(allowed after configuring boot-specific resources."})");
    EXPECT_NE(vm.get("/").body.find(R"("state":"Not started")"), std::string::npos);
    EXPECT_EQ(vm.stop(), Vmm::kExitOk);
}

// A load that fails ends the process (exit 1) after answering, whatever it failed on: here a
// state file that is not one, after a logger was set (which a load allows).
TEST_F(VmmApiTest, FailedSnapshotLoadAnswersAndEndsTheProcess) {
    RunningVmm vm(dir_);
    create_file(dir_ + "/log");
    EXPECT_EQ(vm.put("/logger", R"({"log_path": ")" + dir_ + R"(/log", "level": "Info"})").status,
              204);
    std::string state = touch("corrupt.state");
    std::string mem = touch("snap.mem");
    HttpResponse r = vm.put("/snapshot/load", R"({"snapshot_path": ")" + state +
                                                  R"(", "mem_backend": {"backend_type": "File",
                                                  "backend_path": ")" +
                                                  mem + R"("}})");
    expect_fault(r, "snapshot load");
    expect_fault(r, "corrupt.state");
    EXPECT_EQ(vm.wait(), Vmm::kExitGeneric);
    EXPECT_NE(slurp(dir_ + "/log").find("Loading the snapshot failed, the process ends"),
              std::string::npos);
}

TEST_F(VmmApiTest, GetVmConfigOutputConfiguresTheSameVmAsAConfigFile) {
    std::string kernel = touch("vmlinux");
    std::string initrd = touch("initrd");
    std::string disk = touch("disk.ext4");
    VmConfig original;
    {
        RunningVmm vm(dir_);
        ASSERT_EQ(vm.put("/boot-source", R"({"kernel_image_path": ")" + kernel +
                                             R"(", "initrd_path": ")" + initrd +
                                             R"(", "boot_args": "console=ttyS0 reboot=k"})")
                      .status,
                  204);
        ASSERT_EQ(vm.put("/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 256,
                                               "smt": false, "track_dirty_pages": true,
                                               "huge_pages": "None"})")
                      .status,
                  204);
        ASSERT_EQ(vm.put("/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": ")" + disk +
                                               R"(", "is_root_device": true, "is_read_only": true,
                                               "cache_type": "Writeback",
                                               "rate_limiter": {"bandwidth": {"size": 1000,
                                               "refill_time": 100}}})")
                      .status,
                  204);
        ASSERT_EQ(vm.put("/serial", R"({"serial_out_path": ")" + dir_ + R"(/serial.out"})").status,
                  204);
        ASSERT_EQ(vm.put("/metrics", R"({"metrics_path": ")" + dir_ + R"(/metrics.json"})").status,
                  204);
        HttpResponse config = vm.get("/vm/config");
        ASSERT_EQ(config.status, 200);
        original = vm.vmm().vm_config();
        std::ofstream(dir_ + "/vm.json") << config.body;
    }
    // The output, read back as --config-file reads it, gives a Vmm the same configuration.
    Result<VmConfig> parsed = parse_vm_config(slurp(dir_ + "/vm.json"));
    ASSERT_TRUE(parsed) << parsed.error().message();
    // Firecracker's output leaves out the process-wide logger and metrics, and the serial port.
    VmConfig carried = original;
    carried.logger.reset();
    carried.metrics.reset();
    carried.serial.reset();
    EXPECT_EQ(*parsed, carried);
    RunningVmm second(dir_);
    Result<void> configured = second.vmm().configure(*parsed);
    ASSERT_TRUE(configured) << configured.error().message();
    EXPECT_EQ(second.vmm().vm_config(), carried);
    EXPECT_EQ(second.get("/vm/config").body, render_full_vm_config(original));
    ASSERT_TRUE(original.boot_source);
    EXPECT_EQ(original.drives.size(), 1u);
    EXPECT_EQ(original.machine.vcpu_count, 2u);
}

// test_net_api_put_update_pre_boot matches "Could not create the network device" when the tap
// cannot be had ("lo" is never one, root or not).
TEST_F(VmmApiTest, RefusesAnInterfaceWhoseTapCannotBeOpenedInFirecrackersWords) {
    RunningVmm vm(dir_);
    expect_fault(
        vm.put("/network-interfaces/eth0", R"({"iface_id": "eth0", "host_dev_name": "lo"})"),
        "Network config error: Could not create the network device: ");
    EXPECT_TRUE(vm.vmm().vm_config().nets.empty());
}

// Firecracker's FullVmConfiguration, as test_get_full_config expects it: every key of its
// VmmConfig in its order, null where it writes null, and nothing else.
TEST_F(VmmApiTest, GetVmConfigIsFirecrackersFullVmConfiguration) {
    RunningVmm vm(dir_);
    EXPECT_EQ(vm.get("/vm/config").body,
              R"({"balloon":null,"drives":[],"boot-source":{"kernel_image_path":"",)"
              R"("initrd_path":null,"boot_args":null},"cpu-config":null,"logger":null,)"
              R"("machine-config":{"vcpu_count":1,"mem_size_mib":128,"smt":false,)"
              R"("track_dirty_pages":false,"huge_pages":"None"},"metrics":null,)"
              R"("mmds-config":null,"network-interfaces":[],"vsock":null,"entropy":null,)"
              R"("pmem":[],"memory-hotplug":null})");
    std::string kernel = touch("vmlinux");
    std::string disk = touch("rootfs");
    ASSERT_EQ(
        vm.put("/boot-source", R"({"kernel_image_path": ")" + kernel + R"(", "boot_args": ""})")
            .status,
        204);
    ASSERT_EQ(vm.put("/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": ")" + disk +
                                           R"(", "is_root_device": true, "is_read_only": true,
                                           "rate_limiter": {"bandwidth": {"size": 1000000,
                                           "refill_time": 100}}})")
                  .status,
              204);
    create_file(dir_ + "/log");
    ASSERT_EQ(vm.put("/logger", R"({"log_path": ")" + dir_ + R"(/log"})").status, 204);
    ASSERT_EQ(vm.put("/serial", R"({"serial_out_path": ")" + dir_ + R"(/serial"})").status, 204);
    EXPECT_EQ(vm.get("/vm/config").body,
              R"({"balloon":null,"drives":[{"drive_id":"rootfs","partuuid":null,)"
              R"("is_root_device":true,"cache_type":"Unsafe","is_read_only":true,)"
              R"("path_on_host":")" +
                  disk +
                  R"(","rate_limiter":{"bandwidth":{"size":1000000,)"
                  R"("one_time_burst":null,"refill_time":100},"ops":null},"io_engine":"Sync",)"
                  R"("socket":null}],"boot-source":{"kernel_image_path":")" +
                  kernel +
                  R"(","initrd_path":null,"boot_args":""},"cpu-config":null,"logger":null,)"
                  R"("machine-config":{"vcpu_count":1,"mem_size_mib":128,"smt":false,)"
                  R"("track_dirty_pages":false,"huge_pages":"None"},"metrics":null,)"
                  R"("mmds-config":null,"network-interfaces":[],"vsock":null,"entropy":null,)"
                  R"("pmem":[],"memory-hotplug":null})");
}

// Before boot FlushMetrics is refused (as Firecracker's); the periodic writes are the flushes.
TEST_F(VmmApiTest, MetricsAreWrittenAsOneJsonLinePerFlush) {
    RunningVmm vm(dir_, std::chrono::milliseconds(50));
    std::string path = dir_ + "/metrics.json";
    ASSERT_EQ(vm.put("/metrics", R"({"metrics_path": ")" + path + R"("})").status, 204);
    expect_fault(vm.put("/metrics", R"({"metrics_path": ")" + path + R"("})"),
                 "Reinitialization of metrics not allowed.");
    vm.vmm().add_metrics_source([](std::vector<MetricGroup>& groups) {
        groups.push_back({"block_rootfs", {{"read_count", 7}}});
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (lines_of(slurp(path)).size() < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::vector<std::string> lines = lines_of(slurp(path));
    ASSERT_GE(lines.size(), 2u);
    for (const std::string& line : lines) {
        rapidjson::Document doc;
        doc.Parse(line.c_str());
        ASSERT_FALSE(doc.HasParseError()) << line;
        EXPECT_TRUE(doc["utc_timestamp_ms"].IsUint64());
        for (const char* group : {"logger", "latencies_us", "vcpu", "uart", "i8042", "vmm",
                                  "api_server", "seccomp", "signals", "block_rootfs"}) {
            EXPECT_TRUE(doc.HasMember(group)) << group << " missing in " << line;
        }
        EXPECT_TRUE(doc["logger"].HasMember("missed_log_count"));
        EXPECT_TRUE(doc["latencies_us"].HasMember("pause_vm"));
    }
    // Counters are written as changes: 7 once, then 0.
    EXPECT_NE(lines[0].find(R"("block_rootfs":{"read_count":7})"), std::string::npos);
    EXPECT_NE(lines[1].find(R"("block_rootfs":{"read_count":0})"), std::string::npos);
}

TEST_F(VmmApiTest, WritesMetricsEveryPeriodAndOnceMoreAtExit) {
    RunningVmm vm(dir_, std::chrono::milliseconds(20));
    std::string path = dir_ + "/metrics.json";
    ASSERT_EQ(vm.put("/metrics", R"({"metrics_path": ")" + path + R"("})").status, 204);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (lines_of(slurp(path)).size() < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(lines_of(slurp(path)).size(), 3u);
    size_t before_exit = lines_of(slurp(path)).size();
    EXPECT_EQ(vm.stop(), Vmm::kExitOk);
    EXPECT_GT(lines_of(slurp(path)).size(), before_exit);
}

// Firecracker's preboot controller refuses FlushMetrics, with a path or without.
// Firecracker's framework puts /serial on every spawn, then loads: the load is attempted (and
// here fails on the missing file, not on the phase).
TEST_F(VmmApiTest, SnapshotLoadIsAttemptedAfterSerialLoggerAndMetrics) {
    RunningVmm vm(dir_);
    EXPECT_EQ(vm.put("/serial", R"({"serial_out_path": ")" + dir_ + R"(/serial.out"})").status,
              204);
    create_file(dir_ + "/log");
    EXPECT_EQ(vm.put("/logger", R"({"log_path": ")" + dir_ + R"(/log"})").status, 204);
    EXPECT_EQ(vm.put("/metrics", R"({"metrics_path": ")" + dir_ + R"(/metrics"})").status, 204);
    HttpResponse r = vm.put("/snapshot/load", R"({"snapshot_path": ")" + dir_ + R"(/none",
                 "mem_backend": {"backend_type": "File", "backend_path": "m"}})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body.find("boot-specific"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("snapshot load"), std::string::npos) << r.body;
    EXPECT_EQ(vm.wait(), Vmm::kExitGeneric);
}

TEST_F(VmmApiTest, FlushMetricsBeforeBootIsRefusedWithFirecrackersText) {
    RunningVmm vm(dir_);
    HttpResponse r = vm.put("/actions", R"({"action_type": "FlushMetrics"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, R"({"fault_message":"The requested operation is not supported before )"
                      R"(starting the microVM."})");
}

// Firecracker's test_log_config_failure: its logger opens the file and never creates it.
TEST_F(VmmApiTest, PutLoggerRefusesAPathThatDoesNotExist) {
    RunningVmm vm(dir_);
    expect_fault(vm.put("/logger", R"({"log_path": ")" + dir_ + R"(/missing.log"})"),
                 "No such file or directory (os error 2)");
}

TEST_F(VmmApiTest, PutLoggerAppliesPathLevelLevelNamesOriginAndModule) {
    RunningVmm vm(dir_);
    std::string path = dir_ + "/ember.log";
    create_file(path);
    expect_fault(vm.put("/logger", R"({"log_path": ")" + path + R"(", "level": "Loud"})"), "Loud");
    ASSERT_EQ(vm.put("/logger", R"({"log_path": ")" + path +
                                    R"(", "level": "Debug", "show_level": true,
                                    "show_log_origin": true})")
                  .status,
              204);
    EMBER_DEBUG("a debug line for the logger test");
    std::string log = slurp(path);
    EXPECT_NE(log.find(":DEBUG:tests/unit/api/vmm_api_test.cc:"), std::string::npos) << log;
    EXPECT_NE(log.find("a debug line for the logger test"), std::string::npos) << log;

    // A module filter keeps only lines from that part of the tree.
    ASSERT_EQ(vm.put("/logger", R"({"level": "Info", "module": "vmm/core"})").status, 204);
    EMBER_INFO("a line from the tests, filtered out");
    EXPECT_EQ(slurp(path).find("filtered out"), std::string::npos);
    ASSERT_EQ(vm.put("/logger", R"({"level": "Info", "module": "api"})").status, 204);
    EMBER_INFO("a line from tests/unit/api, kept");
    EXPECT_NE(slurp(path).find("kept"), std::string::npos);
    EXPECT_EQ(vm.put("/logger", R"({"level": "Info"})").status, 204);
    EXPECT_TRUE(vm.vmm().vm_config().logger.has_value());
}

TEST_F(VmmApiTest, AnswersEveryPathAndMethodOfFirecrackersSpec) {
    RunningVmm vm(dir_);
    // Every path and method of firecracker-api.yaml (swagger 1.17.0-dev), with a plausible body.
    struct Case {
        HttpMethod method;
        const char* path;
        const char* body;
    };
    static const Case kSpec[] = {
        {HttpMethod::kGet, "/", ""},
        {HttpMethod::kPut, "/actions", R"({"action_type": "FlushMetrics"})"},
        {HttpMethod::kGet, "/balloon", ""},
        {HttpMethod::kPut, "/balloon", R"({"amount_mib": 1, "deflate_on_oom": true})"},
        {HttpMethod::kPatch, "/balloon", R"({"amount_mib": 1})"},
        {HttpMethod::kGet, "/balloon/statistics", ""},
        {HttpMethod::kPatch, "/balloon/statistics", R"({"stats_polling_interval_s": 1})"},
        {HttpMethod::kPatch, "/balloon/hinting/start", R"({"acknowledge_on_stop": true})"},
        {HttpMethod::kGet, "/balloon/hinting/status", ""},
        {HttpMethod::kPatch, "/balloon/hinting/stop", "{}"},
        {HttpMethod::kPut, "/boot-source", R"({"kernel_image_path": "/k"})"},
        {HttpMethod::kPut, "/cpu-config", "{}"},
        {HttpMethod::kPut, "/drives/rootfs",
         R"({"drive_id": "rootfs", "path_on_host": "/missing", "is_root_device": true})"},
        {HttpMethod::kPatch, "/drives/rootfs", R"({"drive_id": "rootfs"})"},
        {HttpMethod::kPut, "/pmem/p0", R"({"id": "p0", "path_on_host": "/p"})"},
        {HttpMethod::kPatch, "/pmem/p0", R"({"id": "p0"})"},
        {HttpMethod::kPut, "/logger", R"({"level": "Info"})"},
        {HttpMethod::kGet, "/machine-config", ""},
        {HttpMethod::kPut, "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 128})"},
        {HttpMethod::kPatch, "/machine-config", R"({"vcpu_count": 1})"},
        {HttpMethod::kPut, "/metrics", R"({"metrics_path": "/nonexistent/dir/m"})"},
        {HttpMethod::kPut, "/mmds", "{}"},
        {HttpMethod::kPatch, "/mmds", "{}"},
        {HttpMethod::kGet, "/mmds", ""},
        {HttpMethod::kPut, "/mmds/config", R"({"network_interfaces": ["eth0"]})"},
        {HttpMethod::kPut, "/entropy", "{}"},
        {HttpMethod::kPut, "/serial", R"({"serial_out_path": "/dev/null"})"},
        {HttpMethod::kPut, "/hotplug/memory", R"({"total_size_mib": 1024})"},
        {HttpMethod::kPatch, "/hotplug/memory", R"({"requested_size_mib": 512})"},
        {HttpMethod::kGet, "/hotplug/memory", ""},
        {HttpMethod::kPut, "/network-interfaces/eth0",
         R"({"iface_id": "eth0", "host_dev_name": "no-such-tap"})"},
        {HttpMethod::kPatch, "/network-interfaces/eth0", R"({"iface_id": "eth0"})"},
        {HttpMethod::kPut, "/snapshot/create", R"({"snapshot_path": "/s", "mem_file_path": "/m"})"},
        {HttpMethod::kPut, "/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m"})"},
        {HttpMethod::kGet, "/version", ""},
        {HttpMethod::kPatch, "/vm", R"({"state": "Paused"})"},
        {HttpMethod::kGet, "/vm/config", ""},
        {HttpMethod::kPut, "/vsock", R"({"guest_cid": 3, "uds_path": "/v"})"},
    };
    static const std::string kUnsupported[] = {"/balloon", "/pmem", "/entropy", "/hotplug",
                                               "/vsock"};
    for (const Case& c : kSpec) {
        HttpResponse r = vm.call(c.method, c.path, c.body);
        SCOPED_TRACE(std::string(c.path) + " -> " + std::to_string(r.status) + " " + r.body);
        EXPECT_TRUE(r.status == 200 || r.status == 204 || r.status == 400);
        EXPECT_EQ(r.body.find("Invalid request method and/or path"), std::string::npos);
        bool unsupported = false;
        for (const std::string& prefix : kUnsupported) {
            if (std::string(c.path).rfind(prefix, 0) == 0) unsupported = true;
        }
        if (unsupported) {
            expect_fault(r, "Ember does not support");
        }
        if (r.status == 400) {
            EXPECT_GT(r.body.size(), std::string(R"({"fault_message":""})").size());
        }
    }
}

TEST_F(VmmApiTest, AnswersCallsMadeAfterTheLoopEndedInsteadOfHanging) {
    RunningVmm vm(dir_);
    EXPECT_EQ(vm.stop(), Vmm::kExitOk);
    EXPECT_NE(vm.get("/").body.find("Not started"), std::string::npos);
    expect_fault(vm.put("/actions", R"({"action_type": "InstanceStart"})"), "InstanceStart");
}

}  // namespace
}  // namespace ember::api
