#include "api/config_file.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "api/json/json_reader.h"

namespace ember::api {
namespace {

// The error text a caller would show, or "" on success.
std::string error_of(std::string_view json) {
    auto r = parse_vm_config(json);
    return r ? std::string() : describe(r.error());
}

constexpr const char* kFullConfig = R"({
  "boot-source": {"kernel_image_path": "/k", "boot_args": "console=ttyS0", "initrd_path": "/i"},
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": false,
                     "track_dirty_pages": true, "huge_pages": "2M"},
  "drives": [{"drive_id": "rootfs", "path_on_host": "/r", "is_root_device": true,
              "is_read_only": true, "cache_type": "Writeback", "io_engine": "Async",
              "partuuid": "abc",
              "rate_limiter": {"bandwidth": {"size": 100, "refill_time": 10},
                               "ops": {"size": 5, "one_time_burst": 7, "refill_time": 3}}}],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                          "guest_mac": "aa:bb:cc:dd:ee:ff", "mtu": 1400,
                          "rx_rate_limiter": {"ops": {"size": 1, "refill_time": 1}}}],
  "logger": {"log_path": "/l", "level": "Debug", "show_level": true, "show_log_origin": true},
  "metrics": {"metrics_path": "/m"},
  "mmds-config": {"network_interfaces": ["eth0"], "version": "V2", "ipv4_address": "169.254.1.2",
                  "imds_compat": true},
  "serial": {"serial_out_path": "/s", "rate_limiter": {"size": 9, "refill_time": 8}}
})";

TEST(ParseVmConfig, ReadsEveryFieldOfAFullConfig) {
    auto r = parse_vm_config(kFullConfig);
    ASSERT_TRUE(r) << describe(r.error());
    const VmConfig& c = *r;
    ASSERT_TRUE(c.boot_source);
    EXPECT_EQ(c.boot_source->kernel_image_path, "/k");
    EXPECT_EQ(c.boot_source->boot_args, "console=ttyS0");
    EXPECT_EQ(c.boot_source->initrd_path, "/i");
    EXPECT_EQ(c.machine.vcpu_count, 2u);
    EXPECT_EQ(c.machine.mem_size_mib, 256u);
    EXPECT_TRUE(c.machine.track_dirty_pages);
    EXPECT_EQ(c.machine.huge_pages, HugePages::k2M);
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].drive_id, "rootfs");
    EXPECT_TRUE(c.drives[0].is_root_device);
    EXPECT_TRUE(c.drives[0].is_read_only);
    EXPECT_EQ(c.drives[0].cache_type, CacheType::kWriteback);
    EXPECT_EQ(c.drives[0].io_engine, IoEngine::kAsync);
    EXPECT_EQ(c.drives[0].partuuid, "abc");
    ASSERT_TRUE(c.drives[0].rate_limiter);
    EXPECT_EQ(c.drives[0].rate_limiter->bandwidth->size, 100u);
    EXPECT_EQ(c.drives[0].rate_limiter->bandwidth->refill_time_ms, 10u);
    EXPECT_EQ(c.drives[0].rate_limiter->ops->one_time_burst, 7u);
    ASSERT_EQ(c.nets.size(), 1u);
    EXPECT_EQ(c.nets[0].host_dev_name, "tap0");
    EXPECT_EQ(c.nets[0].mtu, 1400);
    EXPECT_TRUE(c.nets[0].rx_rate_limiter);
    EXPECT_FALSE(c.nets[0].tx_rate_limiter);
    ASSERT_TRUE(c.logger);
    EXPECT_EQ(c.logger->level, "Debug");
    EXPECT_TRUE(c.logger->show_log_origin);
    EXPECT_EQ(c.metrics->metrics_path, "/m");
    EXPECT_EQ(c.serial->rate_limiter->size, 9u);
    EXPECT_EQ(c.mmds, (MmdsConfig{.network_interfaces = {"eth0"},
                                  .version = MmdsVersion::kV2,
                                  .ipv4_address = {169, 254, 1, 2},
                                  .imds_compat = true}));
}

