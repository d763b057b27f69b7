// Synthetic kernel images for the loader tests: a minimal ELF64 vmlinux (optionally with a Xen
// PVH note) and a minimal bzImage, built byte by byte, plus memfd and guest memory helpers.
#pragma once

#include <elf.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "vmm/arch/x86_64/boot.h"
#include "vmm/base/unique_fd.h"
#include "vmm/memory/guest_memory.h"

namespace ember::x86::test {

inline constexpr uint64_t kTestRamBytes = 64ULL << 20;

inline GuestMemory make_memory(uint64_t bytes = kTestRamBytes) {
    auto ranges = ram_ranges(bytes);
    auto mem = GuestMemory::anonymous(ranges);
    if (!mem) throw std::runtime_error(mem.error().message());
    return std::move(*mem);
}

// An anonymous in-memory file holding `bytes`.
inline UniqueFd memfd_with(const std::vector<uint8_t>& bytes) {
    UniqueFd fd(::memfd_create("ember-test-image", MFD_CLOEXEC));
    if (!fd) throw std::runtime_error("memfd_create failed");
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n <= 0) throw std::runtime_error("write to memfd failed");
        done += static_cast<size_t>(n);
    }
    return fd;
}

template <typename T>
void put(std::vector<uint8_t>& image, size_t offset, const T& value) {
    if (image.size() < offset + sizeof(T)) image.resize(offset + sizeof(T));
    std::memcpy(image.data() + offset, &value, sizeof(T));
}

template <typename T>
T get(const std::vector<uint8_t>& image, size_t offset) {
    T value{};
    std::memcpy(&value, image.data() + offset, sizeof(T));
    return value;
}

// Byte i of a segment's payload, so tests can check what landed where.
inline uint8_t pattern_byte(size_t i) { return static_cast<uint8_t>(i * 7 + 3); }

struct ElfSpec {
    uint64_t paddr = 0x1000000;  // 16 MiB, as Linux's LOAD_PHYSICAL_ADDR.
    uint64_t filesz = 0x3000;
    uint64_t memsz = 0x5000;
    uint64_t entry = 0x1000000;
    bool pvh_note = false;
    uint64_t pvh_entry = 0x1000100;
    uint32_t pvh_desc_size = 8;  // Linux emits a .quad (_ASM_PTR).
    unsigned char elf_class = ELFCLASS64;
    uint16_t machine = EM_X86_64;
};

// Layout: ELF header, two program headers (PT_NOTE, PT_LOAD), the note, then the segment data at
// file offset 0x1000.
inline std::vector<uint8_t> make_elf(const ElfSpec& spec = {}) {
    constexpr size_t kNoteOffset = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
    constexpr size_t kDataOffset = 0x1000;
    std::vector<uint8_t> image(kDataOffset + spec.filesz, 0);
    for (size_t i = 0; i < spec.filesz; ++i) image[kDataOffset + i] = pattern_byte(i);

    // An unrelated note first, then the Xen PVH entry note, to exercise the walk.
    std::vector<uint8_t> notes;
    const auto add_note = [&notes](const char* name, uint32_t type,
                                   const std::vector<uint8_t>& desc) {
        Elf64_Nhdr nhdr{static_cast<Elf64_Word>(std::strlen(name) + 1),
                        static_cast<Elf64_Word>(desc.size()), type};
        const size_t at = notes.size();
        put(notes, at, nhdr);
        std::vector<uint8_t> padded_name((nhdr.n_namesz + 3) & ~3U, 0);
        std::memcpy(padded_name.data(), name, nhdr.n_namesz);
        notes.insert(notes.end(), padded_name.begin(), padded_name.end());
        std::vector<uint8_t> padded_desc((desc.size() + 3) & ~size_t{3}, 0);
        std::memcpy(padded_desc.data(), desc.data(), desc.size());
        notes.insert(notes.end(), padded_desc.begin(), padded_desc.end());
    };
    add_note("GNU", 3, {1, 2, 3, 4, 5, 6, 7, 8});
    if (spec.pvh_note) {
        std::vector<uint8_t> desc(spec.pvh_desc_size, 0);
        std::memcpy(desc.data(), &spec.pvh_entry, std::min<size_t>(8, desc.size()));
        add_note("Xen", 18, desc);
    }
    std::memcpy(image.data() + kNoteOffset, notes.data(), notes.size());

    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = spec.elf_class;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = ET_EXEC;
    ehdr.e_machine = spec.machine;
    ehdr.e_version = EV_CURRENT;
    ehdr.e_entry = spec.entry;
    ehdr.e_phoff = sizeof(Elf64_Ehdr);
    ehdr.e_ehsize = sizeof(Elf64_Ehdr);
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    ehdr.e_phnum = 2;
    put(image, 0, ehdr);

    Elf64_Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = kNoteOffset;
    note.p_filesz = notes.size();
    put(image, sizeof(Elf64_Ehdr), note);
    Elf64_Phdr load{};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_X;
    load.p_offset = kDataOffset;
    load.p_vaddr = 0xffffffff80000000ULL + spec.paddr;
    load.p_paddr = spec.paddr;
    load.p_filesz = spec.filesz;
    load.p_memsz = spec.memsz;
    load.p_align = 0x200000;
    put(image, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr), load);
    return image;
}

