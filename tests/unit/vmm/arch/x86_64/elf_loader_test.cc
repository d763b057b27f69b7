#include "vmm/arch/x86_64/elf_loader.h"

#include <gtest/gtest.h>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

using test::ElfSpec;
using test::expect_error_mentions;
using test::load;
using test::make_elf;
using test::make_memory;

TEST(ElfLoader, LoadsSegmentAtItsPhysicalAddressAndZeroesTheTail) {
    GuestMemory mem = make_memory();
    // Dirty the bss range first: the loader must clear it, not rely on fresh memory.
    std::vector<uint8_t> junk(0x2000, 0xcc);
    ASSERT_TRUE(mem.write(GuestAddress(0x1003000), junk));

    auto kernel = load(mem, make_elf());
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->protocol, BootProtocol::kLinux64);
    EXPECT_EQ(kernel->entry, GuestAddress(0x1000000));
    EXPECT_EQ(kernel->kernel_end, GuestAddress(0x1005000));

    std::vector<uint8_t> loaded(0x5000);
    ASSERT_TRUE(mem.read(GuestAddress(0x1000000), loaded));
    for (size_t i = 0; i < 0x3000; ++i) ASSERT_EQ(loaded[i], test::pattern_byte(i)) << i;
    for (size_t i = 0x3000; i < 0x5000; ++i) ASSERT_EQ(loaded[i], 0) << i;
}

TEST(ElfLoader, GivesAVmlinuxASetupHeaderWithTheBootMagic) {
    GuestMemory mem = make_memory();
    auto kernel = load(mem, make_elf());
    ASSERT_TRUE(kernel.has_value());
    const SetupHeader hdr = setup_header_of(*kernel);
    // Unary plus copies the packed field: a reference to it may be misaligned.
    EXPECT_EQ(+hdr.boot_flag, 0xaa55);
    EXPECT_EQ(+hdr.header, 0x53726448U);
    EXPECT_EQ(+hdr.type_of_loader, 0xff);
}

TEST(ElfLoader, ChoosesPvhWhenTheXenEntryNoteIsPresent) {
    GuestMemory mem = make_memory();
    auto kernel = load(mem, make_elf({.pvh_note = true, .pvh_entry = 0x1000abc}));
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->protocol, BootProtocol::kPvh);
    EXPECT_EQ(kernel->entry, GuestAddress(0x1000abc));
}

TEST(ElfLoader, AcceptsAFourBytePvhNoteDescriptor) {
    GuestMemory mem = make_memory();
    auto kernel =
        load(mem, make_elf({.pvh_note = true, .pvh_entry = 0x1000010, .pvh_desc_size = 4}));
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->protocol, BootProtocol::kPvh);
    EXPECT_EQ(kernel->entry, GuestAddress(0x1000010));
}

TEST(ElfLoader, RefusesAPvhNoteWithATwoByteDescriptor) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.pvh_note = true, .pvh_desc_size = 2})),
                          "2-byte descriptor");
}

TEST(ElfLoader, RefusesAPvhEntryAbove4GiB) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.pvh_note = true, .pvh_entry = 0x100001000ULL})),
                          "not a 32-bit address");
}

TEST(ElfLoader, RefusesAPvhEntryOutsideTheLoadedSegment) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.pvh_note = true, .pvh_entry = 0x2000000})),
                          "not inside a loaded segment");
}

TEST(ElfLoader, Refuses32BitElf) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.elf_class = ELFCLASS32})), "not a 64-bit ELF");
}

TEST(ElfLoader, RefusesAnotherMachine) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.machine = EM_AARCH64})), "not x86_64");
}

TEST(ElfLoader, RefusesASegmentOutsideGuestRam) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.paddr = 0x8000000, .entry = 0x8000000})),
                          "does not fit in guest RAM");
}

TEST(ElfLoader, RefusesASegmentInTheMmioHole) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.paddr = 0xc0000000, .entry = 0xc0000000})),
                          "does not fit in guest RAM");
}

TEST(ElfLoader, RefusesASegmentRunningPastTheEndOfRam) {
    GuestMemory mem = make_memory();
    const uint64_t paddr = test::kTestRamBytes - 0x1000;
    expect_error_mentions(load(mem, make_elf({.paddr = paddr, .entry = paddr})),
                          "does not fit in guest RAM");
}

TEST(ElfLoader, RefusesASegmentBelow1MiB) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.paddr = 0x7000, .entry = 0x7000})), "below 1 MiB");
}

TEST(ElfLoader, RefusesAHugeMemorySize) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.memsz = 0x40000000000ULL})),
                          "does not fit in guest RAM");
}

TEST(ElfLoader, RefusesAMemorySizeThatWrapsTheAddressSpace) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.memsz = ~0ULL - 0x10})), "wraps");
}

TEST(ElfLoader, RefusesFileSizeLargerThanMemorySize) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.filesz = 0x3000, .memsz = 0x1000})),
                          "exceeds memory size");
}

TEST(ElfLoader, RefusesSegmentDataOutsideTheFile) {
    GuestMemory mem = make_memory();
    auto image = make_elf();
    test::put<uint64_t>(image, test::kLoadPhdrOffset + offsetof(Elf64_Phdr, p_offset),
                        0xfffffffffffff000ULL);
    expect_error_mentions(load(mem, image), "outside the file");
}

TEST(ElfLoader, RefusesProgramHeadersOutsideTheFile) {
    GuestMemory mem = make_memory();
    auto image = make_elf();
    test::put<uint64_t>(image, offsetof(Elf64_Ehdr, e_phoff), 0xfffffffffffffff0ULL);
    expect_error_mentions(load(mem, image), "program headers");
}

TEST(ElfLoader, RefusesANoteRunningPastItsSegment) {
    GuestMemory mem = make_memory();
    auto image = make_elf({.pvh_note = true});
    // The first note's descriptor size, made larger than the segment.
    const auto note_offset =
        test::get<uint64_t>(image, test::kNotePhdrOffset + offsetof(Elf64_Phdr, p_offset));
    test::put<uint32_t>(image, note_offset + offsetof(Elf64_Nhdr, n_descsz), 0xfffffff0U);
    expect_error_mentions(load(mem, image), "runs past");
}

TEST(ElfLoader, RefusesAnEntryOutsideTheLoadedSegments) {
    GuestMemory mem = make_memory();
    expect_error_mentions(load(mem, make_elf({.entry = 0x7000})), "not inside a loaded segment");
}

TEST(ElfLoader, RefusesAnImageTruncatedAtAnyOffset) {
    const auto image = make_elf({.pvh_note = true});
    for (size_t len = 0; len < image.size(); len += 7) {
        GuestMemory mem = make_memory();
        std::vector<uint8_t> truncated(image.begin(), image.begin() + static_cast<long>(len));
        auto kernel = load(mem, truncated);
        EXPECT_FALSE(kernel.has_value()) << "accepted an image cut at " << len;
    }
}

}  // namespace
}  // namespace ember::x86
