// The Linux x86 boot protocol's setup header and zero page (struct setup_header and struct
// boot_params, arch/x86/include/uapi/asm/bootparam.h; Documentation/x86/boot.rst and
// zero-page.rst), laid out by hand with every offset Ember touches checked at compile time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/e820.h"
#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::x86 {

// Where the setup header sits in a bzImage and in the zero page.
inline constexpr size_t kSetupHeaderOffset = 0x1f1;
inline constexpr uint16_t kBootFlagMagic = 0xaa55;
inline constexpr uint32_t kHdrSMagic = 0x53726448;    // "HdrS"
inline constexpr uint16_t kMinBootProtocol = 0x020c;  // 2.12: xloadflags, 64-bit entry.
inline constexpr uint8_t kLoaderTypeUndefined = 0xff;
inline constexpr uint8_t kLoadedHigh = 1 << 0;    // loadflags: protected-mode code at 1 MiB.
inline constexpr uint16_t kXlfKernel64 = 1 << 0;  // xloadflags: has the 64-bit entry at +0x200.
inline constexpr uint16_t kVidModeNormal = 0xffff;
inline constexpr uint32_t kKernelMinAlignment = 0x1000000;  // 16 MiB, as Firecracker.

struct [[gnu::packed]] SetupHeader {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};

// Offsets in boot.rst are absolute (from the start of the bzImage / zero page).
#define EMBER_HDR_AT(field, abs) \
    static_assert(offsetof(SetupHeader, field) + kSetupHeaderOffset == (abs), #field)
EMBER_HDR_AT(setup_sects, 0x1f1);
EMBER_HDR_AT(vid_mode, 0x1fa);
EMBER_HDR_AT(boot_flag, 0x1fe);
EMBER_HDR_AT(jump, 0x200);
EMBER_HDR_AT(header, 0x202);
EMBER_HDR_AT(version, 0x206);
EMBER_HDR_AT(type_of_loader, 0x210);
EMBER_HDR_AT(loadflags, 0x211);
EMBER_HDR_AT(code32_start, 0x214);
EMBER_HDR_AT(ramdisk_image, 0x218);
EMBER_HDR_AT(ramdisk_size, 0x21c);
EMBER_HDR_AT(heap_end_ptr, 0x224);
EMBER_HDR_AT(cmd_line_ptr, 0x228);
EMBER_HDR_AT(initrd_addr_max, 0x22c);
EMBER_HDR_AT(kernel_alignment, 0x230);
EMBER_HDR_AT(relocatable_kernel, 0x234);
EMBER_HDR_AT(xloadflags, 0x236);
EMBER_HDR_AT(cmdline_size, 0x238);
EMBER_HDR_AT(pref_address, 0x258);
EMBER_HDR_AT(init_size, 0x260);
EMBER_HDR_AT(kernel_info_offset, 0x268);
#undef EMBER_HDR_AT
static_assert(sizeof(SetupHeader) == 0x26c - kSetupHeaderOffset);

struct [[gnu::packed]] BootE820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};
static_assert(sizeof(BootE820Entry) == 20);

// struct boot_params, "the zero page". Fields Ember does not fill are opaque padding.
struct [[gnu::packed]] ZeroPage {
    uint8_t screen_info[0x40];        // 0x000
    uint8_t apm_bios_info[0x14];      // 0x040
    uint8_t pad2[4];                  // 0x054
    uint64_t tboot_addr;              // 0x058
    uint8_t ist_info[0x10];           // 0x060
    uint64_t acpi_rsdp_addr;          // 0x070
    uint8_t pad3[8];                  // 0x078
    uint8_t hd0_info[16];             // 0x080
    uint8_t hd1_info[16];             // 0x090
    uint8_t sys_desc_table[16];       // 0x0a0
    uint8_t olpc_ofw_header[16];      // 0x0b0
    uint32_t ext_ramdisk_image;       // 0x0c0
    uint32_t ext_ramdisk_size;        // 0x0c4
    uint32_t ext_cmd_line_ptr;        // 0x0c8
    uint8_t pad4[112];                // 0x0cc
    uint32_t cc_blob_address;         // 0x13c
    uint8_t edid_info[0x80];          // 0x140
    uint8_t efi_info[0x20];           // 0x1c0
    uint32_t alt_mem_k;               // 0x1e0
    uint32_t scratch;                 // 0x1e4
    uint8_t e820_entries;             // 0x1e8
    uint8_t eddbuf_entries;           // 0x1e9
    uint8_t edd_mbr_sig_buf_entries;  // 0x1ea
    uint8_t kbd_status;               // 0x1eb
    uint8_t secure_boot;              // 0x1ec
    uint8_t pad5[2];                  // 0x1ed
    uint8_t sentinel;                 // 0x1ef
    uint8_t pad6[1];                  // 0x1f0
    SetupHeader hdr;                  // 0x1f1
    uint8_t pad7[0x290 - 0x1f1 - sizeof(SetupHeader)];
    uint32_t edd_mbr_sig_buffer[16];            // 0x290
    BootE820Entry e820_table[kE820MaxEntries];  // 0x2d0
    uint8_t pad8[48];                           // 0xcd0
    uint8_t eddbuf[0xeec - 0xd00];              // 0xd00
    uint8_t pad9[276];                          // 0xeec
};
static_assert(sizeof(ZeroPage) == 4096);
static_assert(offsetof(ZeroPage, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(ZeroPage, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(ZeroPage, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(ZeroPage, alt_mem_k) == 0x1e0);
static_assert(offsetof(ZeroPage, e820_entries) == 0x1e8);
static_assert(offsetof(ZeroPage, sentinel) == 0x1ef);
static_assert(offsetof(ZeroPage, hdr) == kSetupHeaderOffset);
static_assert(offsetof(ZeroPage, edd_mbr_sig_buffer) == 0x290);
static_assert(offsetof(ZeroPage, e820_table) == 0x2d0);
static_assert(offsetof(ZeroPage, eddbuf) == 0xd00);

// The setup header Ember writes for an ELF vmlinux, which carries none (as Firecracker's
// configure_64bit_boot): boot flag, "HdrS", loader type, kernel alignment.
std::vector<uint8_t> elf_setup_header();

// Reads the setup header bytes a LoadedKernel carries; missing trailing bytes read as zero.
SetupHeader setup_header_of(const LoadedKernel& kernel);

// Builds the zero page: the kernel's setup header with the loader's fields filled in (command
// line at kCmdlineStart, initrd, loader type), and the e820 map.
Result<ZeroPage> build_zero_page(const LoadedKernel& kernel, const BootParams& params,
                                 std::span<const E820Entry> e820);

}  // namespace ember::x86
