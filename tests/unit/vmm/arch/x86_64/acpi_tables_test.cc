// The ACPI tables (acpi_tables.cc): checksums and lengths, the fields a kernel reads, where they
// land in guest memory, and the DSDT's bytes against iasl's.
#include "vmm/arch/x86_64/acpi_tables.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/e820.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/mptable.h"
#include "vmm/arch/x86_64/pvh_start_info.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

uint8_t sum(std::span<const uint8_t> bytes) {
    uint8_t s = 0;
    for (uint8_t b : bytes) s = static_cast<uint8_t>(s + b);
    return s;
}

template <typename T>
T at(std::span<const uint8_t> bytes, size_t offset) {
    T v{};
    std::memcpy(&v, bytes.data() + offset, sizeof(T));
    return v;
}

std::string signature(std::span<const uint8_t> table) {
    return std::string(reinterpret_cast<const char*>(table.data()), 4);
}

// Every device Ember can describe.
AcpiDevices full_machine(uint32_t vcpus, size_t virtio_devices) {
    AcpiDevices d;
    d.vcpu_count = vcpus;
    d.serial = AcpiPortDevice{0x3f8, 8, 4};
    d.i8042 = AcpiPortDevice{0x60, 1, 1};
    d.rtc = AcpiPortDevice{0x70, 2, std::nullopt};
    for (uint32_t i = 0; i < virtio_devices; ++i) {
        d.virtio.push_back({0xc0001000 + i * 0x1000, 0x1000, 5 + i});
    }
    d.vmgenid = AcpiVmGenId{GuestAddress(kVmGenIdStart), 5 + static_cast<uint32_t>(virtio_devices)};
    return d;
}

// Reads a table where a guest finds it: length from its header, then the checksum over it.
std::vector<uint8_t> read_table(const GuestMemory& mem, uint64_t gpa, const char* sig) {
    const auto header = mem.read_obj<SdtHeader>(GuestAddress(gpa)).value();
    EXPECT_EQ(std::string(header.signature, 4), sig);
    std::vector<uint8_t> table(header.length);
    EXPECT_TRUE(mem.read(GuestAddress(gpa), table));
    EXPECT_EQ(sum(table), 0) << sig << " checksum";
    return table;
}

TEST(AcpiTables, EveryTableSumsToZeroAndStatesItsLength) {
    const AcpiDevices d = full_machine(4, 3);
    const uint64_t tables[] = {0xa3000, 0xa4000};
    for (const std::vector<uint8_t>& t :
         {build_dsdt(d), build_fadt(0xa3000), build_madt(4), build_xsdt(tables)}) {
        EXPECT_EQ(sum(t), 0) << signature(t);
        EXPECT_EQ(at<uint32_t>(t, 4), t.size()) << signature(t);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data()) + 10, 6), "EMBER ");
    }
    EXPECT_EQ(build_fadt(0).size(), kFadtSize);
    EXPECT_EQ(build_xsdt(tables).size(), 36u + 16u);
    EXPECT_EQ(at<uint64_t>(build_xsdt(tables), 44), 0xa4000u);
}

TEST(AcpiTables, RsdpChecksumsCoverTwentyAndThirtySixBytes) {
    const auto rsdp = build_rsdp(0xa3123);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(rsdp.data()), 8), "RSD PTR ");
    EXPECT_EQ(sum(std::span(rsdp).first(20)), 0);
    EXPECT_EQ(sum(rsdp), 0);
    EXPECT_EQ(rsdp[15], 2);                       // ACPI 2.0+: the XSDT is used.
    EXPECT_EQ(at<uint32_t>(rsdp, 16), 0u);        // No RSDT.
    EXPECT_EQ(at<uint32_t>(rsdp, 20), 36u);       // Length.
    EXPECT_EQ(at<uint64_t>(rsdp, 24), 0xa3123u);  // XSDT address.
}