// Offsets of the program headers in make_elf's output.
inline constexpr size_t kNotePhdrOffset = sizeof(Elf64_Ehdr);
inline constexpr size_t kLoadPhdrOffset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);

struct BzImageSpec {
    uint8_t setup_sects = 4;
    uint16_t version = 0x020f;
    uint16_t xloadflags = 0x3;  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G.
    uint8_t loadflags = 0x1;    // LOADED_HIGH.
    size_t payload_size = 0x4000;
    uint32_t init_size = 0x200000;
    uint64_t pref_address = 0x1000000;
    uint32_t initrd_addr_max = 0x7fffffff;
    uint32_t cmdline_size = 2047;
};

inline std::vector<uint8_t> make_bzimage(const BzImageSpec& spec = {}) {
    const size_t payload_offset = (size_t{spec.setup_sects == 0 ? 4U : spec.setup_sects} + 1) * 512;
    std::vector<uint8_t> image(payload_offset + spec.payload_size, 0);
    for (size_t i = 0; i < spec.payload_size; ++i) image[payload_offset + i] = pattern_byte(i);
    put<uint8_t>(image, 0x1f1, spec.setup_sects);
    put<uint32_t>(image, 0x1f4, static_cast<uint32_t>((spec.payload_size + 15) / 16));  // syssize
    put<uint16_t>(image, 0x1fe, 0xaa55);
    put<uint8_t>(image, 0x200, 0xeb);         // jmp short
    put<uint8_t>(image, 0x201, 0x6a);         // ... to 0x26c, the end of the 2.15 header.
    put<uint32_t>(image, 0x202, 0x53726448);  // "HdrS"
    put<uint16_t>(image, 0x206, spec.version);
    put<uint8_t>(image, 0x211, spec.loadflags);
    put<uint32_t>(image, 0x22c, spec.initrd_addr_max);
    put<uint32_t>(image, 0x230, 0x200000);  // kernel_alignment
    put<uint8_t>(image, 0x234, 1);          // relocatable_kernel
    put<uint16_t>(image, 0x236, spec.xloadflags);
    put<uint32_t>(image, 0x238, spec.cmdline_size);
    put<uint64_t>(image, 0x258, spec.pref_address);
    put<uint32_t>(image, 0x260, spec.init_size);
    return image;
}

// Loads `image` through the real format detection, as the VMM does.
inline Result<LoadedKernel> load(const GuestMemory& mem, const std::vector<uint8_t>& image) {
    UniqueFd fd = memfd_with(image);
    return load_kernel(mem, fd.get());
}

inline void expect_error_mentions(const Result<LoadedKernel>& result, const std::string& text) {
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(result.error().message().find(text), std::string::npos) << result.error().message();
}

}  // namespace ember::x86::test
