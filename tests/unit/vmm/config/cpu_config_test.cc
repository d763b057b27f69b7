// The text formats of CPU templates (vmm/config/cpu_config.h), with the cases and messages of
// Firecracker's templates.rs and templates_serde.rs tests.
#include "vmm/config/cpu_config.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

std::string error_of(const Result<BitFilter<uint64_t>>& r) {
    return r ? std::string("ok") : r.error().detail();
}

TEST(CpuTemplateNames, RoundTripEveryX86Template) {
    for (CpuTemplate t : {CpuTemplate::kNone, CpuTemplate::kC3, CpuTemplate::kT2, CpuTemplate::kT2S,
                          CpuTemplate::kT2CL, CpuTemplate::kT2A}) {
        EXPECT_EQ(cpu_template_from_name(cpu_template_name(t)), t);
    }
    EXPECT_EQ(cpu_template_from_name("T2CL"), CpuTemplate::kT2CL);
    EXPECT_FALSE(cpu_template_from_name("V1N1"));  // aarch64's.
    EXPECT_FALSE(cpu_template_from_name("t2"));
}

TEST(Bitmap, ReadsOnesZerosAndKeptBits) {
    auto b = parse_bitmap("0b0101xxxx", 32);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->filter, 0b11110000U);
    EXPECT_EQ(b->value, 0b01010000U);
    // Underscores are ignored and the prefix is optional.
    EXPECT_EQ(parse_bitmap("0b0_101_xx_xx", 32).value(), *b);
    EXPECT_EQ(parse_bitmap("0101xxxx", 32).value(), *b);
    EXPECT_EQ(b->apply(0xffffffffU), 0xffffff5fU);
    EXPECT_EQ(b->apply(0), 0x50U);
}

TEST(Bitmap, TakesExactlyTheWidthAndNoMore) {
    const std::string ones32 = "0b" + std::string(32, '1');
    EXPECT_EQ(parse_bitmap(ones32, 32).value().filter, 0xffffffffU);
    EXPECT_EQ(parse_bitmap("0b" + std::string(64, '0'), 64).value().filter, ~uint64_t{0});
    EXPECT_EQ(
        error_of(parse_bitmap(ones32 + "1", 32)),
        "Failed to parse string [0b" + std::string(33, '1') + "] as a bitmap - string is too long");
    // As Firecracker: a separator past the last bit is too long too.
    EXPECT_NE(error_of(parse_bitmap("0b_" + std::string(32, 'x'), 32)).find("too long"),
              std::string::npos);
}

TEST(Bitmap, RefusesUnknownCharactersNamingTheByte) {
    EXPECT_EQ(error_of(parse_bitmap("0bx00100x0x1xxxx05xxx1xxxxxxxxxxx1", 64)),
              "Failed to parse string [0bx00100x0x1xxxx05xxx1xxxxxxxxxxx1] as a bitmap - unknown "
              "character: 53");
    EXPECT_NE(error_of(parse_bitmap("0b0_x?1_xx_xx", 32)).find("unknown character: 63"),
              std::string::npos);
}

TEST(Bitmap, PrintsBackWhatItRead) {
    const std::string text = "0bxxxxxxxxxxxxxxxxxxxxxxxx0101xxxx";
    EXPECT_EQ(bitmap_text(parse_bitmap(text, 32).value(), 32), text);
    EXPECT_EQ(bitmap_text({0x8000000000000001, 0x1}, 64), "0b0" + std::string(62, 'x') + "1");
}

TEST(TemplateNumber, NeedsAHexOrBinaryPrefix) {
    EXPECT_EQ(parse_template_number("0b1000101", 0xffffffff).value(), 69U);
    EXPECT_EQ(parse_template_number("0x0045", 0xffffffff).value(), 69U);
    EXPECT_EQ(parse_template_number("0x8000001E", 0xffffffff).value(), 0x8000001eU);
    auto bare = parse_template_number("69", 0xffffffff);
    ASSERT_FALSE(bare);
    EXPECT_EQ(bare.error().detail(),
              "No supported number system prefix found in value [69]. Make sure to prefix the "
              "number with '0x' for hexadecimal numbers or '0b' for binary numbers.");
    auto bad = parse_template_number("0x0jj0", 0xffffffff);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().detail(),
              "Failed to parse string [0x0jj0] as a number for CPU template - ParseIntError { "
              "kind: InvalidDigit }");
    EXPECT_NE(parse_template_number("0x100000000", 0xffffffff).error().detail().find("PosOverflow"),
              std::string::npos);
    EXPECT_NE(parse_template_number("0x", 0xffffffff).error().detail().find("Empty"),
              std::string::npos);
    EXPECT_FALSE(parse_template_number("0b12", 0xffffffff));
}

TEST(KvmCapability, AddsOrRemoves) {
    EXPECT_EQ(parse_kvm_capability("69").value(), (KvmCapabilityChange{69, false}));
    EXPECT_EQ(parse_kvm_capability("!69").value(), (KvmCapabilityChange{69, true}));
    auto bad = parse_kvm_capability("!x");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().detail(),
              "Failed to parse string [!x] as a kvm capability - can not convert to numeric: "
              "invalid digit found in string");
    EXPECT_FALSE(parse_kvm_capability(""));
    EXPECT_FALSE(parse_kvm_capability("4294967296"));
}

}  // namespace
}  // namespace ember
