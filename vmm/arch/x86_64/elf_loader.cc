// ELF64 vmlinux loading (System V gABI; Xen's PVH ELF note, docs/misc/pvh.pandoc). Every field
// read from the image is validated before it is used as an offset, a size or an address.
#include "vmm/arch/x86_64/elf_loader.h"

#include <elf.h>
#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "vmm/arch/x86_64/layout.h"
#include "vmm/arch/x86_64/zero_page.h"

namespace ember::x86 {
namespace {

Error bad_elf(std::string detail) { return Error::invalid("ELF kernel", std::move(detail)); }

Result<Elf64_Ehdr> read_ehdr(const ImageFile& image) {
    if (image.size_bytes() < sizeof(Elf64_Ehdr)) {
        return bad_elf(
            fmt::format("file of {} bytes is shorter than an ELF64 header", image.size_bytes()));
    }
    auto ehdr = EMBER_TRY(image.read_obj<Elf64_Ehdr>(0));
    if (std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0) return bad_elf("no ELF magic");
    if (ehdr.e_ident[EI_CLASS] != ELFCLASS64) return bad_elf("not a 64-bit ELF (ELFCLASS32?)");
    if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB) return bad_elf("not little-endian");
    if (ehdr.e_machine != EM_X86_64) {
        return bad_elf(fmt::format("machine {} is not x86_64", ehdr.e_machine));
    }
    if (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN) {
        return bad_elf(fmt::format("type {} is not an executable", ehdr.e_type));
    }
    if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
        return bad_elf(fmt::format("program header entry size {} is not {}", ehdr.e_phentsize,
                                   sizeof(Elf64_Phdr)));
    }
    if (ehdr.e_phnum == 0) return bad_elf("no program headers");
    if (ehdr.e_phoff < sizeof(Elf64_Ehdr) ||
        !image.contains(ehdr.e_phoff, uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr))) {
        return bad_elf(fmt::format("program headers at {:#x} (x{}) are outside the file",
                                   ehdr.e_phoff, ehdr.e_phnum));
    }
    return ehdr;
}

// Finds the PVH entry in one PT_NOTE segment's bytes, if the segment holds it.
Result<std::optional<uint64_t>> find_pvh_entry(std::span<const uint8_t> notes) {
    uint64_t pos = 0;
    const auto align4 = [](uint64_t v) { return (v + 3) & ~uint64_t{3}; };
    while (notes.size() - pos >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nhdr{};
        std::memcpy(&nhdr, notes.data() + pos, sizeof(nhdr));
        pos += sizeof(nhdr);
        // 32-bit sizes in 64-bit arithmetic: no overflow.
        const uint64_t name_size = align4(nhdr.n_namesz);
        const uint64_t desc_size = align4(nhdr.n_descsz);
        if (name_size > notes.size() - pos || desc_size > notes.size() - pos - name_size) {
            return bad_elf("a note runs past its PT_NOTE segment");
        }
        const uint8_t* name = notes.data() + pos;
        const uint8_t* desc = name + name_size;
        pos += name_size + desc_size;
        const bool is_xen = nhdr.n_namesz == 4 && std::memcmp(name, "Xen", 4) == 0;
        if (!is_xen || nhdr.n_type != kXenElfnotePhys32Entry) continue;
        if (nhdr.n_descsz == 4) {
            uint32_t entry = 0;
            std::memcpy(&entry, desc, sizeof(entry));
            return std::optional<uint64_t>(entry);
        }
        if (nhdr.n_descsz == 8) {
            uint64_t entry = 0;
            std::memcpy(&entry, desc, sizeof(entry));
            if (entry > 0xffffffffULL) {
                return bad_elf(fmt::format("PVH entry {:#x} is not a 32-bit address", entry));
            }
            return std::optional<uint64_t>(entry);
        }
        return bad_elf(fmt::format("PVH entry note has a {}-byte descriptor", nhdr.n_descsz));
    }
    return std::optional<uint64_t>();
}

