// Loads an ELF64 x86_64 vmlinux: each PT_LOAD segment at its physical address, and the boot
// protocol from its notes (a Xen PVH entry note means PVH boot, else the 64-bit entry e_entry).
#pragma once

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/image_file.h"

namespace ember::x86 {

// XEN_ELFNOTE_PHYS32_ENTRY (include/xen/interface/elfnote.h): the 32-bit PVH entry point.
inline constexpr uint32_t kXenElfnotePhys32Entry = 18;
// PT_NOTE segments larger than this are refused rather than read (Linux's are under 1 KiB).
inline constexpr uint64_t kMaxNoteSegmentSize = uint64_t{64} * 1024;

// True if the image starts with the ELF magic.
bool is_elf(const ImageFile& image);

Result<LoadedKernel> load_elf(const GuestMemory& mem, const ImageFile& image);

}  // namespace ember::x86
