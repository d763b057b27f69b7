// The tables of acpi_tables.h, laid out as ACPI 6.5 chapter 5 says; the field offsets are the
// spec's.
#include "vmm/arch/x86_64/acpi_tables.h"

#include <fmt/core.h>

#include <cstring>
#include <numeric>
#include <string>

#include "vmm/arch/x86_64/aml.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {
namespace {

constexpr char kOemId[6] = {'E', 'M', 'B', 'E', 'R', ' '};
constexpr char kCreatorId[4] = {'E', 'M', 'B', 'R'};
constexpr uint32_t kCreatorRevision = 1;
// FADT "Hypervisor Vendor Identity" (§5.2.9), as Firecracker's "FIRECKVM".
constexpr char kHypervisorVendor[8] = {'E', 'M', 'B', 'E', 'R', 'K', 'V', 'M'};

// FADT offsets and flags (§5.2.9, tables 5.9-5.11).
constexpr size_t kFadtIapcBootArch = 109;
constexpr size_t kFadtFlags = 112;
constexpr size_t kFadtMinorVersion = 131;
constexpr size_t kFadtXDsdt = 140;
constexpr size_t kFadtHypervisorVendor = 268;
constexpr uint16_t kIapc8042 = 1 << 1;
constexpr uint16_t kIapcVgaNotPresent = 1 << 2;
constexpr uint16_t kIapcMsiNotSupported = 1 << 3;
constexpr uint16_t kIapcPcieAspmControls = 1 << 4;
constexpr uint32_t kFadtPwrButton = 1 << 4;  // No fixed power button.
constexpr uint32_t kFadtSlpButton = 1 << 5;  // No fixed sleep button.
constexpr uint32_t kFadtHwReducedAcpi = 1 << 20;

// MADT (§5.2.12): entry types and the enabled flag.
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtIoApic = 1;
constexpr uint32_t kMadtLapicEnabled = 1;

// The VMGenID notification (Microsoft's "Virtual Machine Generation ID" spec; Linux
// drivers/virt/vmgenid.c matches the _CID).
constexpr uint64_t kVmGenIdNotify = 0x80;

template <typename T>
void put(std::vector<uint8_t>& table, size_t offset, T value) {
    std::memcpy(table.data() + offset, &value, sizeof(T));
}

template <typename T>
void append(std::vector<uint8_t>& out, T value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
}

// A table of `length` bytes with its header filled in and its checksum still to set.
std::vector<uint8_t> table_with_header(const char (&signature)[5], size_t length, uint8_t revision,
                                       const char (&table_id)[9]) {
    std::vector<uint8_t> table(length, 0);
    SdtHeader h{};
    std::memcpy(h.signature, signature, 4);
    h.length = static_cast<uint32_t>(length);
    h.revision = revision;
    std::memcpy(h.oem_id, kOemId, sizeof(h.oem_id));
    std::memcpy(h.oem_table_id, table_id, 8);
    h.oem_revision = 1;
    std::memcpy(h.creator_id, kCreatorId, sizeof(h.creator_id));
    h.creator_revision = kCreatorRevision;
    std::memcpy(table.data(), &h, sizeof(h));
    return table;
}

std::vector<uint8_t> finish(std::vector<uint8_t> table) {
    table[offsetof(SdtHeader, checksum)] = 0;
    table[offsetof(SdtHeader, checksum)] = acpi_checksum(table);
    return table;
}

using aml::Bytes;

// `io` and then the device's interrupt, if it has one.
Bytes port_resources(std::span<const Bytes> io, const AcpiPortDevice& d) {
    std::vector<Bytes> crs(io.begin(), io.end());
    if (d.gsi) crs.push_back(aml::edge_interrupt(*d.gsi));
    return aml::resource_template(crs);
}

Bytes serial_aml(const AcpiPortDevice& d) {
    const Bytes io[] = {aml::io(d.port, d.port, 1, d.length)};
    const Bytes terms[] = {
        aml::name("_HID", aml::eisa_id("PNP0501")), aml::name("_UID", aml::integer(0)),
        aml::name("_DDN", aml::string("COM1")), aml::name("_CRS", port_resources(io, d))};
    return aml::device("_SB_.COM1", terms);
}

Bytes i8042_aml(const AcpiPortDevice& d) {
    const auto status = static_cast<uint16_t>(d.port + 4);
    const Bytes io[] = {aml::io(d.port, d.port, 1, 1), aml::io(status, status, 1, 1)};
    const Bytes terms[] = {aml::name("_HID", aml::eisa_id("PNP0303")),
                           aml::name("_CRS", port_resources(io, d))};
    return aml::device("_SB_.PS2_", terms);
}

Bytes rtc_aml(const AcpiPortDevice& d) {
    const Bytes io[] = {aml::io(d.port, d.port, 1, d.length)};
    const Bytes terms[] = {aml::name("_HID", aml::eisa_id("PNP0B00")),
                           aml::name("_CRS", port_resources(io, d))};
    return aml::device("_SB_.RTC_", terms);
}

Bytes virtio_aml(const AcpiMmioDevice& d, size_t index) {
    const Bytes crs[] = {aml::memory32_fixed(d.base, d.length), aml::edge_interrupt(d.gsi)};
    const Bytes terms[] = {
        aml::name("_HID", aml::string("LNRO0005")), aml::name("_UID", aml::integer(index)),
        aml::name("_CCA", aml::integer(1)), aml::name("_CRS", aml::resource_template(crs))};
    return aml::device(fmt::format("_SB_.V{:03}", index), terms);
}

// The device Linux's vmgenid driver binds (by _CID) and whose ADDR package holds the ID's
// address, low and high 32 bits; and the GED whose _EVT turns its interrupt into Notify(0x80).
Bytes vmgenid_aml(const AcpiVmGenId& v) {
    const uint64_t gpa = v.id_gpa.value();
    const Bytes addr[] = {aml::integer(gpa & 0xffffffff), aml::integer(gpa >> 32)};
    const Bytes vgen[] = {
        aml::name("_HID", aml::string("FCVMGID")), aml::name("_CID", aml::string("VM_GEN_COUNTER")),
        aml::name("_DDN", aml::string("VM_GEN_COUNTER")), aml::name("ADDR", aml::package(addr))};
    Bytes out = aml::device("_SB_.VGEN", vgen);

    const Bytes notify[] = {
        aml::notify(aml::name_string("\\_SB_.VGEN"), aml::integer(kVmGenIdNotify))};
    const Bytes evt[] = {aml::if_then(aml::equal(aml::arg(0), aml::integer(v.gsi)), notify)};
    const Bytes crs[] = {aml::edge_interrupt(v.gsi)};
    const Bytes ged[] = {aml::name("_HID", aml::string("ACPI0013")),
                         aml::name("_CRS", aml::resource_template(crs)),
                         aml::method("_EVT", 1, aml::MethodSync::kSerialized, evt)};
    const Bytes ged_device = aml::device("_SB_.GED_", ged);
    out.insert(out.end(), ged_device.begin(), ged_device.end());
    return out;
}

}  // namespace