TEST(AcpiTables, FadtIsHardwareReducedAndPointsAtTheDsdt) {
    const std::vector<uint8_t> fadt = build_fadt(0xa3000);
    EXPECT_EQ(signature(fadt), "FACP");
    EXPECT_EQ(fadt[8], 6);                                // Revision.
    EXPECT_EQ(fadt[131], 5);                              // Minor version: ACPI 6.5.
    EXPECT_NE(at<uint32_t>(fadt, 112) & (1u << 20), 0u);  // HW_REDUCED_ACPI.
    EXPECT_EQ(at<uint16_t>(fadt, 109), 0x1e);             // 8042, no VGA, no MSI, no ASPM control.
    EXPECT_EQ(at<uint32_t>(fadt, 40), 0u);                // DSDT: 0 when X_DSDT is set.
    EXPECT_EQ(at<uint64_t>(fadt, 140), 0xa3000u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(fadt.data()) + 268, 8), "EMBERKVM");
}

TEST(AcpiTables, MadtHasTheIoapicAndOneEnabledLapicPerVcpu) {
    for (uint32_t vcpus : {1u, 2u, kMaxVcpus}) {
        const std::vector<uint8_t> madt = build_madt(vcpus);
        ASSERT_EQ(madt.size(), 44u + 12u + 8u * vcpus);
        EXPECT_EQ(at<uint32_t>(madt, 36), kLapicStart);
        EXPECT_EQ(at<uint32_t>(madt, 40), 0u);  // No PCAT_COMPAT.
        EXPECT_EQ(madt[44], 1);                 // IOAPIC, as the MP table: id after the vCPUs.
        EXPECT_EQ(madt[45], 12);
        EXPECT_EQ(madt[46], static_cast<uint8_t>(vcpus + 1));
        EXPECT_EQ(at<uint32_t>(madt, 48), kIoapicStart);
        EXPECT_EQ(at<uint32_t>(madt, 52), 0u);  // GSI base.
        for (uint32_t i = 0; i < vcpus; ++i) {
            const size_t e = 56 + 8 * i;
            EXPECT_EQ(madt[e], 0);
            EXPECT_EQ(madt[e + 1], 8);
            EXPECT_EQ(madt[e + 2], i);
            EXPECT_EQ(madt[e + 3], i);
            EXPECT_EQ(at<uint32_t>(madt, e + 4), 1u);
        }
    }
}

// iasl -d of this DSDT, compiled again with iasl -oa, gives these bytes (after the header):
// COM1, PS2_, RTC_, V000, VGEN (ID at 0x1_234a_2000) and GED_ (GSI 6).
TEST(AcpiTables, DsdtMatchesIaslsEncoding) {
    AcpiDevices d;
    d.serial = AcpiPortDevice{0x3f8, 8, 4};
    d.i8042 = AcpiPortDevice{0x60, 1, 1};
    d.rtc = AcpiPortDevice{0x70, 2, std::nullopt};
    d.virtio.push_back({0xc0001000, 0x1000, 5});
    d.vmgenid = AcpiVmGenId{GuestAddress(0x1234a2000ULL), 6};
    const std::string expected =
        "5b8242042e5f53425f434f4d31085f4849440c41d00501085f55494400085f44444e0d434f4d3100085f4352"
        "5311160a134701f803f803010889060003010400000079005b82382e5f53425f5053325f085f4849440c41d0"
        "0303085f435253111e0a1b4701600060000101470164006400010189060003010100000079005b82272e5f53"
        "425f5254435f085f4849440c41d00b00085f435253110d0a0a470170007000010279005b8246042e5f53425f"
        "56303030085f4849440d4c4e524f3030303500085f55494400085f43434101085f435253111a0a1786090001"
        "001000c00010000089060003010500000079005b8241052e5f53425f5647454e085f4849440d4643564d4749"
        "4400085f4349440d564d5f47454e5f434f554e54455200085f44444e0d564d5f47454e5f434f554e54455200"
        "08414444521208020c00204a23015b8248042e5f53425f4745445f085f4849440d414350493030313300085f"
        "435253110e0a0b890600030106000000790014195f45565409a01293680a06865c2e5f53425f5647454e0a80";
    const std::vector<uint8_t> dsdt = build_dsdt(d);
    std::string body;
    for (size_t i = sizeof(SdtHeader); i < dsdt.size(); ++i) {
        const char* hex = "0123456789abcdef";
        body += hex[dsdt[i] >> 4];
        body += hex[dsdt[i] & 0xf];
    }
    EXPECT_EQ(body, expected);
    EXPECT_EQ(signature(dsdt), "DSDT");
    EXPECT_GE(dsdt[8], 2);  // 64-bit AML integers.
}

