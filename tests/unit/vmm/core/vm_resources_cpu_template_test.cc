// Static and custom CPU templates in VmResources: one slot, as Firecracker's VmConfig::update and
// set_custom_cpu_template fill it (no KVM needed).
#include <gtest/gtest.h>

#include "vmm/core/vm_resources.h"

namespace ember {
namespace {

MachineConfig machine(std::optional<CpuTemplate> t) {
    MachineConfig m;
    m.vcpu_count = 2;
    m.cpu_template = t;
    return m;
}

CpuConfig custom() {
    CpuConfig c;
    c.msr_modifiers.push_back({0x10a, {1, 0}});
    return c;
}

TEST(VmResourcesCpuTemplate, ANamedTemplateIsKeptUntilAnotherIsNamed) {
    VmResources r;
    ASSERT_TRUE(r.set_machine_config(machine(CpuTemplate::kT2)));
    EXPECT_EQ(r.config().machine.cpu_template, CpuTemplate::kT2);
    // A PUT or PATCH that does not name it keeps it.
    ASSERT_TRUE(r.set_machine_config(machine(std::nullopt)));
    EXPECT_EQ(r.config().machine.cpu_template, CpuTemplate::kT2);
    EXPECT_EQ(r.config().machine.vcpu_count, 2U);
    // "None" clears it: GET leaves the field out, as Firecracker's does.
    ASSERT_TRUE(r.set_machine_config(machine(CpuTemplate::kNone)));
    EXPECT_FALSE(r.config().machine.cpu_template);
}

TEST(VmResourcesCpuTemplate, ACustomTemplateReplacesAStaticOneAndShowsAsNone) {
    VmResources r;
    ASSERT_TRUE(r.set_machine_config(machine(CpuTemplate::kT2A)));
    r.set_cpu_config(custom());
    EXPECT_TRUE(r.configured());
    EXPECT_EQ(r.config().cpu_config, custom());
    EXPECT_EQ(r.config().machine.cpu_template, CpuTemplate::kNone);
    // Machine config without cpu_template keeps the custom template.
    ASSERT_TRUE(r.set_machine_config(machine(std::nullopt)));
    EXPECT_EQ(r.config().cpu_config, custom());
    EXPECT_EQ(r.config().machine.cpu_template, CpuTemplate::kNone);
}

TEST(VmResourcesCpuTemplate, NamingAStaticTemplateOrNoneDropsTheCustomOne) {
    VmResources r;
    r.set_cpu_config(custom());
    ASSERT_TRUE(r.set_machine_config(machine(CpuTemplate::kC3)));
    EXPECT_FALSE(r.config().cpu_config);
    EXPECT_EQ(r.config().machine.cpu_template, CpuTemplate::kC3);

    r.set_cpu_config(custom());
    ASSERT_TRUE(r.set_machine_config(machine(CpuTemplate::kNone)));
    EXPECT_FALSE(r.config().cpu_config);
    EXPECT_FALSE(r.config().machine.cpu_template);
}

TEST(VmResourcesCpuTemplate, AnInvalidMachineConfigChangesNoTemplate) {
    VmResources r;
    r.set_cpu_config(custom());
    MachineConfig bad = machine(CpuTemplate::kT2);
    bad.vcpu_count = 0;
    EXPECT_FALSE(r.set_machine_config(bad));
    EXPECT_EQ(r.config().cpu_config, custom());
}

}  // namespace
}  // namespace ember
