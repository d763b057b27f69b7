// Loads a bzImage for the 64-bit boot protocol (Documentation/x86/boot.rst): the protected-mode
// payload at 1 MiB, entered at its 64-bit entry (load address + 0x200), with the image's setup
// header kept for the zero page.
#pragma once

#include "vmm/arch/x86_64/boot.h"
#include "vmm/arch/x86_64/image_file.h"

namespace ember::x86 {

// The 64-bit entry point's offset from the protected-mode code (startup_64).
inline constexpr uint64_t kBzImage64BitEntryOffset = 0x200;

Result<LoadedKernel> load_bzimage(const GuestMemory& mem, const ImageFile& image);

}  // namespace ember::x86
