// The MMDS section (format 1.1): the configuration round-trips, snapshots without it (format 1.0
// and VMs without MMDS) still load, a bad section is refused, and describe shows it.
#include "vmm/snapshot/mmds_section.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/snapshot/test_state.h"
#include "vmm/persist/state_fields.h"
#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/state_file.h"

namespace ember::snapshot {
namespace {

const MmdsConfig kMmds{.network_interfaces = {"eth0", "eth_1"},
                       .version = MmdsVersion::kV2,
                       .ipv4_address = {169, 254, 170, 2},
                       .imds_compat = true};

TEST(MmdsSection, RoundTripsTheConfiguration) {
    MachineState in = testing::sample_state();
    in.mmds = kMmds;
    Result<MachineState> out = decode_machine_state(encode_machine_state(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->mmds, kMmds);
    MmdsConfig v1{.network_interfaces = {"eth0"}};
    Result<MmdsConfig> back = decode_mmds_config(encode_mmds_config(v1));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, v1);
}

// Snapshots of VMs without MMDS have no section; a 1.0 file (written before it existed) loads.
TEST(MmdsSection, IsAbsentWithoutMmdsAndOlderFilesStillLoad) {
    std::vector<uint8_t> bytes = encode_machine_state(testing::sample_state());
    Result<StateFile> file = decode_state_file(bytes);
    ASSERT_TRUE(file);
    for (const Section& s : file->sections) {
        EXPECT_NE(s.tag, static_cast<uint32_t>(SectionTag::kMmds));
    }
    file->minor = 0;
    Result<MachineState> old = decode_machine_state(encode_state_file(*file));
    ASSERT_TRUE(old) << old.error().message();
    EXPECT_FALSE(old->mmds);
}

// An Ember of format 1.0 must refuse, not skip, a snapshot whose guest relies on MMDS.
TEST(MmdsSection, IsMarkedMustUnderstand) {
    MachineState in = testing::sample_state();
    in.mmds = kMmds;
    Result<StateFile> file = decode_state_file(encode_machine_state(in));
    ASSERT_TRUE(file);
    int found = 0;
    for (const Section& s : file->sections) {
        if (s.tag != static_cast<uint32_t>(SectionTag::kMmds)) continue;
        ++found;
        EXPECT_TRUE(s.flags & kSectionMustUnderstand);
    }
    EXPECT_EQ(found, 1);
    // Twice is refused rather than one silently winning.
    Section twice = file->sections.back();
    file->sections.push_back(twice);
    EXPECT_FALSE(decode_machine_state(encode_state_file(*file)));
}

std::vector<uint8_t> payload(uint32_t version, std::string_view ifaces, std::array<uint8_t, 4> ip,
                             bool with_compat = true) {
    FieldWriter w;
    w.u32(1, version);
    w.str(2, ifaces);
    w.pod(3, ip);
    if (with_compat) w.u32(4, 0);
    return w.take();
}

TEST(MmdsSection, RefusesWhatPutMmdsConfigRefuses) {
    const std::array<uint8_t, 4> ok_ip{169, 254, 169, 254};
    EXPECT_TRUE(decode_mmds_config(payload(2, "eth0,eth1", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(3, "eth0", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(0, "eth0", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(1, "", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(1, "eth0,", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(1, ",eth0", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(1, "eth0,,eth1", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(1, "eth-0", ok_ip)));
    EXPECT_FALSE(decode_mmds_config(payload(1, "eth0", {10, 0, 0, 1})));
    EXPECT_FALSE(decode_mmds_config(payload(1, "eth0", ok_ip, /*with_compat=*/false)));
}

TEST(MmdsSection, DescribeShowsIt) {
    MachineState in = testing::sample_state();
    in.mmds = kMmds;
    Result<std::string> text = describe(encode_machine_state(in));
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_NE(text->find("mmds"), std::string::npos) << *text;
    EXPECT_NE(text->find("V2, interfaces eth0 eth_1, 169.254.170.2, imds_compat on (data store "
                         "not saved)"),
              std::string::npos)
        << *text;
    EXPECT_NE(text->find("Check: OK"), std::string::npos) << *text;
}

}  // namespace
}  // namespace ember::snapshot
