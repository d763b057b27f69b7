// load_initrd (kernel_loader.cc): placement at the top of low RAM.
#include <gtest/gtest.h>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/boot.h"

namespace ember::x86 {
namespace {

using test::make_memory;
using test::memfd_with;

LoadedKernel elf_kernel(const GuestMemory& mem) {
    UniqueFd fd = memfd_with(test::make_elf());
    auto kernel = load_kernel(mem, fd.get());
    if (!kernel) throw std::runtime_error(kernel.error().message());
    return *kernel;
}

std::vector<uint8_t> initrd_bytes(size_t size) {
    std::vector<uint8_t> out(size);
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(i ^ 0x5a);
    return out;
}

TEST(InitrdLoader, PlacesThePageAlignedInitrdAtTheTopOfRam) {
    GuestMemory mem = make_memory();
    const LoadedKernel kernel = elf_kernel(mem);
    const auto bytes = initrd_bytes(0x12345);
    UniqueFd fd = memfd_with(bytes);
    auto range = load_initrd(mem, fd.get(), kernel);
    ASSERT_TRUE(range.has_value()) << range.error().message();
    EXPECT_EQ(range->size_bytes, bytes.size());
    EXPECT_EQ(range->start.value() % 4096, 0U);
    EXPECT_LE(range->start.value() + range->size_bytes, test::kTestRamBytes);
    EXPECT_GT(range->start.value() + range->size_bytes, test::kTestRamBytes - 4096);
    std::vector<uint8_t> loaded(bytes.size());
    ASSERT_TRUE(mem.read(range->start, loaded));
    EXPECT_EQ(loaded, bytes);
}

TEST(InitrdLoader, StaysBelowTheHoleWhenRamExtendsAbove4GiB) {
    // 3 GiB + 4 MiB: the low region ends at 3 GiB. Memory is reserved lazily, so this is cheap.
    GuestMemory mem = make_memory(3ULL * 1024 * 1024 * 1024 + (4ULL << 20));
    const LoadedKernel kernel = elf_kernel(mem);
    UniqueFd fd = memfd_with(initrd_bytes(0x3000));
    auto range = load_initrd(mem, fd.get(), kernel);
    ASSERT_TRUE(range.has_value()) << range.error().message();
    EXPECT_EQ(range->start, GuestAddress(0xc0000000 - 0x3000));
}

TEST(InitrdLoader, HonoursTheKernelsInitrdAddrMax) {
    GuestMemory mem = make_memory();
    UniqueFd kfd = memfd_with(test::make_bzimage({.initrd_addr_max = 0x2ffffff}));
    auto kernel = load_kernel(mem, kfd.get());
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    UniqueFd fd = memfd_with(initrd_bytes(0x1800));
    auto range = load_initrd(mem, fd.get(), *kernel);
    ASSERT_TRUE(range.has_value()) << range.error().message();
    EXPECT_EQ(range->start, GuestAddress(0x3000000 - 0x2000));
}

TEST(InitrdLoader, RefusesAnInitrdThatWouldOverlapTheKernel) {
    GuestMemory mem = make_memory();
    const LoadedKernel kernel = elf_kernel(mem);  // Ends at 0x1005000.
    UniqueFd fd = memfd_with(initrd_bytes(test::kTestRamBytes - 0x1000000));
    auto range = load_initrd(mem, fd.get(), kernel);
    ASSERT_FALSE(range.has_value());
    EXPECT_NE(range.error().message().find("do not fit"), std::string::npos);
}

TEST(InitrdLoader, RefusesAnEmptyInitrd) {
    GuestMemory mem = make_memory();
    const LoadedKernel kernel = elf_kernel(mem);
    UniqueFd fd = memfd_with({});
    auto range = load_initrd(mem, fd.get(), kernel);
    ASSERT_FALSE(range.has_value());
    EXPECT_NE(range.error().message().find("empty"), std::string::npos);
}

}  // namespace
}  // namespace ember::x86
