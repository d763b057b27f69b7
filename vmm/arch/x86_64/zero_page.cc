// The Linux 64-bit boot protocol's zero page (Documentation/x86/boot.rst, "64-bit boot
// protocol"): the kernel's setup header plus what the boot loader fills in.
#include "vmm/arch/x86_64/zero_page.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "vmm/arch/x86_64/layout.h"

namespace ember::x86 {

std::vector<uint8_t> elf_setup_header() {
    SetupHeader hdr{};
    hdr.boot_flag = kBootFlagMagic;
    hdr.header = kHdrSMagic;
    hdr.type_of_loader = kLoaderTypeUndefined;
    hdr.kernel_alignment = kKernelMinAlignment;
    std::vector<uint8_t> out(sizeof(hdr));
    std::memcpy(out.data(), &hdr, sizeof(hdr));
    return out;
}

SetupHeader setup_header_of(const LoadedKernel& kernel) {
    SetupHeader hdr{};
    if (kernel.setup_header.empty()) return hdr;
    std::memcpy(&hdr, kernel.setup_header.data(),
                std::min(sizeof(hdr), kernel.setup_header.size()));
    return hdr;
}

Result<ZeroPage> build_zero_page(const LoadedKernel& kernel, const BootParams& params,
                                 std::span<const E820Entry> e820) {
    ZeroPage zp{};
    zp.hdr = setup_header_of(kernel);
    const uint32_t kernel_cmdline_max = zp.hdr.cmdline_size;
    if (kernel_cmdline_max != 0 && params.cmdline.size() > kernel_cmdline_max) {
        return Error::invalid("boot command line",
                              fmt::format("{} bytes exceed the kernel's limit of {}",
                                          params.cmdline.size(), kernel_cmdline_max));
    }
    zp.hdr.type_of_loader = kLoaderTypeUndefined;
    zp.hdr.boot_flag = kBootFlagMagic;
    zp.hdr.header = kHdrSMagic;
    zp.hdr.vid_mode = kVidModeNormal;
    zp.hdr.loadflags |= kLoadedHigh;
    zp.hdr.cmd_line_ptr = static_cast<uint32_t>(kCmdlineStart);
    zp.ext_cmd_line_ptr = 0;
    if (params.acpi_rsdp) zp.acpi_rsdp_addr = params.acpi_rsdp->value();
    if (kernel_cmdline_max == 0) {
        // A vmlinux has no limit of its own to report: state the one Ember enforces.
        zp.hdr.cmdline_size = static_cast<uint32_t>(kCmdlineMaxSize - 1);
    }
    if (params.initrd) {
        const uint64_t addr = params.initrd->start.value();
        const uint64_t size = params.initrd->size_bytes;
        zp.hdr.ramdisk_image = static_cast<uint32_t>(addr);
        zp.hdr.ramdisk_size = static_cast<uint32_t>(size);
        zp.ext_ramdisk_image = static_cast<uint32_t>(addr >> 32);
        zp.ext_ramdisk_size = static_cast<uint32_t>(size >> 32);
    }
    if (e820.size() > kE820MaxEntries) {
        return Error::invalid("e820", fmt::format("{} entries exceed the zero page's {}",
                                                  e820.size(), kE820MaxEntries));
    }
    for (size_t i = 0; i < e820.size(); ++i) {
        zp.e820_table[i] = {e820[i].addr, e820[i].size_bytes, static_cast<uint32_t>(e820[i].type)};
    }
    zp.e820_entries = static_cast<uint8_t>(e820.size());
    return zp;
}

}  // namespace ember::x86
