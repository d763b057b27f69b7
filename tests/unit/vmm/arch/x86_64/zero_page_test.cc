#include "vmm/arch/x86_64/zero_page.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {
namespace {

// Offsets from Documentation/x86/zero-page.rst and boot.rst, checked through the raw bytes so a
// wrong struct layout cannot hide behind its own field names.
TEST(ZeroPage, PutsEachFieldAtItsDocumentedOffset) {
    ZeroPage zp{};
    zp.e820_entries = 3;
    zp.hdr.cmd_line_ptr = 0x11223344;
    zp.hdr.ramdisk_image = 0x55667788;
    zp.hdr.ramdisk_size = 0x99aabbcc;
    zp.hdr.type_of_loader = 0xff;
    zp.hdr.vid_mode = 0xfffe;
    zp.e820_table[1].addr = 0x0102030405060708ULL;
    zp.e820_table[1].type = 2;
    std::vector<uint8_t> raw(sizeof(zp));
    std::memcpy(raw.data(), &zp, sizeof(zp));
    EXPECT_EQ(raw[0x1e8], 3);
    EXPECT_EQ(test::get<uint32_t>(raw, 0x228), 0x11223344U);
    EXPECT_EQ(test::get<uint32_t>(raw, 0x218), 0x55667788U);
    EXPECT_EQ(test::get<uint32_t>(raw, 0x21c), 0x99aabbccU);
    EXPECT_EQ(raw[0x210], 0xff);
    EXPECT_EQ(test::get<uint16_t>(raw, 0x1fa), 0xfffe);
    EXPECT_EQ(test::get<uint64_t>(raw, 0x2d0 + 20), 0x0102030405060708ULL);
    EXPECT_EQ(test::get<uint32_t>(raw, 0x2d0 + 20 + 16), 2U);
}

LoadedKernel bzimage_kernel(uint32_t cmdline_size) {
    GuestMemory mem = test::make_memory();
    UniqueFd fd = test::memfd_with(test::make_bzimage({.cmdline_size = cmdline_size}));
    auto kernel = load_kernel(mem, fd.get());
    if (!kernel) throw std::runtime_error(kernel.error().message());
    return *kernel;
}

TEST(ZeroPage, KeepsTheKernelsHeaderAndFillsTheLoaderFields) {
    const LoadedKernel kernel = bzimage_kernel(2047);
    const std::vector<E820Entry> e820 = {{0, 0x9fc00, E820Type::kRam},
                                         {0x100000, 0x3f00000, E820Type::kRam}};
    BootParams params{.cmdline = "console=ttyS0",
                      .initrd = GuestRange{GuestAddress(0x3f00000), 0x12345}};
    auto zp = build_zero_page(kernel, params, e820);
    ASSERT_TRUE(zp.has_value()) << zp.error().message();
    // Unary plus copies the packed field: a reference to it may be misaligned.
    EXPECT_EQ(+zp->hdr.version, 0x020f);  // From the image.
    EXPECT_EQ(+zp->hdr.cmdline_size, 2047U);
    EXPECT_EQ(+zp->hdr.type_of_loader, 0xff);
    EXPECT_EQ(+zp->hdr.boot_flag, 0xaa55);
    EXPECT_EQ(+zp->hdr.header, 0x53726448U);
    EXPECT_EQ(+zp->hdr.vid_mode, 0xffff);
    EXPECT_EQ(+zp->hdr.cmd_line_ptr, 0x20000U);
    EXPECT_EQ(+zp->hdr.ramdisk_image, 0x3f00000U);
    EXPECT_EQ(+zp->hdr.ramdisk_size, 0x12345U);
    EXPECT_NE(zp->hdr.loadflags & kLoadedHigh, 0);
    ASSERT_EQ(zp->e820_entries, 2);
    EXPECT_EQ(+zp->e820_table[1].addr, 0x100000U);
    EXPECT_EQ(+zp->e820_table[1].size, 0x3f00000U);
    EXPECT_EQ(+zp->e820_table[1].type, 1U);
}

TEST(ZeroPage, RefusesACommandLineLongerThanTheKernelAccepts) {
    const LoadedKernel kernel = bzimage_kernel(16);
    const std::string cmdline(17, 'x');
    auto zp = build_zero_page(kernel, BootParams{.cmdline = cmdline}, {});
    ASSERT_FALSE(zp.has_value());
    EXPECT_NE(zp.error().message().find("kernel's limit of 16"), std::string::npos);
}

TEST(ZeroPage, RefusesMoreE820EntriesThanItHolds) {
    const LoadedKernel kernel = bzimage_kernel(2047);
    std::vector<E820Entry> e820(kE820MaxEntries + 1, {0, 0x1000, E820Type::kRam});
    EXPECT_FALSE(build_zero_page(kernel, BootParams{}, e820).has_value());
}

}  // namespace
}  // namespace ember::x86
