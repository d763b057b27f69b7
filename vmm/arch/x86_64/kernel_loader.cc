// load_kernel and load_initrd: pick the loader for the image format and place the initrd.
#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/bzimage_loader.h"
#include "vmm/arch/x86_64/elf_loader.h"
#include "vmm/arch/x86_64/image_file.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

constexpr uint64_t kPageSize = 4096;

bool has_hdrs_magic(const ImageFile& image) {
    auto magic = image.read_obj<uint32_t>(kSetupHeaderOffset + offsetof(SetupHeader, header));
    return magic && *magic == kHdrSMagic;
}

}  // namespace

Result<LoadedKernel> load_kernel(const GuestMemory& mem, int kernel_fd) {
    const ImageFile image = EMBER_TRY(ImageFile::open(kernel_fd, "kernel"));
    if (is_elf(image)) return load_elf(mem, image);
    if (has_hdrs_magic(image)) return load_bzimage(mem, image);
    return Error::invalid("kernel",
                          "image is neither an ELF vmlinux (no \\x7fELF magic) nor a "
                          "bzImage (no \"HdrS\" at 0x202)");
}

Result<GuestRange> load_initrd(const GuestMemory& mem, int initrd_fd, const LoadedKernel& kernel) {
    const ImageFile image = EMBER_TRY(ImageFile::open(initrd_fd, "initrd"));
    const uint64_t size = image.size_bytes();
    if (size == 0) return Error::invalid("initrd", "the file is empty");
    if (mem.regions().empty() || mem.regions().front().start != GuestAddress(0)) {
        return Error::invalid("initrd", "guest RAM does not start at 0");
    }
    // The top of low RAM, lowered to what the kernel can reach (initrd_addr_max is the address of
    // the last byte; an ELF vmlinux states none).
    uint64_t top = mem.regions().front().end().value();
    const SetupHeader hdr = setup_header_of(kernel);
    if (hdr.initrd_addr_max != 0) top = std::min(top, uint64_t{hdr.initrd_addr_max} + 1);
    const uint64_t floor = std::max(kernel.kernel_end.value(), kHimemStart);
    if (size > top || ((top - size) & ~(kPageSize - 1)) < floor) {
        return Error::invalid("initrd", fmt::format("{:#x} bytes do not fit between the kernel's "
                                                    "end {:#x} and the top of low RAM {:#x}",
                                                    size, floor, top));
    }
    const GuestAddress start((top - size) & ~(kPageSize - 1));
    EMBER_TRY(image.load(mem, start, 0, size));
    return GuestRange{start, size};
}

}  // namespace ember::x86
