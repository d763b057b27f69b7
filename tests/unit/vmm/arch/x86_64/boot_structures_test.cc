// write_boot_structures (boot_structures.cc), with the PVH start info and page tables it writes.
#include <gtest/gtest.h>

#include <array>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/e820.h"
#include "vmm/arch/x86_64/gdt.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/mptable.h"
#include "vmm/arch/x86_64/pvh_start_info.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

LoadedKernel load(const GuestMemory& mem, const std::vector<uint8_t>& image) {
    UniqueFd fd = test::memfd_with(image);
    auto kernel = load_kernel(mem, fd.get());
    if (!kernel) throw std::runtime_error(kernel.error().message());
    return *kernel;
}

std::string read_cstring(const GuestMemory& mem, uint64_t gpa, size_t max) {
    std::vector<uint8_t> bytes(max);
    EXPECT_TRUE(mem.read(GuestAddress(gpa), bytes));
    return std::string(reinterpret_cast<const char*>(bytes.data()),
                       strnlen(reinterpret_cast<const char*>(bytes.data()), max));
}

TEST(BootStructures, WritesTheZeroPageCommandLineAndPageTablesForLinuxBoot) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf());
    const GuestRange initrd{GuestAddress(0x3000000), 0x2000};
    ASSERT_TRUE(write_boot_structures(
        mem, kernel, {.cmdline = "console=ttyS0 reboot=k", .initrd = initrd, .vcpu_count = 2}));

    EXPECT_EQ(read_cstring(mem, kCmdlineStart, 64), "console=ttyS0 reboot=k");
    const auto zp = mem.read_obj<ZeroPage>(GuestAddress(kZeroPageStart)).value();
    // Unary plus copies the packed field: a reference to it may be misaligned.
    EXPECT_EQ(+zp.hdr.cmd_line_ptr, kCmdlineStart);
    EXPECT_EQ(+zp.hdr.ramdisk_image, 0x3000000U);
    EXPECT_EQ(+zp.hdr.ramdisk_size, 0x2000U);
    EXPECT_EQ(+zp.hdr.boot_flag, 0xaa55);
    EXPECT_EQ(+zp.hdr.type_of_loader, 0xff);
    EXPECT_EQ(+zp.hdr.kernel_alignment, 0x1000000U);
    ASSERT_EQ(zp.e820_entries, 3);
    EXPECT_EQ(+zp.e820_table[2].addr + zp.e820_table[2].size, test::kTestRamBytes);

    EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kPml4Start)).value(), kPdpteStart | 3);
    EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kPdpteStart)).value(), kPdeStart | 3);
    EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kPdeStart)).value(), 0x83U);
    EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kPdeStart + 511ULL * 8)).value(),
              (511ULL << 21) | 0x83);

    const auto gdt = mem.read_obj<std::array<uint64_t, kGdtEntries>>(GuestAddress(kGdtStart));
    EXPECT_EQ(gdt.value(), gdt_table(BootProtocol::kLinux64));
    EXPECT_EQ(mem.read_obj<uint32_t>(GuestAddress(kMptableStart)).value(),
              0x5f504d5fU);  // "_MP_"
}

TEST(BootStructures, WritesHvmStartInfoForPvh) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf({.pvh_note = true}));
    ASSERT_EQ(kernel.protocol, BootProtocol::kPvh);
    const GuestRange initrd{GuestAddress(0x3000000), 0x1234};
    ASSERT_TRUE(write_boot_structures(mem, kernel, {.cmdline = "console=hvc0", .initrd = initrd}));

    const auto info = mem.read_obj<HvmStartInfo>(GuestAddress(kPvhInfoStart)).value();
    EXPECT_EQ(info.magic, 0x336ec578U);
    EXPECT_EQ(info.version, 1U);
    EXPECT_EQ(info.cmdline_paddr, kCmdlineStart);
    EXPECT_EQ(read_cstring(mem, info.cmdline_paddr, 64), "console=hvc0");
    ASSERT_EQ(info.nr_modules, 1U);
    EXPECT_EQ(info.modlist_paddr, kPvhModlistStart);
    const auto module = mem.read_obj<HvmModlistEntry>(GuestAddress(info.modlist_paddr)).value();
    EXPECT_EQ(module.paddr, 0x3000000U);
    EXPECT_EQ(module.size, 0x1234U);

    const auto e820 = e820_table(ram_of(mem));
    ASSERT_EQ(info.memmap_entries, e820.size());
    EXPECT_EQ(info.memmap_paddr, kPvhMemmapStart);
    for (size_t i = 0; i < e820.size(); ++i) {
        const auto entry = mem.read_obj<HvmMemmapEntry>(
                                  GuestAddress(info.memmap_paddr + i * sizeof(HvmMemmapEntry)))
                               .value();
        EXPECT_EQ(entry.addr, e820[i].addr);
        EXPECT_EQ(entry.size, e820[i].size_bytes);
        EXPECT_EQ(entry.type, static_cast<uint32_t>(e820[i].type));
    }
    // No page tables: PVH starts with paging off.
    EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kPml4Start)).value(), 0U);
    const auto gdt = mem.read_obj<std::array<uint64_t, kGdtEntries>>(GuestAddress(kGdtStart));
    EXPECT_EQ(gdt.value(), gdt_table(BootProtocol::kPvh));
}

TEST(BootStructures, WritesNoModuleWithoutAnInitrd) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf({.pvh_note = true}));
    ASSERT_TRUE(write_boot_structures(mem, kernel, {.cmdline = ""}));
    const auto info = mem.read_obj<HvmStartInfo>(GuestAddress(kPvhInfoStart)).value();
    EXPECT_EQ(info.nr_modules, 0U);
    EXPECT_EQ(info.modlist_paddr, 0U);
}

TEST(BootStructures, AcceptsACommandLineOf2047Bytes) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf());
    const std::string cmdline(2047, 'a');
    ASSERT_TRUE(write_boot_structures(mem, kernel, {.cmdline = cmdline}));
    EXPECT_EQ(read_cstring(mem, kCmdlineStart, 2048), cmdline);
}

TEST(BootStructures, RefusesACommandLineThatDoesNotFitIn2048BytesWithItsNul) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf());
    const std::string cmdline(2048, 'a');
    auto result = write_boot_structures(mem, kernel, {.cmdline = cmdline});
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(result.error().message().find("2048-byte limit"), std::string::npos)
        << result.error().message();
    // Nothing past the limit was written.
    EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kCmdlineStart + 2048)).value(), 0);
}

TEST(BootStructures, RefusesACommandLineWithAnEmbeddedNul) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf());
    const std::string cmdline("root=/dev/vda\0init=/evil", 24);
    EXPECT_FALSE(write_boot_structures(mem, kernel, {.cmdline = cmdline}).has_value());
}

TEST(BootStructures, RefusesZeroOrTooManyVcpus) {
    GuestMemory mem = test::make_memory();
    const LoadedKernel kernel = load(mem, test::make_elf());
    EXPECT_FALSE(write_boot_structures(mem, kernel, {.vcpu_count = 0}).has_value());
    EXPECT_FALSE(write_boot_structures(mem, kernel, {.vcpu_count = 255}).has_value());
    EXPECT_TRUE(write_boot_structures(mem, kernel, {.vcpu_count = 254}).has_value());
}

}  // namespace
}  // namespace ember::x86
