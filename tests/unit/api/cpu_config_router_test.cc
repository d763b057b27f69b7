// PUT /cpu-config and machine-config's cpu_template through the router, with Firecracker's
// CustomCpuTemplate JSON (its test_utils.rs TEST_TEMPLATE_JSON shape).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "api/config_file.h"
#include "api/router.h"
#include "tests/fakes/fake_vmm_controller.h"
#include "tests/unit/api/test_request.h"

namespace ember::api {
namespace {

constexpr const char* kTemplate = R"({
    "kvm_capabilities": ["1", "!2"],
    "cpuid_modifiers": [
        {"leaf": "0x80000001", "subleaf": "0x0007", "flags": 0, "modifiers": [
            {"register": "eax", "bitmap": "0bx00100xxx1xxxxxxxxxxxxxxxxxxxxx1"},
            {"register": "edx", "bitmap": "0b0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_0_1"}
        ]},
        {"leaf": "0b1", "subleaf": "0x0", "flags": 1, "modifiers": []}
    ],
    "msr_modifiers": [
        {"addr": "0x0AAC", "bitmap": "0b1xx1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx01"}
    ]
})";

class CpuConfigRouterTest : public ::testing::Test {
protected:
    HttpResponse call(HttpMethod method, std::string path, std::string body = {}) {
        return router.handle(make_request(method, std::move(path), std::move(body)));
    }
    void expect_fault(const HttpResponse& r, const std::string& text) {
        EXPECT_EQ(r.status, 400);
        EXPECT_NE(r.body.find(text), std::string::npos) << r.body;
    }

    testing::FakeVmmController fake;
    Router router{fake};
};

TEST_F(CpuConfigRouterTest, PutsACustomTemplate) {
    HttpResponse r = call(HttpMethod::kPut, "/cpu-config", kTemplate);
    ASSERT_EQ(r.status, 204) << r.body;
    EXPECT_EQ(fake.last_call(), "set_cpu_config");
    ASSERT_TRUE(fake.config.cpu_config);
    const CpuConfig& c = *fake.config.cpu_config;
    EXPECT_EQ(c.kvm_capabilities, (std::vector<KvmCapabilityChange>{{1, false}, {2, true}}));
    ASSERT_EQ(c.cpuid_modifiers.size(), 2U);
    const CpuidLeafModifier& l = c.cpuid_modifiers[0];
    EXPECT_EQ(l.leaf, 0x80000001U);
    EXPECT_EQ(l.subleaf, 7U);
    EXPECT_EQ(l.flags, 0U);
    ASSERT_EQ(l.modifiers.size(), 2U);
    EXPECT_EQ(l.modifiers[0].reg, CpuidRegister::kEax);
    EXPECT_EQ(l.modifiers[0].bitmap.filter, 0b01111100010000000000000000000001U);
    EXPECT_EQ(l.modifiers[0].bitmap.value, 0b00010000010000000000000000000001U);
    EXPECT_EQ(l.modifiers[1].reg, CpuidRegister::kEdx);
    EXPECT_EQ(l.modifiers[1].bitmap, (BitFilter<uint32_t>{0xffffffff, 1}));
    EXPECT_EQ(c.cpuid_modifiers[1].leaf, 1U);
    EXPECT_EQ(c.cpuid_modifiers[1].flags, 1U);
    ASSERT_EQ(c.msr_modifiers.size(), 1U);
    EXPECT_EQ(c.msr_modifiers[0].addr, 0xaacU);
    EXPECT_EQ(c.msr_modifiers[0].bitmap.filter, 0x9000000000000003U);
    EXPECT_EQ(c.msr_modifiers[0].bitmap.value, 0x9000000000000001U);
}

TEST_F(CpuConfigRouterTest, AcceptsAnEmptyTemplate) {
    EXPECT_EQ(call(HttpMethod::kPut, "/cpu-config", "{ }").status, 204);
    EXPECT_EQ(fake.config.cpu_config, CpuConfig{});
}

