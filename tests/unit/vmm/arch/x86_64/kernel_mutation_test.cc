// A fuzz-like loop over load_kernel: random mutations of valid synthetic images (fixed seed) must
// only ever load or fail with an error; a loaded kernel must point inside guest RAM. Run under
// -DEMBER_SANITIZE=ON to turn any out-of-bounds access into a failure.
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/vmm/arch/x86_64/test_images.h"

namespace ember::x86 {
namespace {

constexpr int kIterations = 3000;

std::vector<uint8_t> mutate(std::vector<uint8_t> image, std::mt19937_64& rng) {
    // Most fields that matter live in the first 0x300 bytes (ELF and program headers, notes, the
    // setup header); sometimes hit anywhere.
    const auto pick = [&](size_t limit) { return rng() % std::max<size_t>(1, limit); };
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < edits; ++i) {
        const size_t span = (rng() % 4 == 0) ? image.size() : std::min<size_t>(0x300, image.size());
        const size_t at = pick(span);
        switch (rng() % 5) {
            case 0:  // Flip a bit.
                image[at] ^= static_cast<uint8_t>(1U << (rng() % 8));
                break;
            case 1:  // A random byte.
                image[at] = static_cast<uint8_t>(rng());
                break;
            case 2: {  // An interesting 64-bit value at an aligned offset.
                static constexpr uint64_t kValues[] = {0,
                                                       1,
                                                       0x7fffffff,
                                                       0xffffffff,
                                                       0x100000,
                                                       0xc0000000,
                                                       0x100000000ULL,
                                                       ~0ULL,
                                                       ~0ULL - 0xfff,
                                                       0x8000000000000000ULL};
                const size_t aligned = at & ~size_t{7};
                if (aligned + 8 <= image.size()) {
                    test::put(image, aligned, kValues[rng() % std::size(kValues)]);
                }
                break;
            }
            case 3: {  // An interesting 32-bit value.
                static constexpr uint32_t kValues[] = {0,      1,          18,         0xff,
                                                       0xffff, 0x7fffffff, 0xffffffff, 0x80000000};
                const size_t aligned = at & ~size_t{3};
                if (aligned + 4 <= image.size()) {
                    test::put(image, aligned, kValues[rng() % std::size(kValues)]);
                }
                break;
            }
            default:  // Truncate.
                image.resize(pick(image.size() + 1));
                if (image.empty()) return image;
                break;
        }
    }
    return image;
}

void run_mutations(const std::vector<uint8_t>& valid, uint64_t seed) {
    GuestMemory mem = test::make_memory(32ULL << 20);
    std::mt19937_64 rng(seed);
    int loaded = 0;
    for (int i = 0; i < kIterations; ++i) {
        const auto image = mutate(valid, rng);
        UniqueFd fd = test::memfd_with(image);
        auto kernel = load_kernel(mem, fd.get());
        if (!kernel) {
            EXPECT_FALSE(kernel.error().message().empty());
            continue;
        }
        ++loaded;
        ASSERT_TRUE(mem.contains_range(kernel->entry, 1))
            << "iteration " << i << ": entry " << kernel->entry.value() << " outside RAM";
        // The rest of the boot path must cope with whatever header the image carried.
        std::vector<uint8_t> initrd_bytes(0x1000, 0xab);
        UniqueFd initrd_fd = test::memfd_with(initrd_bytes);
        auto initrd = load_initrd(mem, initrd_fd.get(), *kernel);
        std::optional<GuestRange> initrd_range;
        if (initrd) initrd_range = *initrd;
        (void)write_boot_structures(mem, *kernel,
                                    {.cmdline = "console=ttyS0", .initrd = initrd_range});
    }
    // The mutations must leave some images loadable, or the loop tests only the first check.
    EXPECT_GT(loaded, kIterations / 20);
}

TEST(KernelMutation, MutatedElfImagesNeverCrashTheLoader) {
    run_mutations(test::make_elf({.filesz = 0x800, .memsz = 0x1000, .pvh_note = true}), 1);
}

TEST(KernelMutation, MutatedElfImagesWithoutPvhNeverCrashTheLoader) {
    run_mutations(test::make_elf({.filesz = 0x800, .memsz = 0x1000}), 2);
}

TEST(KernelMutation, MutatedBzImagesNeverCrashTheLoader) {
    run_mutations(test::make_bzimage({.payload_size = 0x800}), 3);
}

}  // namespace
}  // namespace ember::x86
