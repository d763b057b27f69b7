// The snapshot state file container: a fixed header, tagged sections, a CRC.
//
//   offset  size  field
//   0       8     magic "EMBERSNP"
//   8       4     architecture (kArchX86_64 = 0x8664)
//   12      2+2   format version major, minor
//   16      8     total file size in bytes, CRC included
//   24      ...   sections: tag u32, flags u32, length u64, payload[length]
//   end-8   8     CRC-64/XZ of every byte before it
//
// All integers little-endian. A reader refuses another major version and skips sections whose tag
// it does not know unless they carry kMustUnderstand, so a later Ember adds state as new
// sections (or new fields inside one, see state_fields.h) and bumps only the minor version.
// decode() checks everything before returning: nothing is applied from a file that fails.
//
// Bounds: a file is at most kMaxStateFileBytes and holds at most kMaxSections sections, each of
// at most kMaxFields fields (state_fields.h); machine_state.h bounds vCPUs, regions and devices.
// Decoding is linear in the file size, so the worst a crafted file costs is reading 4 MiB.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::snapshot {

inline constexpr uint64_t kStateMagic = 0x504e53524542'4d45ull;  // "EMBERSNP" little-endian
inline constexpr uint32_t kArchX86_64 = 0x8664;
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 1;  // 1.1: the MMDS section.
inline constexpr size_t kHeaderBytes = 24;
inline constexpr size_t kSectionHeaderBytes = 16;
inline constexpr size_t kCrcBytes = 8;
// A state file holds registers and device state, never guest memory. The largest Ember writes is
// 1.2 MB (decode_bounds_test): 32 vCPUs of at most ~33 KiB each (a 16 KiB xsave area with AMX
// tiles, 256 CPUID entries, the 255 MSRs one KVM_SET_MSRS takes, the fixed-size register structs)
// and at most 23 devices of a few KiB. 4 MiB leaves room for later state and refuses a crafted
// file early. (Firecracker bounds what bincode may allocate reading its state file to 10 MiB.)
inline constexpr size_t kMaxStateFileBytes = 4ull << 20;
// Creator, machine, VM, 32 vCPUs, the memory regions and devices machine_state.h allows, plus
// sections a later Ember adds.
inline constexpr size_t kMaxSections = 1024;

// Section flags.
inline constexpr uint32_t kSectionMustUnderstand = 1u << 0;

struct Section {
    uint32_t tag = 0;
    uint32_t flags = 0;
    std::vector<uint8_t> payload;
    size_t file_offset = 0;  // Where its header starts; set by decode, for describe().
};

struct StateFile {
    uint32_t arch = kArchX86_64;
    uint16_t major = kFormatMajor;
    uint16_t minor = kFormatMinor;
    std::vector<Section> sections;
};

std::vector<uint8_t> encode_state_file(const StateFile& file);
// Checks magic, architecture, major version, size, CRC and section bounds, in that order.
Result<StateFile> decode_state_file(std::span<const uint8_t> bytes);

// Whole-file I/O: write_state_file syncs the file before returning. read_state_file refuses
// anything but a regular file and reads at most kMaxStateFileBytes + 1 bytes whatever the file's
// size says, so a file that grows, or a device that never ends, cannot make it run on.
Result<void> write_state_file(const std::string& path, std::span<const uint8_t> bytes);
Result<std::vector<uint8_t>> read_state_file(const std::string& path);
// The bounded read behind read_state_file, for any fd: reads to EOF, refusing more than `limit`
// bytes after reading at most limit + 1 of them. `size_hint` (fstat's size) only sizes the buffer.
Result<std::vector<uint8_t>> read_at_most(const UniqueFd& fd, size_t size_hint, size_t limit,
                                          const std::string& path);

}  // namespace ember::snapshot