// Checks a PT_LOAD header against the file and guest RAM without touching either.
Result<void> check_segment(const GuestMemory& mem, const ImageFile& image, const Elf64_Phdr& ph) {
    if (ph.p_filesz > ph.p_memsz) {
        return bad_elf(fmt::format("segment at {:#x}: file size {:#x} exceeds memory size {:#x}",
                                   ph.p_paddr, ph.p_filesz, ph.p_memsz));
    }
    if (ph.p_paddr < kHimemStart) {
        return bad_elf(
            fmt::format("segment at {:#x} is below 1 MiB, where the boot structures "
                        "live",
                        ph.p_paddr));
    }
    if (!GuestAddress(ph.p_paddr).checked_add(ph.p_memsz)) {
        return bad_elf(fmt::format("segment at {:#x} of {:#x} bytes wraps the address space",
                                   ph.p_paddr, ph.p_memsz));
    }
    if (!image.contains(ph.p_offset, ph.p_filesz)) {
        return bad_elf(
            fmt::format("segment data [{:#x}, +{:#x}) is outside the file of {:#x} "
                        "bytes (truncated?)",
                        ph.p_offset, ph.p_filesz, image.size_bytes()));
    }
    if (!mem.contains_range(GuestAddress(ph.p_paddr), ph.p_memsz)) {
        return bad_elf(fmt::format("segment [{:#x}, +{:#x}) does not fit in guest RAM", ph.p_paddr,
                                   ph.p_memsz));
    }
    return ok();
}

// Copies a checked segment and zeroes its tail (.bss) up to p_memsz.
Result<void> load_segment(const GuestMemory& mem, const ImageFile& image, const Elf64_Phdr& ph) {
    auto dst = EMBER_TRY(mem.slice(GuestAddress(ph.p_paddr), ph.p_memsz));
    EMBER_TRY(image.read(ph.p_offset, dst.first(ph.p_filesz)));
    std::memset(dst.data() + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
    return ok();
}

}  // namespace

bool is_elf(const ImageFile& image) {
    uint8_t magic[SELFMAG] = {};
    return image.read(0, magic).has_value() && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
}

Result<LoadedKernel> load_elf(const GuestMemory& mem, const ImageFile& image) {
    const Elf64_Ehdr ehdr = EMBER_TRY(read_ehdr(image));
    std::vector<Elf64_Phdr> phdrs(ehdr.e_phnum);
    EMBER_TRY(image.read(ehdr.e_phoff, {reinterpret_cast<uint8_t*>(phdrs.data()),
                                        phdrs.size() * sizeof(Elf64_Phdr)}));

    // Everything is validated before the first byte is copied, so a bad image fails fast and
    // leaves guest memory untouched.
    std::optional<uint64_t> pvh_entry;
    uint64_t kernel_end = 0;
    bool loadable = false;
    for (const Elf64_Phdr& ph : phdrs) {
        if (ph.p_type == PT_NOTE && !pvh_entry) {
            if (ph.p_filesz > kMaxNoteSegmentSize) {
                return bad_elf(
                    fmt::format("PT_NOTE segment of {:#x} bytes is too large", ph.p_filesz));
            }
            if (!image.contains(ph.p_offset, ph.p_filesz)) {
                return bad_elf(fmt::format("PT_NOTE segment [{:#x}, +{:#x}) is outside the file",
                                           ph.p_offset, ph.p_filesz));
            }
            std::vector<uint8_t> notes(ph.p_filesz);
            EMBER_TRY(image.read(ph.p_offset, notes));
            pvh_entry = EMBER_TRY(find_pvh_entry(notes));
        }
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        EMBER_TRY(check_segment(mem, image, ph));
        kernel_end = std::max(kernel_end, ph.p_paddr + ph.p_memsz);
        loadable = true;
    }
    if (!loadable) return bad_elf("no loadable segment");

    LoadedKernel kernel;
    kernel.protocol = pvh_entry ? BootProtocol::kPvh : BootProtocol::kLinux64;
    kernel.entry = GuestAddress(pvh_entry ? *pvh_entry : ehdr.e_entry);
    kernel.kernel_end = GuestAddress(kernel_end);
    kernel.setup_header = elf_setup_header();

    // The entry must be code Ember loaded, not the boot structures or unmapped space.
    const bool entry_loaded = std::any_of(phdrs.begin(), phdrs.end(), [&](const Elf64_Phdr& ph) {
        return ph.p_type == PT_LOAD && kernel.entry.value() >= ph.p_paddr &&
               kernel.entry.value() - ph.p_paddr < ph.p_memsz;
    });
    if (!entry_loaded) {
        return bad_elf(fmt::format("{} entry {:#x} is not inside a loaded segment",
                                   pvh_entry ? "PVH" : "64-bit", kernel.entry.value()));
    }
    for (const Elf64_Phdr& ph : phdrs) {
        if (ph.p_type == PT_LOAD && ph.p_memsz != 0) EMBER_TRY(load_segment(mem, image, ph));
    }
    return kernel;
}

}  // namespace ember::x86
