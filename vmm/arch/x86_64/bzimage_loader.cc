// bzImage loading: validate the setup header, then copy the protected-mode code to 1 MiB as
// linux-loader does for Firecracker. Only the 64-bit entry is used, so the real-mode setup code
// never runs and stays in the file.
#include "vmm/arch/x86_64/bzimage_loader.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

Error bad_bzimage(std::string detail) {
    return Error::invalid("bzImage kernel", std::move(detail));
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) return value;
    return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

Result<LoadedKernel> load_bzimage(const GuestMemory& mem, const ImageFile& image) {
    // The header's length is 0x202 + the byte at 0x201 (the jump's target); read what exists.
    constexpr uint64_t kHeaderEnd = kSetupHeaderOffset + sizeof(SetupHeader);
    constexpr uint64_t kXloadflagsEnd = 0x238;
    if (image.size_bytes() < kXloadflagsEnd) {
        return bad_bzimage(
            fmt::format("file of {} bytes is too short for a setup header", image.size_bytes()));
    }
    std::vector<uint8_t> raw(std::min<uint64_t>(kHeaderEnd, image.size_bytes()) -
                             kSetupHeaderOffset);
    EMBER_TRY(image.read(kSetupHeaderOffset, raw));
    SetupHeader hdr{};
    std::memcpy(&hdr, raw.data(), raw.size());

    if (hdr.boot_flag != kBootFlagMagic) return bad_bzimage("no 0xaa55 boot flag at 0x1fe");
    if (hdr.header != kHdrSMagic) return bad_bzimage("no \"HdrS\" magic at 0x202");
    if (hdr.version < kMinBootProtocol) {
        return bad_bzimage(fmt::format("boot protocol {}.{:02} is older than 2.12",
                                       hdr.version >> 8, hdr.version & 0xff));
    }
    if ((hdr.xloadflags & kXlfKernel64) == 0) {
        return bad_bzimage("no 64-bit entry point (XLF_KERNEL_64 is clear)");
    }
    if ((hdr.loadflags & kLoadedHigh) == 0) {
        return bad_bzimage("not a bzImage (LOADED_HIGH is clear): a zImage loads below 1 MiB");
    }
    const uint64_t header_len =
        std::min<uint64_t>(0x202 + ((hdr.jump >> 8) & 0xff) - kSetupHeaderOffset, raw.size());
    if (header_len + kSetupHeaderOffset < kXloadflagsEnd) {
        return bad_bzimage(fmt::format("setup header ends at {:#x}, before xloadflags",
                                       header_len + kSetupHeaderOffset));
    }
    raw.resize(header_len);

    // boot.rst: "if setup_sects is 0, the real value is 4"; the boot sector comes first.
    const uint64_t setup_sects = hdr.setup_sects == 0 ? 4 : hdr.setup_sects;
    const uint64_t payload_offset = (setup_sects + 1) * 512;
    if (payload_offset >= image.size_bytes()) {
        return bad_bzimage(
            fmt::format("setup_sects {} puts the kernel at {:#x}, past the end of "
                        "the {:#x}-byte file",
                        hdr.setup_sects, payload_offset, image.size_bytes()));
    }
    const uint64_t payload_size = image.size_bytes() - payload_offset;
    // syssize counts the protected-mode code in 16-byte paragraphs: a file shorter than that was
    // cut off.
    const uint64_t code_size = uint64_t{hdr.syssize} * 16;
    if (code_size > payload_size) {
        return bad_bzimage(
            fmt::format("truncated: syssize says {:#x} bytes of protected-mode code "
                        "but the file holds {:#x}",
                        code_size, payload_size));
    }
    const GuestAddress load(kHimemStart);
    if (!mem.contains_range(load, payload_size)) {
        return bad_bzimage(fmt::format("the {:#x}-byte payload does not fit in guest RAM at {:#x}",
                                       payload_size, load.value()));
    }

    LoadedKernel kernel;
    kernel.protocol = BootProtocol::kLinux64;
    kernel.entry = load + kBzImage64BitEntryOffset;
    kernel.setup_header = std::move(raw);
    // The decompressor runs at max(aligned load address, pref_address) and needs init_size bytes
    // there (boot.rst, init_size): keep the initrd out of that range too.
    const uint64_t pref_address = hdr.pref_address;
    const uint64_t init_size = hdr.init_size;
    const uint64_t runtime_start =
        std::max(align_up(load.value(), hdr.kernel_alignment), pref_address);
    uint64_t runtime_end = 0;
    if (__builtin_add_overflow(runtime_start, init_size, &runtime_end)) {
        return bad_bzimage(
            fmt::format("pref_address {:#x} + init_size {:#x} overflows", pref_address, init_size));
    }
    kernel.kernel_end = GuestAddress(std::max(load.value() + payload_size, runtime_end));
    if (!mem.contains_range(load, kernel.kernel_end - load)) {
        return bad_bzimage(
            fmt::format("guest RAM is too small: the kernel decompresses up to "
                        "{:#x} (pref_address {:#x} + init_size {:#x})",
                        kernel.kernel_end.value(), pref_address, init_size));
    }
    EMBER_TRY(image.load(mem, load, payload_offset, payload_size));
    return kernel;
}

}  // namespace ember::x86