uint8_t acpi_checksum(std::span<const uint8_t> bytes) {
    const uint8_t sum = std::accumulate(bytes.begin(), bytes.end(), uint8_t{0},
                                        [](uint8_t a, uint8_t b) { return uint8_t(a + b); });
    return static_cast<uint8_t>(0x100 - sum);
}

std::vector<uint8_t> build_dsdt(const AcpiDevices& devices) {
    Bytes body;
    auto add = [&body](const Bytes& b) { body.insert(body.end(), b.begin(), b.end()); };
    if (devices.serial) add(serial_aml(*devices.serial));
    if (devices.i8042) add(i8042_aml(*devices.i8042));
    if (devices.rtc) add(rtc_aml(*devices.rtc));
    for (size_t i = 0; i < devices.virtio.size(); ++i) add(virtio_aml(devices.virtio[i], i));
    if (devices.vmgenid) add(vmgenid_aml(*devices.vmgenid));
    // Revision 2 and up: AML integers are 64 bits wide.
    std::vector<uint8_t> table =
        table_with_header("DSDT", sizeof(SdtHeader) + body.size(), 6, "EMBRDSDT");
    std::memcpy(table.data() + sizeof(SdtHeader), body.data(), body.size());
    return finish(std::move(table));
}

std::vector<uint8_t> build_fadt(uint64_t dsdt_gpa) {
    std::vector<uint8_t> table = table_with_header("FACP", kFadtSize, 6, "EMBRFACP");
    put(table, kFadtIapcBootArch,
        static_cast<uint16_t>(kIapc8042 | kIapcVgaNotPresent | kIapcMsiNotSupported |
                              kIapcPcieAspmControls));
    put(table, kFadtFlags, kFadtHwReducedAcpi | kFadtPwrButton | kFadtSlpButton);
    put(table, kFadtMinorVersion, uint8_t{5});
    put(table, kFadtXDsdt, dsdt_gpa);
    std::memcpy(table.data() + kFadtHypervisorVendor, kHypervisorVendor, 8);
    return finish(std::move(table));
}