TEST(AcpiTables, AGuestWalksFromTheRsdpToEveryTable) {
    GuestMemory mem = test::make_memory();
    const auto written = write_acpi_tables(mem, full_machine(2, 2));
    ASSERT_TRUE(written) << written.error().message();
    EXPECT_EQ(written->rsdp.value(), kRsdpStart);

    std::array<uint8_t, kRsdpSize> rsdp{};
    ASSERT_TRUE(mem.read(GuestAddress(kRsdpStart), rsdp));
    EXPECT_EQ(sum(rsdp), 0);
    const std::vector<uint8_t> xsdt = read_table(mem, at<uint64_t>(rsdp, 24), "XSDT");
    ASSERT_EQ(xsdt.size(), 52u);
    const std::vector<uint8_t> fadt = read_table(mem, at<uint64_t>(xsdt, 36), "FACP");
    const std::vector<uint8_t> madt = read_table(mem, at<uint64_t>(xsdt, 44), "APIC");
    const std::vector<uint8_t> dsdt = read_table(mem, at<uint64_t>(fadt, 140), "DSDT");
    EXPECT_EQ(written->table_bytes,
              rsdp.size() + xsdt.size() + fadt.size() + madt.size() + dsdt.size());
}

TEST(AcpiTables, StayInTheReservedSystemAreaClearOfTheMpTable) {
    GuestMemory mem = test::make_memory();
    const auto written = write_acpi_tables(mem, full_machine(kMaxVcpus, 19));
    ASSERT_TRUE(written) << written.error().message();
    // The largest machine's tables all fit between kAcpiTablesStart and kAcpiTablesEnd.
    EXPECT_LT(written->table_bytes, kAcpiTablesEnd - kAcpiTablesStart);
    EXPECT_LE(kMptableStart + mptable_size(kMaxVcpus), kVmGenIdStart);
    EXPECT_LE(kVmGenIdStart + 16, kAcpiTablesStart);
    // The e820 map gives none of it to the guest as RAM; the RSDP is in the unlisted BIOS area.
    const std::vector<GuestRange> ram = ram_of(mem);
    for (const E820Entry& e : e820_table(ram)) {
        if (e.type != E820Type::kRam) continue;
        for (uint64_t gpa : {kVmGenIdStart, kAcpiTablesStart, kAcpiTablesEnd - 1, kRsdpStart}) {
            EXPECT_FALSE(gpa >= e.addr && gpa < e.addr + e.size_bytes) << std::hex << gpa;
        }
    }
}

TEST(AcpiTables, RefusesAVcpuCountTheMadtCannotHold) {
    GuestMemory mem = test::make_memory();
    EXPECT_FALSE(write_acpi_tables(mem, full_machine(0, 0)));
    EXPECT_FALSE(write_acpi_tables(mem, full_machine(kMaxVcpus + 1, 0)));
}

TEST(AcpiTables, BootParamsCarryTheRsdpForBothProtocols) {
    BootParams params{.cmdline = "x", .vcpu_count = 1, .acpi_rsdp = GuestAddress(kRsdpStart)};
    const auto zp = build_zero_page(LoadedKernel{}, params, {});
    ASSERT_TRUE(zp);
    // Unary plus copies the packed field: a reference to it may be misaligned.
    EXPECT_EQ(+zp->acpi_rsdp_addr, kRsdpStart);

    GuestMemory mem = test::make_memory();
    ASSERT_TRUE(write_pvh_start_info(mem, params, {}));
    EXPECT_EQ(mem.read_obj<HvmStartInfo>(GuestAddress(kPvhInfoStart)).value().rsdp_paddr,
              kRsdpStart);
    params.acpi_rsdp.reset();
    EXPECT_EQ(build_zero_page(LoadedKernel{}, params, {})->acpi_rsdp_addr, 0u);
}

}  // namespace
}  // namespace ember::x86
