// The minimal ACPI tables a guest kernel with CONFIG_ACPI reads, as Firecracker's
// src/vmm/src/acpi: RSDP -> XSDT -> {FADT (hardware-reduced ACPI) -> DSDT, MADT}. The DSDT names
// COM1, the i8042, the CMOS RTC, each virtio-mmio window (hardware-reduced ACPI has no legacy
// IRQs: a kernel maps a GSI only for a device whose _CRS names it) and, when there is one, the VM
// generation ID device with the Generic Event Device (ACPI0013) whose interrupt notifies it.
// Kernels without ACPI ignore the tables and keep using the MP table. Pure computation over
// GuestMemory, written once at boot.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::x86 {

struct AcpiPortDevice {
    uint16_t port = 0;
    uint8_t length = 0;
    std::optional<uint32_t> gsi;  // None for a device without an interrupt (Ember's RTC).
};
struct AcpiMmioDevice {
    uint32_t base = 0;
    uint32_t length = 0;
    uint32_t gsi = 0;
};
struct AcpiVmGenId {
    GuestAddress id_gpa;  // The 16-byte generation ID, 8-byte aligned.
    uint32_t gsi = 0;     // The GED's interrupt.
};

// What the tables describe.
struct AcpiDevices {
    uint32_t vcpu_count = 1;               // 1..kMaxVcpus, APIC ids 0..n-1 as in the MP table.
    std::optional<AcpiPortDevice> serial;  // COM1, PNP0501.
    std::optional<AcpiPortDevice> i8042;   // PNP0303 at `port` and `port` + 4.
    // PNP0B00. Named because with hardware-reduced ACPI a kernel maps no legacy IRQ, and its
    // fallback platform RTC, which asks for IRQ 8, fails to probe.
    std::optional<AcpiPortDevice> rtc;
    std::vector<AcpiMmioDevice> virtio;  // LNRO0005, in window order.
    std::optional<AcpiVmGenId> vmgenid;
};

// ACPI 6.5 §5.2.6: the header every table but the RSDP starts with.
struct [[gnu::packed]] SdtHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

inline constexpr size_t kRsdpSize = 36;
inline constexpr size_t kFadtSize = 276;  // Revision 6.5.

// The byte that makes `bytes` sum to 0 mod 256 when stored in their checksum field (zeroed).
uint8_t acpi_checksum(std::span<const uint8_t> bytes);

// Each table complete with its checksum.
std::vector<uint8_t> build_dsdt(const AcpiDevices& devices);
std::vector<uint8_t> build_fadt(uint64_t dsdt_gpa);
std::vector<uint8_t> build_madt(uint32_t vcpu_count);
std::vector<uint8_t> build_xsdt(std::span<const uint64_t> table_gpas);
std::array<uint8_t, kRsdpSize> build_rsdp(uint64_t xsdt_gpa);

struct AcpiTablesWritten {
    GuestAddress rsdp;
    uint64_t table_bytes = 0;  // DSDT, FADT, MADT, XSDT and RSDP together.
};

// Writes the tables from kAcpiTablesStart and the RSDP at kRsdpStart. Refuses a vCPU count
// outside 1..kMaxVcpus and tables that would not fit below kAcpiTablesEnd.
Result<AcpiTablesWritten> write_acpi_tables(const GuestMemory& mem, const AcpiDevices& devices);

}  // namespace ember::x86
