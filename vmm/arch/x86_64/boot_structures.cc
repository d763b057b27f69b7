// write_boot_structures: everything the kernel reads from guest memory at its entry.
#include <fmt/core.h>

#include <cstring>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/e820.h"
#include "vmm/arch/x86_64/gdt.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/mptable.h"
#include "vmm/arch/x86_64/pvh_start_info.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

Result<void> write_cmdline(const GuestMemory& mem, std::string_view cmdline) {
    if (cmdline.size() + 1 > kCmdlineMaxSize) {
        return Error::invalid("boot command line",
                              fmt::format("{} bytes plus the terminating NUL exceed the {}-byte "
                                          "limit",
                                          cmdline.size(), kCmdlineMaxSize));
    }
    if (cmdline.find('\0') != std::string_view::npos) {
        return Error::invalid("boot command line", "contains a NUL byte");
    }
    auto dst = EMBER_TRY(mem.slice(GuestAddress(kCmdlineStart), cmdline.size() + 1));
    if (!cmdline.empty()) std::memcpy(dst.data(), cmdline.data(), cmdline.size());
    dst[cmdline.size()] = 0;
    return ok();
}

}  // namespace

Result<void> write_boot_structures(const GuestMemory& mem, const LoadedKernel& kernel,
                                   const BootParams& params) {
    if (params.vcpu_count == 0 || params.vcpu_count > kMaxVcpus) {
        return Error::invalid("boot structures", fmt::format("{} vCPUs is outside 1..{}",
                                                             params.vcpu_count, kMaxVcpus));
    }
    EMBER_TRY(write_cmdline(mem, params.cmdline));
    const std::vector<GuestRange> ram = ram_of(mem);
    const std::vector<E820Entry> e820 = e820_table(ram);
    if (kernel.protocol == BootProtocol::kPvh) {
        EMBER_TRY(write_pvh_start_info(mem, params, e820));
    } else {
        const ZeroPage zero_page = EMBER_TRY(build_zero_page(kernel, params, e820));
        EMBER_TRY(mem.write_obj(GuestAddress(kZeroPageStart), zero_page));
        EMBER_TRY(write_page_tables(mem));
    }
    EMBER_TRY(write_gdt_idt(mem, kernel.protocol));
    return write_mptable(mem, params.vcpu_count);
}

}  // namespace ember::x86