TEST_F(CpuConfigRouterTest, RefusesMalformedTemplatesAsFirecrackerDoes) {
    // test_api.py's test_api_cpu_config: an unknown field.
    expect_fault(call(HttpMethod::kPut, "/cpu-config", R"({"foo": false})"), "unknown field");
    expect_fault(call(HttpMethod::kPut, "/cpu-config", R"({"reg_modifiers": []})"),
                 "unknown field");
    expect_fault(call(HttpMethod::kPut, "/cpu-config",
                      R"({"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                          "modifiers": [{"register": "ekx", "bitmap": "0b1"}]}]})"),
                 "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx]");
    expect_fault(call(HttpMethod::kPut, "/cpu-config",
                      R"({"cpuid_modifiers": [{"leaf": "k", "subleaf": "0x0", "flags": 0,
                          "modifiers": []}]})"),
                 "request: No supported number system prefix found in value [k]");
    expect_fault(call(HttpMethod::kPut, "/cpu-config",
                      R"({"msr_modifiers": [{"addr": "0jj0", "bitmap": "0b1"}]})"),
                 "No supported number system prefix found in value");
    expect_fault(call(HttpMethod::kPut, "/cpu-config",
                      R"({"msr_modifiers": [{"addr": "0x200", "bitmap": "0bx0?1"}]})"),
                 "Failed to parse string [0bx0?1] as a bitmap");
    expect_fault(call(HttpMethod::kPut, "/cpu-config",
                      R"({"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                          "modifiers": [{"register": "eax", "bitmap": "0b1)" +
                          std::string(32, '0') + R"("}]}]})"),
                 "string is too long");
    expect_fault(call(HttpMethod::kPut, "/cpu-config",
                      R"({"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0}]})"),
                 "missing field `modifiers`");
    expect_fault(call(HttpMethod::kPut, "/cpu-config", R"({"kvm_capabilities": [7]})"),
                 "expected a string");
    expect_fault(call(HttpMethod::kPut, "/cpu-config", "<unparseable_payload>"), "");
    EXPECT_FALSE(fake.config.cpu_config);
    EXPECT_EQ(router.counters().put_fails.load(), 10U);
}

TEST_F(CpuConfigRouterTest, OnlyPutIsAnEndpoint) {
    expect_fault(call(HttpMethod::kGet, "/cpu-config"), "Invalid request method and/or path");
    expect_fault(call(HttpMethod::kPatch, "/cpu-config", "{}"),
                 "Invalid request method and/or path");
}

TEST_F(CpuConfigRouterTest, ReadsAndShowsTheStaticTemplate) {
    HttpResponse r = call(HttpMethod::kPut, "/machine-config",
                          R"({"vcpu_count": 2, "mem_size_mib": 256, "cpu_template": "T2CL"})");
    ASSERT_EQ(r.status, 204) << r.body;
    EXPECT_EQ(fake.config.machine.cpu_template, CpuTemplate::kT2CL);
    r = call(HttpMethod::kGet, "/machine-config");
    EXPECT_EQ(r.body, R"({"vcpu_count":2,"mem_size_mib":256,"smt":false,"cpu_template":"T2CL",)"
                      R"("track_dirty_pages":false,"huge_pages":"None"})");
    EXPECT_NE(render_vm_config(fake.config).find(R"("cpu_template":"T2CL")"), std::string::npos);
    for (const char* name : {"None", "C3", "T2", "T2S", "T2A"}) {
        std::string body = std::string(R"({"cpu_template": ")") + name + "\"}";
        ASSERT_EQ(call(HttpMethod::kPatch, "/machine-config", body).status, 204) << name;
        EXPECT_STREQ(cpu_template_name(fake.config.machine.cpu_template.value()), name);
    }
    expect_fault(call(HttpMethod::kPatch, "/machine-config", R"({"cpu_template": "V1N1"})"),
                 "unknown variant `V1N1`");
}

// A PATCH that does not name cpu_template hands the VMM none, so that it keeps a custom template.
TEST_F(CpuConfigRouterTest, APatchWithoutCpuTemplateNamesNone) {
    fake.config.machine.cpu_template = CpuTemplate::kNone;
    ASSERT_EQ(call(HttpMethod::kPatch, "/machine-config", R"({"vcpu_count": 4})").status, 204);
    EXPECT_FALSE(fake.config.machine.cpu_template);
    EXPECT_EQ(fake.config.machine.vcpu_count, 4U);
}

// The config file's "cpu-config" names a file, read at once; it replaces machine-config's template.
TEST(CpuConfigFile, ReadsTheTemplateFileTheConfigNames) {
    char path[] = "/tmp/ember-cpu-config-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    const std::string text = kTemplate;
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    Result<VmConfig> c =
        parse_vm_config(std::string(R"({"machine-config": {"vcpu_count": 1, "mem_size_mib": 128,
            "cpu_template": "T2"}, "cpu-config": ")") +
                        path + "\"}");
    ::unlink(path);
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(c->cpu_config);
    EXPECT_EQ(c->cpu_config->msr_modifiers.size(), 1U);
    EXPECT_EQ(c->machine.cpu_template, CpuTemplate::kNone);

    Result<VmConfig> missing = parse_vm_config(R"({"cpu-config": "/nonexistent/template.json"})");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("cpu-config"), std::string::npos);
    Result<VmConfig> inline_object = parse_vm_config(R"({"cpu-config": {}})");
    EXPECT_FALSE(inline_object);  // A path, as Firecracker's VmmConfig has it.
}

}  // namespace
}  // namespace ember::api
