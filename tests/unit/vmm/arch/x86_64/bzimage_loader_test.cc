#include "vmm/arch/x86_64/bzimage_loader.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

using test::BzImageSpec;
using test::expect_error_mentions;
using test::load;
using test::make_bzimage;
using test::make_memory;

TEST(BzImageLoader, LoadsTheProtectedModeCodeAt1MiBAndEntersAt0x200) {
    GuestMemory mem = make_memory();
    auto kernel = load(mem, make_bzimage());
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->protocol, BootProtocol::kLinux64);
    EXPECT_EQ(kernel->entry, GuestAddress(0x100200));
    std::vector<uint8_t> loaded(0x4000);
    ASSERT_TRUE(mem.read(GuestAddress(0x100000), loaded));
    for (size_t i = 0; i < loaded.size(); ++i) ASSERT_EQ(loaded[i], test::pattern_byte(i)) << i;
}

TEST(BzImageLoader, KernelEndCoversTheDecompressionArea) {
    GuestMemory mem = make_memory();
    auto kernel = load(mem, make_bzimage({.init_size = 0x300000, .pref_address = 0x1000000}));
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->kernel_end, GuestAddress(0x1300000));
}

TEST(BzImageLoader, KeepsTheSetupHeaderForTheZeroPage) {
    GuestMemory mem = make_memory();
    auto kernel = load(mem, make_bzimage({.initrd_addr_max = 0x37ffffff, .cmdline_size = 1000}));
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->setup_header.size(), 0x26cU - 0x1f1U);
    const SetupHeader hdr = setup_header_of(*kernel);
    // Unary plus copies the packed field: a reference to it may be misaligned.
    EXPECT_EQ(+hdr.version, 0x020f);
    EXPECT_EQ(+hdr.initrd_addr_max, 0x37ffffffU);
    EXPECT_EQ(+hdr.cmdline_size, 1000U);
    EXPECT_EQ(+hdr.setup_sects, 4);
}

TEST(BzImageLoader, TreatsZeroSetupSectsAsFour) {
    GuestMemory mem = make_memory();
    auto kernel = load(mem, make_bzimage({.setup_sects = 0}));
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(0x100000)).value(), test::pattern_byte(0));
}

TEST(BzImageLoader, RefusesABootProtocolOlderThan2_12) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_bzimage({.version = 0x020b})), "older than 2.12");
}

TEST(BzImageLoader, RefusesAKernelWithoutThe64BitEntry) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_bzimage({.xloadflags = 0})), "XLF_KERNEL_64");
}

TEST(BzImageLoader, RefusesAZImage) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_bzimage({.loadflags = 0})), "LOADED_HIGH");
}

TEST(BzImageLoader, RefusesSetupSectsPastTheEndOfTheFile) {
    GuestMemory mem = make_memory();
    auto image = make_bzimage({.payload_size = 0x100});
    test::put<uint8_t>(image, 0x1f1, 200);
    expect_error_mentions(load(mem, image), "past the end");
}

TEST(BzImageLoader, RefusesAPayloadThatDoesNotFitInRam) {
    GuestMemory mem = make_memory(4ULL << 20);
    expect_error_mentions(load(mem, make_bzimage({.payload_size = 4ULL << 20})),
                          "does not fit in guest RAM");
}

TEST(BzImageLoader, RefusesAKernelWhoseDecompressionAreaExceedsRam) {
    GuestMemory mem = make_memory(32ULL << 20);
    expect_error_mentions(load(mem, make_bzimage({.init_size = 0x2000000})), "too small");
}

TEST(BzImageLoader, RefusesInitSizeThatOverflows) {
    GuestMemory mem = make_memory();
    expect_error_mentions(
        load(mem, make_bzimage({.init_size = 0xffffffff, .pref_address = ~0ULL - 0x1000})),
        "overflows");
}

TEST(BzImageLoader, RefusesAHeaderThatEndsBeforeXloadflags) {
    GuestMemory mem = make_memory();
    auto image = make_bzimage();
    test::put<uint8_t>(image, 0x201, 0x10);  // Header ends at 0x212.
    expect_error_mentions(load(mem, image), "before xloadflags");
}

TEST(BzImageLoader, RefusesAPayloadShorterThanSyssize) {
    GuestMemory mem = make_memory();
    auto image = make_bzimage();
    image.resize(image.size() - 16);
    expect_error_mentions(load(mem, image), "syssize");
}

TEST(BzImageLoader, AcceptsTrailingDataAfterTheProtectedModeCode) {
    GuestMemory mem = make_memory();
    auto image = make_bzimage();
    image.resize(image.size() + 0x100, 0xee);  // E.g. an appended signature.
    EXPECT_TRUE(load(mem, image).has_value());
}

TEST(BzImageLoader, RefusesAnImageTruncatedAtAnyOffset) {
    const auto image = make_bzimage();
    for (size_t len = 0; len < image.size(); len += 3) {
        GuestMemory mem = make_memory();
        std::vector<uint8_t> truncated(image.begin(), image.begin() + static_cast<long>(len));
        EXPECT_FALSE(load(mem, truncated).has_value()) << "accepted an image cut at " << len;
    }
}

TEST(KernelLoader, RefusesAnImageThatIsNeitherElfNorBzImage) {
    GuestMemory mem = make_memory();
    std::vector<uint8_t> junk(0x4000, 0x90);
    expect_error_mentions(load(mem, junk), "neither an ELF vmlinux");
}

TEST(KernelLoader, RefusesAnEmptyFile) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, {}), "neither an ELF vmlinux");
}

}  // namespace
}  // namespace ember::x86
