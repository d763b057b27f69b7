// The AML encoder (aml.cc) against encodings from the ACPI spec's grammar and from iasl (ACPICA's
// compiler, run with -oa so it keeps paths as written).
#include "vmm/arch/x86_64/aml.h"

#include <gtest/gtest.h>

namespace ember::x86::aml {
namespace {

Bytes seq(std::initializer_list<int> v) {
    Bytes out;
    for (int b : v) out.push_back(static_cast<uint8_t>(b));
    return out;
}
Bytes ascii(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

TEST(Aml, PkgLengthGrowsAtTheSpecsBoundariesAndCountsItself) {
    EXPECT_EQ(pkg_length(0), seq({0x01}));
    EXPECT_EQ(pkg_length(62), seq({0x3f}));
    EXPECT_EQ(pkg_length(63), seq({0x41, 0x04}));  // 65: nibble 1 in the lead byte, 4 after.
    EXPECT_EQ(pkg_length(64), seq({0x42, 0x04}));  // As Firecracker's aml.rs test: 66.
    EXPECT_EQ(pkg_length(4093), seq({0x4f, 0xff}));
    EXPECT_EQ(pkg_length(4094), seq({0x81, 0x00, 0x01}));            // 4097 needs three bytes.
    EXPECT_EQ(pkg_length(4096), seq({0x83, 0x00, 0x01}));            // Firecracker's: 4099.
    EXPECT_EQ(pkg_length(0x100000), seq({0xc4, 0x00, 0x00, 0x01}));  // 0x100004.
}

TEST(Aml, NameStringsTakeTheirPrefixes) {
    EXPECT_EQ(name_string("_HID"), ascii("_HID"));
    EXPECT_EQ(name_string("PS2"), ascii("PS2_"));
    EXPECT_EQ(name_string("_SB_.COM1"), cat({seq({0x2e}), ascii("_SB_COM1")}));
    EXPECT_EQ(name_string("\\_SB_.VGEN"), cat({seq({0x5c, 0x2e}), ascii("_SB_VGEN")}));
    EXPECT_EQ(name_string("\\A.B.C"), cat({seq({0x5c, 0x2f, 3}), ascii("A___B___C___")}));
}

TEST(Aml, IntegersTakeTheShortestEncoding) {
    EXPECT_EQ(integer(0), seq({0x00}));
    EXPECT_EQ(integer(1), seq({0x01}));
    EXPECT_EQ(integer(0x80), seq({0x0a, 0x80}));
    EXPECT_EQ(integer(0x1234), seq({0x0b, 0x34, 0x12}));
    EXPECT_EQ(integer(0x12345678), seq({0x0c, 0x78, 0x56, 0x34, 0x12}));
    EXPECT_EQ(integer(1ULL << 40), seq({0x0e, 0, 0, 0, 0, 0, 1, 0, 0}));
    EXPECT_EQ(dword(5), seq({0x0c, 5, 0, 0, 0}));
}

TEST(Aml, StringsAndEisaIdsEncodeAsIaslDoes) {
    EXPECT_EQ(string("COM1"), cat({seq({0x0d}), ascii("COM1"), seq({0})}));
    EXPECT_EQ(eisa_id("PNP0501"), seq({0x0c, 0x41, 0xd0, 0x05, 0x01}));
    EXPECT_EQ(eisa_id("PNP0303"), seq({0x0c, 0x41, 0xd0, 0x03, 0x03}));
    EXPECT_EQ(eisa_id("PNP0B00"), seq({0x0c, 0x41, 0xd0, 0x0b, 0x00}));
}

TEST(Aml, ResourceDescriptorsMatchTheSpec) {
    EXPECT_EQ(io(0x3f8, 0x3f8, 1, 8), seq({0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
    EXPECT_EQ(memory32_fixed(0xc0001000, 0x1000),
              seq({0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xc0, 0x00, 0x10, 0x00, 0x00}));
    EXPECT_EQ(edge_interrupt(7), seq({0x89, 0x06, 0x00, 0x03, 0x01, 0x07, 0x00, 0x00, 0x00}));
    // Buffer(0x0b) { the descriptor, End Tag }.
    const Bytes one[] = {edge_interrupt(7)};
    EXPECT_EQ(resource_template(one),
              cat({seq({0x11, 0x0e, 0x0a, 0x0b}), edge_interrupt(7), seq({0x79, 0x00})}));
}

// iasl -oa of:  Method (_EVT, 1, Serialized) { If ((Arg0 == 0x07)) {
//                   Notify (\_SB.VGEN, 0x80) } }
TEST(Aml, GedEventMethodMatchesIasl) {
    const Bytes body[] = {notify(name_string("\\_SB_.VGEN"), integer(0x80))};
    const Bytes evt[] = {if_then(equal(arg(0), integer(7)), body)};
    const Bytes expected = cat({seq({0x14, 0x19}), ascii("_EVT"),
                                seq({0x09, 0xa0, 0x12, 0x93, 0x68, 0x0a, 0x07, 0x86, 0x5c, 0x2e}),
                                ascii("_SB_VGEN"), seq({0x0a, 0x80})});
    EXPECT_EQ(method("_EVT", 1, MethodSync::kSerialized, evt), expected);
}

// iasl -oa of:  Device (_SB.VGEN) { Name (ADDR, Package (0x02) { 0x000A2000, Zero }) }
TEST(Aml, DeviceWithPackageMatchesIasl) {
    const Bytes addr[] = {integer(0xa2000), integer(0)};
    const Bytes terms[] = {name("ADDR", package(addr))};
    const Bytes expected =
        cat({seq({0x5b, 0x82, 0x18, 0x2e}), ascii("_SB_VGEN"), seq({0x08}), ascii("ADDR"),
             seq({0x12, 0x08, 0x02, 0x0c, 0x00, 0x20, 0x0a, 0x00, 0x00})});
    EXPECT_EQ(device("_SB_.VGEN", terms), expected);
}

}  // namespace
}  // namespace ember::x86::aml