// Firecracker's FullVmConfiguration: "mmds-config" is null without MMDS, else its MmdsConfig
// with every field (serde's order).
TEST(RenderVmConfig, WritesTheMmdsConfigAsFirecrackerDoes) {
    VmConfig c;
    EXPECT_NE(render_vm_config(c).find(R"("mmds-config":null)"), std::string::npos);
    c.mmds = MmdsConfig{.network_interfaces = {"eth0", "eth1"}};
    EXPECT_NE(render_vm_config(c).find(
                  R"("mmds-config":{"version":"V1","imds_compat":false,)"
                  R"("network_interfaces":["eth0","eth1"],"ipv4_address":"169.254.169.254"})"),
              std::string::npos)
        << render_vm_config(c);
}

// Firecracker's config file carries the MMDS configuration, never its data (that is --metadata).
TEST(ParseVmConfig, ReadsTheMmdsConfigButNoMmdsData) {
    auto r = parse_vm_config(R"({"mmds-config": {"network_interfaces": ["eth0"]}})");
    ASSERT_TRUE(r) << describe(r.error());
    EXPECT_EQ(r->mmds, MmdsConfig{.network_interfaces = {"eth0"}});
    EXPECT_FALSE(parse_vm_config(R"({"mmds-config": null})")->mmds);
    EXPECT_EQ(error_of(R"({"mmds-config": {"network_interfaces": ["eth0"], "version": "V3"}})"),
              "mmds-config.version: unknown variant `V3`, expected `V1` or `V2`");
    EXPECT_NE(error_of(R"({"mmds": {"latest": {}}})").find("mmds"), std::string::npos);
}

TEST(ParseVmConfig, LeavesDefaultsForAMinimalConfig) {
    auto r = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"}})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->machine, MachineConfig{});
    EXPECT_FALSE(r->boot_source->boot_args);
    EXPECT_TRUE(r->drives.empty());
}

TEST(RenderVmConfig, RoundTripsThroughParse) {
    auto first = parse_vm_config(kFullConfig);
    ASSERT_TRUE(first);
    std::string text = render_vm_config(*first);
    auto second = parse_vm_config(text);
    ASSERT_TRUE(second) << describe(second.error()) << "\n" << text;
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(render_vm_config(*second), text);
}

TEST(RenderVmConfig, RoundTripsADefaultConfig) {
    VmConfig empty;
    auto back = parse_vm_config(render_vm_config(empty));
    ASSERT_TRUE(back) << describe(back.error());
    EXPECT_EQ(*back, empty);
}

TEST(ParseVmConfig, NamesTheKeyOfAWrongType) {
    EXPECT_EQ(error_of(R"({"machine-config": {"vcpu_count": "2", "mem_size_mib": 1}})"),
              "machine-config.vcpu_count: invalid type: string \"2\", expected u8");
    EXPECT_EQ(error_of(R"({"drives": [{"drive_id": 1}]})"),
              "drives[0].drive_id: invalid type: integer `1`, expected a string");
    EXPECT_EQ(error_of(R"({"drives": {}})"), "drives: invalid type: map, expected a sequence");
    EXPECT_EQ(error_of(R"({"machine-config": {"vcpu_count": 1, "mem_size_mib": 1, "smt": 1}})"),
              "machine-config.smt: invalid type: integer `1`, expected a boolean");
}

TEST(ParseVmConfig, NamesAnUnknownKey) {
    EXPECT_EQ(error_of(R"({"boot-source": {"kernel_image_path": "/k", "bogus": 1}})"),
              "boot-source: unknown field `bogus`, expected one of `kernel_image_path`, "
              "`boot_args`, `initrd_path`");
    EXPECT_EQ(
        error_of(R"({"bogus": 1})").rfind("unknown field `bogus`, expected one of `balloon`", 0),
        0u);
    EXPECT_EQ(
        error_of(R"({"drives": [{"drive_id": "a", "path_on_host": "/a",
        "is_root_device": false, "rate_limiter": {"ops": {"size": 1, "refill_time": 1, "x": 0}}}]})"),
        "drives[0].rate_limiter.ops: unknown field `x`, expected one of `size`, `refill_time`, "
        "`one_time_burst`");
}

TEST(ParseVmConfig, NamesAMissingRequiredField) {
    EXPECT_EQ(error_of(R"({"boot-source": {}})"),
              "boot-source.kernel_image_path: missing field `kernel_image_path`");
    EXPECT_EQ(error_of(R"({"machine-config": {"vcpu_count": 1}})"),
              "machine-config.mem_size_mib: missing field `mem_size_mib`");
    EXPECT_EQ(error_of(R"({"drives": [{"drive_id": "a", "path_on_host": "/a"}]})"),
              "drives[0].is_root_device: missing field `is_root_device`");
    EXPECT_EQ(error_of(R"({"serial": {"rate_limiter": {"size": 1}}})"),
              "serial.rate_limiter.refill_time: missing field `refill_time`");
}

