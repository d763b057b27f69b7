// Loads the real guest kernels named by EMBER_TEST_VMLINUX and EMBER_TEST_BZIMAGE (the images
// resources/guest/images.sh prints as VMLINUX and BZIMAGE), and truncates each at every 4 KiB.
// Registered under the `integration` label: a missing variable is a failure, never a skip, so a
// CI run without the images cannot pass by accident.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <cstdlib>

#include "tests/unit/vmm/arch/x86_64/test_images.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

constexpr uint64_t kGuestRamBytes = 512ULL << 20;
constexpr uint64_t kStep = 4096;

std::string image_path(const char* var) {
    const char* path = std::getenv(var);
    if (path == nullptr || *path == '\0') {
        ADD_FAILURE() << var << " is not set: point it at a built guest kernel "
                      << "(resources/guest/images.sh --print-paths)";
        return {};
    }
    return path;
}

UniqueFd open_image(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << "cannot open " << path;
    return fd;
}

// A private, shrinkable copy of the image: ftruncate cuts it without rewriting.
UniqueFd memfd_copy(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error("fstat");
    UniqueFd copy(::memfd_create("ember-real-kernel", MFD_CLOEXEC));
    off_t offset = 0;
    while (offset < st.st_size) {
        const ssize_t n =
            ::sendfile(copy.get(), fd, &offset, static_cast<size_t>(st.st_size - offset));
        if (n <= 0) throw std::runtime_error("sendfile");
    }
    return copy;
}

uint64_t file_size(int fd) {
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return static_cast<uint64_t>(st.st_size);
}

// The first byte a loader needs beyond: the end of the last PT_LOAD's file data.
uint64_t elf_required_end(int fd) {
    Elf64_Ehdr ehdr{};
    EXPECT_EQ(::pread(fd, &ehdr, sizeof(ehdr), 0), static_cast<ssize_t>(sizeof(ehdr)));
    uint64_t end = 0;
    for (uint16_t i = 0; i < ehdr.e_phnum; ++i) {
        Elf64_Phdr ph{};
        EXPECT_EQ(::pread(fd, &ph, sizeof(ph), static_cast<off_t>(ehdr.e_phoff + i * sizeof(ph))),
                  static_cast<ssize_t>(sizeof(ph)));
        if (ph.p_type == PT_LOAD) end = std::max(end, ph.p_offset + ph.p_filesz);
    }
    return end;
}

// Setup sectors plus syssize paragraphs of protected-mode code.
uint64_t bzimage_required_end(const LoadedKernel& kernel) {
    const SetupHeader hdr = setup_header_of(kernel);
    const uint64_t sects = hdr.setup_sects == 0 ? 4 : hdr.setup_sects;
    return (sects + 1) * 512 + uint64_t{hdr.syssize} * 16;
}

void expect_boots(const GuestMemory& mem, const LoadedKernel& kernel) {
    EXPECT_TRUE(mem.contains_range(kernel.entry, 1));
    EXPECT_GE(kernel.entry.value(), kHimemStart);
    EXPECT_GT(kernel.kernel_end, kernel.entry);
    auto written = write_boot_structures(
        mem, kernel, {.cmdline = "console=ttyS0 reboot=k panic=1", .vcpu_count = 2});
    EXPECT_TRUE(written.has_value()) << written.error().message();
    EXPECT_EQ(boot_regs(kernel).rip, kernel.entry.value());
}

// Cuts the image at every 4 KiB below `required_end` (each must fail) and at `required_end`
// itself and the full size (each must load). Cuts between required_end and the end (section
// headers, symbols, appended signatures) are not needed to boot and are not required to fail.
void truncate_everywhere(int fd, uint64_t required_end) {
    GuestMemory mem = test::make_memory(kGuestRamBytes);
    UniqueFd copy = memfd_copy(fd);
    const uint64_t size = file_size(copy.get());
    ASSERT_LE(required_end, size);
    EXPECT_TRUE(load_kernel(mem, copy.get()).has_value()) << "full image";
    ASSERT_EQ(::ftruncate(copy.get(), static_cast<off_t>(required_end)), 0);
    EXPECT_TRUE(load_kernel(mem, copy.get()).has_value()) << "cut at " << required_end;
    int refused = 0;
    for (uint64_t len = (required_end - 1) / kStep * kStep;; len -= kStep) {
        ASSERT_EQ(::ftruncate(copy.get(), static_cast<off_t>(len)), 0);
        auto kernel = load_kernel(mem, copy.get());
        EXPECT_FALSE(kernel.has_value()) << "accepted the image cut at " << len;
        ++refused;
        if (len == 0) break;
    }
    ::testing::Test::RecordProperty("truncations_refused", refused);
    std::printf("refused %d truncations below %#llx\n", refused,
                static_cast<unsigned long long>(required_end));
}

TEST(RealKernel, LoadsTheVmlinuxWithItsPvhEntry) {
    const std::string path = image_path("EMBER_TEST_VMLINUX");
    if (path.empty()) return;
    UniqueFd fd = open_image(path);
    GuestMemory mem = test::make_memory(kGuestRamBytes);
    auto kernel = load_kernel(mem, fd.get());
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    // Ember's guest kernel is built with CONFIG_PVH (resources/guest/kernel.fragment).
    EXPECT_EQ(kernel->protocol, BootProtocol::kPvh);
    EXPECT_LT(kernel->entry.value(), 1ULL << 32);
    std::printf("vmlinux: %s entry %#llx end %#llx\n",
                kernel->protocol == BootProtocol::kPvh ? "PVH" : "64-bit",
                static_cast<unsigned long long>(kernel->entry.value()),
                static_cast<unsigned long long>(kernel->kernel_end.value()));
    expect_boots(mem, *kernel);
}

TEST(RealKernel, LoadsTheBzImageForThe64BitProtocol) {
    const std::string path = image_path("EMBER_TEST_BZIMAGE");
    if (path.empty()) return;
    UniqueFd fd = open_image(path);
    GuestMemory mem = test::make_memory(kGuestRamBytes);
    auto kernel = load_kernel(mem, fd.get());
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    EXPECT_EQ(kernel->protocol, BootProtocol::kLinux64);
    EXPECT_EQ(kernel->entry, GuestAddress(0x100200));
    const SetupHeader hdr = setup_header_of(*kernel);
    EXPECT_GE(hdr.version, 0x020c);
    EXPECT_NE(hdr.xloadflags & kXlfKernel64, 0);
    std::printf("bzImage: protocol %d.%02d, kernel_end %#llx\n", hdr.version >> 8,
                hdr.version & 0xff, static_cast<unsigned long long>(kernel->kernel_end.value()));
    expect_boots(mem, *kernel);
}

TEST(RealKernel, RefusesTheVmlinuxTruncatedAtEvery4KiB) {
    const std::string path = image_path("EMBER_TEST_VMLINUX");
    if (path.empty()) return;
    UniqueFd fd = open_image(path);
    truncate_everywhere(fd.get(), elf_required_end(fd.get()));
}

TEST(RealKernel, RefusesTheBzImageTruncatedAtEvery4KiB) {
    const std::string path = image_path("EMBER_TEST_BZIMAGE");
    if (path.empty()) return;
    UniqueFd fd = open_image(path);
    GuestMemory mem = test::make_memory(kGuestRamBytes);
    auto kernel = load_kernel(mem, fd.get());
    ASSERT_TRUE(kernel.has_value()) << kernel.error().message();
    truncate_everywhere(fd.get(), bzimage_required_end(*kernel));
}

}  // namespace
}  // namespace ember::x86
