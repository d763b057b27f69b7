// acpi_tables_bench: what the ACPI tables add to a boot, without KVM. For machines from 1 vCPU
// and no virtio device to 254 vCPUs and 19 devices: the bytes written (tables and RSDP) and the
// time write_acpi_tables() takes, median [min-max] over ROUNDS runs (default 201), beside the MP
// table's write_mptable() for the same vCPUs. Prints figures; asserts nothing.
// Usage: acpi_tables_bench [ROUNDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "tests/bench/spread.h"
#include "vmm/arch/x86_64/acpi_tables.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/mptable.h"

namespace ember::x86 {
namespace {

using Clock = std::chrono::steady_clock;

using bench::Spread;

template <typename F>
Spread time_us(int rounds, F&& f) {
    std::vector<double> us;
    for (int i = 0; i < rounds; ++i) {
        const auto t0 = Clock::now();
        f();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    return bench::spread_of(std::move(us));
}

AcpiDevices machine(uint32_t vcpus, uint32_t virtio) {
    AcpiDevices d;
    d.vcpu_count = vcpus;
    d.serial = AcpiPortDevice{0x3f8, 8, 4};
    d.i8042 = AcpiPortDevice{0x60, 1, 1};
    d.rtc = AcpiPortDevice{0x70, 2, std::nullopt};
    for (uint32_t i = 0; i < virtio; ++i)
        d.virtio.push_back({0xc0001000 + i * 0x1000, 0x1000, 5 + i});
    if (virtio < 19) d.vmgenid = AcpiVmGenId{GuestAddress(kVmGenIdStart), 5 + virtio};
    return d;
}

int run(int rounds) {
    const GuestRange ranges[] = {{GuestAddress(0), 16 << 20}};
    GuestMemory mem = GuestMemory::anonymous(ranges).value();
    std::printf("%-6s %-7s %-6s %-24s %-24s %s\n", "vcpus", "virtio", "bytes", "acpi_tables_us",
                "mptable_us", "acpi/mptable");
    const std::pair<uint32_t, uint32_t> shapes[] = {{1, 0}, {2, 2}, {32, 8}, {254, 19}};
    for (const auto& shape : shapes) {
        const uint32_t vcpus = shape.first;
        const uint32_t virtio = shape.second;
        const AcpiDevices d = machine(vcpus, virtio);
        uint64_t bytes = 0;
        const Spread acpi =
            time_us(rounds, [&] { bytes = write_acpi_tables(mem, d)->table_bytes; });
        const Spread mp = time_us(rounds, [&] { (void)write_mptable(mem, vcpus); });
        const std::string acpi_text = bench::spread_text(acpi, 2);
        const std::string mp_text = bench::spread_text(mp, 2);
        std::printf("%-6u %-7u %-6lu %-24s %-24s %.1f\n", vcpus, virtio,
                    static_cast<unsigned long>(bytes), acpi_text.c_str(), mp_text.c_str(),
                    acpi.median / mp.median);
    }
    std::printf("rounds=%d; times are median [min-max] microseconds per boot\n", rounds);
    return 0;
}

}  // namespace
}  // namespace ember::x86

int main(int argc, char** argv) { return ember::x86::run(argc > 1 ? std::atoi(argv[1]) : 201); }