TEST(ParseVmConfig, RefusesDevicesEmberLacks) {
    for (const char* key : {"balloon", "vsock", "entropy", "pmem", "memory-hotplug"}) {
        std::string err = error_of(fmt::format(R"({{"{}": {{}}}})", key));
        EXPECT_NE(err.find("Ember does not support"), std::string::npos) << key << ": " << err;
        EXPECT_EQ(err.rfind(key, 0), 0u) << err;
    }
}

TEST(ParseVmConfig, RefusesBadEnumValuesListingTheChoices) {
    std::string err = error_of(R"({"drives": [{"drive_id": "a", "path_on_host": "/a",
        "is_root_device": false, "cache_type": "Fast"}]})");
    EXPECT_EQ(err,
              "drives[0].cache_type: unknown variant `Fast`, expected `Unsafe` or `Writeback`");
}

TEST(ParseVmConfig, RefusesNegativeAndOutOfRangeIntegers) {
    EXPECT_EQ(error_of(R"({"machine-config": {"vcpu_count": -1, "mem_size_mib": 1}})"),
              "machine-config.vcpu_count: invalid value: integer `-1`, expected u8");
    EXPECT_EQ(error_of(R"({"network-interfaces": [{"iface_id": "a", "host_dev_name": "t",
        "mtu": 70000}]})"),
              "network-interfaces[0].mtu: invalid value: integer `70000`, expected u16");
    EXPECT_EQ(error_of(R"({"machine-config": {"vcpu_count": 1.5, "mem_size_mib": 1}})"),
              "machine-config.vcpu_count: invalid type: floating point `1.5`, expected u8");
}

TEST(ParseVmConfig, RefusesMalformedJsonAndNonObjects) {
    EXPECT_NE(error_of("{").find("EOF while parsing an object at line 1 column 1"),
              std::string::npos);
    EXPECT_NE(error_of("{} {}").find("trailing characters at line 1 column 4"), std::string::npos);
    EXPECT_NE(error_of("[]").find("invalid type: sequence, expected a map"), std::string::npos);
    EXPECT_NE(error_of("").find("EOF while parsing a value"), std::string::npos);
}

TEST(ParseVmConfig, RefusesAKeyGivenTwice) {
    EXPECT_EQ(
        error_of(R"({"boot-source": {"kernel_image_path": "/k", "kernel_image_path": "/j"}})"),
        "boot-source: duplicate field `kernel_image_path`");
}

// The file is only parsed here; its rules are checked once, by the VMM that takes it
// (Vmm::configure), as for API requests.
TEST(ParseVmConfig, LeavesTheConfigRulesToTheVmm) {
    for (const char* json : {
             R"({"machine-config": {"vcpu_count": 33, "mem_size_mib": 1}})",
             R"({"drives": [
                 {"drive_id": "a", "path_on_host": "/a", "is_root_device": true},
                 {"drive_id": "b", "path_on_host": "/b", "is_root_device": true}]})",
             R"({"drives": [
                 {"drive_id": "bad-id", "path_on_host": "/a", "is_root_device": true}]})",
         }) {
        Result<VmConfig> parsed = parse_vm_config(json);
        ASSERT_TRUE(parsed) << json;
        EXPECT_FALSE(parsed->validate()) << json;
    }
    // A log level is a name the parser knows, not a rule.
    EXPECT_FALSE(parse_vm_config(R"({"logger": {"level": "Loud"}})"));
}

TEST(ParseVmConfig, TreatsNullAsAbsent) {
    auto r = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k", "boot_args": null},
                                 "vsock": null})");
    ASSERT_TRUE(r) << describe(r.error());
    EXPECT_FALSE(r->boot_source->boot_args);
}

TEST(ParseVmConfig, SurvivesDeepNesting) {
    std::string deep(100000, '[');
    EXPECT_FALSE(parse_vm_config(deep));
    deep += std::string(100000, ']');
    EXPECT_FALSE(parse_vm_config(deep));
}

}  // namespace
}  // namespace ember::api