std::vector<uint8_t> build_madt(uint32_t vcpu_count) {
    std::vector<uint8_t> table = table_with_header("APIC", sizeof(SdtHeader), 6, "EMBRAPIC");
    append(table, static_cast<uint32_t>(kLapicStart));
    append(table, uint32_t{0});  // No PCAT_COMPAT: there is no 8259 pair to mask.
    // The IOAPIC has the id the MP table gives it (after the vCPUs' APIC ids), GSIs from 0.
    table.insert(table.end(), {kMadtIoApic, 12, static_cast<uint8_t>(vcpu_count + 1), 0});
    append(table, static_cast<uint32_t>(kIoapicStart));
    append(table, uint32_t{0});
    for (uint32_t i = 0; i < vcpu_count; ++i) {
        table.insert(table.end(),
                     {kMadtLocalApic, 8, static_cast<uint8_t>(i), static_cast<uint8_t>(i)});
        append(table, kMadtLapicEnabled);
    }
    put(table, offsetof(SdtHeader, length), static_cast<uint32_t>(table.size()));
    return finish(std::move(table));
}

std::vector<uint8_t> build_xsdt(std::span<const uint64_t> table_gpas) {
    std::vector<uint8_t> table = table_with_header("XSDT", sizeof(SdtHeader), 1, "EMBRXSDT");
    for (uint64_t gpa : table_gpas) append(table, gpa);
    put(table, offsetof(SdtHeader, length), static_cast<uint32_t>(table.size()));
    return finish(std::move(table));
}

std::array<uint8_t, kRsdpSize> build_rsdp(uint64_t xsdt_gpa) {
    // §5.2.5.3: signature, checksum of the first 20 bytes, OEM id, revision 2, RSDT address (none:
    // the XSDT is used), length, XSDT address, checksum of all 36 bytes, 3 reserved.
    std::array<uint8_t, kRsdpSize> r{};
    std::memcpy(r.data(), "RSD PTR ", 8);
    std::memcpy(r.data() + 9, kOemId, 6);
    r[15] = 2;
    const uint32_t length = kRsdpSize;
    std::memcpy(r.data() + 20, &length, 4);
    std::memcpy(r.data() + 24, &xsdt_gpa, 8);
    r[8] = acpi_checksum(std::span(r).first(20));
    r[32] = acpi_checksum(r);
    return r;
}

Result<AcpiTablesWritten> write_acpi_tables(const GuestMemory& mem, const AcpiDevices& devices) {
    if (devices.vcpu_count == 0 || devices.vcpu_count > kMaxVcpus) {
        return Error::invalid(
            "ACPI tables", fmt::format("{} vCPUs is outside 1..{}", devices.vcpu_count, kMaxVcpus));
    }
    uint64_t next = kAcpiTablesStart;
    AcpiTablesWritten written;
    auto place = [&](const std::vector<uint8_t>& table) -> Result<uint64_t> {
        const uint64_t at = next;
        if (table.size() > kAcpiTablesEnd - at) {
            return Error::invalid("ACPI tables",
                                  fmt::format("{} bytes at {:#x} pass the end of the system area "
                                              "at {:#x}",
                                              table.size(), at, kAcpiTablesEnd));
        }
        EMBER_TRY(mem.write(GuestAddress(at), table));
        next = (at + table.size() + 7) & ~uint64_t{7};
        written.table_bytes += table.size();
        return at;
    };
    const uint64_t dsdt = EMBER_TRY(place(build_dsdt(devices)));
    const uint64_t fadt = EMBER_TRY(place(build_fadt(dsdt)));
    const uint64_t madt = EMBER_TRY(place(build_madt(devices.vcpu_count)));
    const uint64_t tables[] = {fadt, madt};
    const uint64_t xsdt = EMBER_TRY(place(build_xsdt(tables)));
    const std::array<uint8_t, kRsdpSize> rsdp = build_rsdp(xsdt);
    EMBER_TRY(mem.write(GuestAddress(kRsdpStart), rsdp));
    written.rsdp = GuestAddress(kRsdpStart);
    written.table_bytes += rsdp.size();
    return written;
}

}  // namespace ember::x86
